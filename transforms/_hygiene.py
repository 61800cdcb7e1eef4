"""Shared helpers of the package-manager hygiene passes (DO105-DO109).

Not a pass (the leading underscore keeps it out of pass discovery).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Iterator

from dockeropt.analysis import BASE, resolve, workdirs
from dockeropt.edits import Edit
from dockeropt.rules import PassContext
from dockeropt.shell import Command, RunScript, Word, run_script
from dockeropt.syntax import Dockerfile, Instruction, Stage

# --------------------------------------------------------------------------- RUN scripts


def parsed_run(ins: Instruction) -> RunScript | None:
    """The shell model of a shell-form RUN the passes may edit: no heredocs, parsed cleanly."""
    if ins.keyword != "RUN" or ins.json or ins.heredocs:
        return None
    rs = run_script(ins)
    if rs is None or not rs.script.ok:
        return None
    return rs


def stage_runs(stage: Stage) -> Iterator[tuple[Instruction, RunScript]]:
    for ins in stage.body:
        rs = parsed_run(ins)
        if rs is not None:
            yield ins, rs


def word_end(rs: RunScript, word: Word) -> int:
    """Document offset just after ``word``."""
    return rs.physical(word.start, word.end).end


def insert_after(rs: RunScript, word: Word, text: str) -> Edit:
    """An edit inserting ``text`` (with a leading space) right after ``word``."""
    return Edit.insert(word_end(rs, word), " " + text)


def replace_word(rs: RunScript, word: Word, text: str) -> Edit | None:
    """Replace ``word``; None when the word spans a line continuation."""
    ins = rs.instruction
    if not ins.logical.is_contiguous(rs.base + word.start, rs.base + word.end):
        return None
    r = rs.physical(word.start, word.end)
    return Edit.replace(r.start, r.end, text)


def wrapper_prefix(rs: RunScript, cmd: Command) -> str:
    """The script text before the command's effective name (``sudo -E ``), or ''."""
    eff = cmd.effective()
    if not eff or not cmd.argv or eff[0] is cmd.argv[0]:
        return ""
    return rs.script.text[cmd.argv[0].start : eff[0].start]


def eff_args(cmd: Command) -> tuple[Word, ...]:
    """Effective argument words (after the command name)."""
    return cmd.effective()[1:]


def subcommand(cmd: Command, valueless: frozenset[str] = frozenset()) -> tuple[int, Word] | None:
    """Index (into eff_args) and word of the first non-option argument.

    Options before it must be in ``valueless`` (options that take no value),
    otherwise the subcommand cannot be told apart from an option value: None.
    """
    for i, w in enumerate(eff_args(cmd)):
        v = w.value
        if v is None:
            return None
        if v.startswith("-"):
            if v.split("=", 1)[0] in valueless or "=" in v:
                continue
            return None
        return i, w
    return None


def has_flag(words: tuple[Word, ...] | list[Word], *names: str) -> bool:
    """A flag among ``words``, as ``--x`` or ``--x=value``."""
    for w in words:
        v = w.value
        if v is None:
            continue
        if v in names or v.split("=", 1)[0] in names:
            return True
    return False


# --------------------------------------------------------------------------- mounts and environment


def cache_mount_targets(ins: Instruction) -> list[str]:
    """Targets of ``--mount=type=cache`` flags of a RUN (normalised; '?' when not literal)."""
    out: list[str] = []
    for value in ins.flag_values("mount"):
        fields: dict[str, str] = {}
        for part in value.split(","):
            k, _, v = part.partition("=")
            fields[k.strip().lower()] = v.strip().strip('"').strip("'")
        if fields.get("type") != "cache":
            continue
        target = fields.get("target") or fields.get("dst") or fields.get("destination") or ""
        out.append(posixpath.normpath(target) if target and "$" not in target else "?")
    return out


def mount_covers(targets: list[str], path: str) -> bool:
    """A cache mount is at ``path``, inside it, or above it (or cannot be resolved)."""
    path = posixpath.normpath(path)
    for t in targets:
        if t == "?":
            return True
        if t == path or path.startswith(t.rstrip("/") + "/") or t.startswith(path.rstrip("/") + "/"):
            return True
    return False


def parse_env(ins: Instruction) -> dict[str, str | None]:
    """Keys set by an ENV (or ARG with defaults) instruction; values None when not literal."""
    args = ins.args.strip()
    out: dict[str, str | None] = {}
    if not args:
        return out
    if ins.keyword == "ENV":
        first = re.split(r"\s+", args, maxsplit=1)
        if "=" not in first[0]:
            value = first[1].strip() if len(first) > 1 else ""
            out[first[0]] = None if "$" in value or "\\" in value else value
            return out
    try:
        words = shlex.split(args, posix=True)
    except ValueError:
        return {}
    raw_words = args.split()
    for w in words:
        k, eq, v = w.partition("=")
        if ins.keyword == "ARG" and not eq:
            out[k] = None
            continue
        out[k] = None if "$" in v or any("$" in r and r.startswith(k + "=") for r in raw_words) else v
    return out


def env_before(stage: Stage, before: Instruction, key: str) -> tuple[bool, str | None, Instruction | None]:
    """Is ``key`` set by an ENV in ``stage`` before ``before``? (set, value, the ENV instruction)."""
    found: tuple[bool, str | None, Instruction | None] = (False, None, None)
    for ins in stage.body:
        if ins.index >= before.index:
            break
        if ins.keyword == "ENV":
            env = parse_env(ins)
            if key in env:
                found = (True, env[key], ins)
    return found


def script_sets(rs: RunScript, key: str) -> bool:
    """The script exports/assigns ``key`` anywhere (prefix assignments included)."""
    for c in rs.script.commands:
        if any(a.text.startswith(key + "=") for a in c.assignments):
            return True
        if c.name in ("export", "declare", "typeset") and any(
            a is not None and (a == key or a.startswith(key + "=")) for a in c.args
        ):
            return True
    return key + "=" in rs.script.text


def do102_mounts(ctx: PassContext, manager: str) -> bool:
    """DO102 is running and adds a cache mount for catalog manager ``manager`` (``apk``, ``dnf``,
    ``pip``): adding a no-cache flag or a clean would fight it."""
    if not ctx.enabled("DO102"):
        return False
    from dockeropt.catalog.packages import catalog

    m = catalog().by_id.get(manager)
    return True if m is None else m.mount


# --------------------------------------------------------------------------- build context and copies


def command_cwd(stage: Stage, ins: Instruction, cmd: Command) -> str | None:
    """The folder ``cmd`` runs in (None: unknown)."""
    wd = workdirs(stage)
    run_cwd = wd.get(ins.index)
    if cmd.cwd is None:
        return run_cwd
    if cmd.cwd == "?":
        return None
    return resolve(run_cwd, cmd.cwd)


_GLOB = re.compile(r"[*?\[]")


def _is_dir_dest(dest: str) -> bool:
    return dest.endswith("/") or posixpath.basename(dest) in (".", "..") or dest in (".", "..")


def context_source_at(doc: Dockerfile, stage: Stage, before: Instruction, target: str, ctx: PassContext) -> str | None:
    """The build-context file that COPY/ADD instructions of ``stage`` place at ``target``
    (an absolute path, possibly ``$BASE``-relative) before ``before``; None when not proven.

    Only literal copies from the build context count; the file must exist in the
    context and not be excluded by .dockerignore. A later RUN mentioning the file's
    name (it may delete or rewrite it) voids the proof.
    """
    bc = ctx.context
    if bc is None:
        return None
    wd = workdirs(stage)
    found: str | None = None
    name = posixpath.basename(target)
    for ins in stage.body:
        if ins.index >= before.index:
            break
        if ins.keyword == "RUN" and found is not None and name in ins.args:
            found = None
            continue
        if ins.keyword not in ("COPY", "ADD") or ins.heredocs or ins.json:
            continue
        if ins.flag("from") is not None or ins.flag("parents") is not None or ins.flag("exclude") is not None:
            continue
        words = ins.words
        if len(words) < 2 or any("$" in w for w in words):
            continue
        srcs, dest = words[:-1], words[-1]
        dest_abs = resolve(wd.get(ins.index), dest)
        if dest_abs is None:
            continue
        dir_dest = _is_dir_dest(dest) or len(srcs) > 1
        for src in srcs:
            if ins.keyword == "ADD" and re.match(r"^[a-z]+://|^git@", src):
                continue
            hit = _copy_places(bc, src, dest_abs, dir_dest, target, wd.get(ins.index), ins.keyword)
            if hit is not None:
                found = hit
    return found


def _copy_places(bc, src: str, dest_abs: str, dir_dest: bool, target: str, cwd: str | None, keyword: str) -> str | None:  # type: ignore[no-untyped-def]
    src_n = posixpath.normpath(src).lstrip("/") or "."
    if src_n.startswith(".."):
        return None
    if _GLOB.search(src_n):
        parent = posixpath.dirname(src_n)
        if _GLOB.search(parent):
            return None
        pattern = posixpath.basename(src_n)
        base = posixpath.basename(target)
        if not dir_dest:
            return None  # a glob onto a file name: only valid with one match; not worth the guess
        if posixpath.normpath(posixpath.join(dest_abs, base)) != target or not fnmatch.fnmatchcase(base, pattern):
            return None
        cand = posixpath.join(parent, base) if parent else base
        return cand if bc.is_file(cand) else None
    if src_n == "." or bc.is_dir(src_n):
        if target == dest_abs or not target.startswith(dest_abs.rstrip("/") + "/"):
            return None
        rel = posixpath.relpath(target, dest_abs)
        cand = posixpath.normpath(posixpath.join(src_n, rel))
        return cand if bc.is_file(cand) else None
    if not bc.is_file(src_n):
        return None
    if keyword == "ADD" and re.search(r"\.(tar|tgz|gz|bz2|xz|zst|tbz2?|txz)$", src_n):
        return None
    if dir_dest:
        return src_n if posixpath.normpath(posixpath.join(dest_abs, posixpath.basename(src_n))) == target else None
    if dest_abs == target:
        return src_n
    # "COPY package-lock.json /app" where /app is the working folder: a folder in the image
    if cwd is not None and dest_abs == cwd and posixpath.join(dest_abs, posixpath.basename(src_n)) == target:
        return src_n
    return None


def target_path(cwd: str, name: str) -> str:
    return posixpath.normpath(posixpath.join(cwd, name))


def read_json(ctx: PassContext, rel: str) -> dict | None:  # type: ignore[type-arg]
    return ctx.context.read_json_object(rel) if ctx.context is not None else None


# --------------------------------------------------------------------------- base images


def _resolve_arg(doc: Dockerfile, ref: str) -> str | None:
    if "$" not in ref:
        return ref
    args: dict[str, str | None] = {}
    for ins in doc.preamble:
        if ins.keyword == "ARG":
            args.update(parse_env(ins))

    def sub(m: re.Match[str]) -> str:
        v = args.get(m.group(1) or m.group(2))
        if v is None:
            raise KeyError
        return v

    try:
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, ref)
    except KeyError:
        return None


def base_image(doc: Dockerfile, stage: Stage) -> str | None:
    """The stage's base image reference, following earlier stages and ARG defaults."""
    seen = 0
    while seen < 20:
        seen += 1
        ref = _resolve_arg(doc, stage.base)
        if ref is None:
            return None
        parent = doc.stage_named(ref) if not ref.isdigit() else None
        if parent is not None and parent.index < stage.index:
            stage = parent
            continue
        return ref
    return None


def node_major(doc: Dockerfile, stage: Stage) -> int | None:
    """The Node.js major version of an official ``node`` base image; 99 for lts/latest/current."""
    ref = base_image(doc, stage)
    if ref is None:
        return None
    ref = ref.split("@", 1)[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    if name.rsplit("/", 1)[-1] != "node":
        return None
    m = re.match(r"^(\d+)", tag)
    if m:
        return int(m.group(1))
    if re.match(r"^(lts|latest|current|alpine|slim|bookworm|bullseye|iron|jod|hydrogen)\b", tag):
        return 99
    return None


__all__ = ["BASE"]
