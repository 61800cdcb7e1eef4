"""What every DO201 planner needs: runtime packages, users, start-up tools, owners and launchers."""

from __future__ import annotations

import json
import posixpath
import re

from dockeropt.catalog import catalog
from dockeropt.catalog.images import full_image_tools, lookup, tools_missing_in_slim
from dockeropt.model import ecosystems as eco
from dockeropt.model.images import base_image
from dockeropt.model.runs import Action
from dockeropt.model.users import ROOT, User
from dockeropt.shell import parse_script
from dockeropt.syntax import Instruction

from ._runtime_stage_analysis import Blocked, StageRead, under
from ._runtime_stage_edit import Plan


def release(text: str) -> tuple[int, int] | None:
    """(major, minor) of a version such as ``1.19``, ``3.12.1`` or ``2024.0`` (None when it is not all numbers)."""
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def add(items: list[str], *new: str) -> None:
    for x in new:
        if x not in items:
            items.append(x)


def runtime_packages(r: StageRead, plan: Plan) -> None:
    """The build's system packages as the runtime needs them: -dev packages become their runtime libraries, build-only ones stay behind."""
    distro = r.info.distro if r.info else None
    dropped: list[str] = []
    own = set(eco.spec(r.ecosystem).get("build_only_packages", ()))  # node-gyp's python3 on a node image
    started = {prog for prog, _ in (r.m.runtime.started if r.m.runtime is not None else ())}
    for p, _ins in r.packages:
        if started & set(eco.package_tools(p)):
            add(plan.packages, p)  # git on the build image, and the app's source starts git: the runtime keeps it
            continue
        libs = () if p in own else eco.runtime_libraries(p, plan.pm, distro)
        if libs is None:
            add(plan.packages, p)
            plan.checks.append(f"`{p}` stays in the runtime because its runtime library is not in dockeropt's catalog")
            continue
        if not libs:
            add(dropped, p)
            continue
        add(plan.packages, *libs)
        if libs != (p,):
            add(dropped, p)
            plan.checks.append(f"`{' '.join(libs)}` replaces `{p}` in the runtime")
    if dropped:
        plan.leaves.append("the build packages " + ", ".join(dropped))


def native_packages(plan: Plan, libs: list[str], why: str) -> None:
    new = [x for x in libs if x not in plan.packages]
    if new:
        add(plan.packages, *new)
        plan.checks.append(f"{', '.join(new)} {'is' if len(new) == 1 else 'are'} installed in the runtime for {why}")


def copy_context_then(plan: Plan, artifacts: list[str]) -> None:
    """Repeat the stage's copies from the build context in the runtime, then copy ``artifacts`` over them.

    The build wrote the artifact after the context was copied, so a stale file at the same path in the context
    (a binary or jar built on the developer's machine) was overwritten; the runtime keeps that order."""
    plan.context_copies = True
    for c in artifacts:
        if c in plan.copies:
            plan.copies.remove(c)
        plan.after_copies.append(c)


def app_change(r: StageRead) -> Instruction | None:
    """The first RUN that changes the app folder after the source arrived (``echo … > config.json``, ``chmod 600
    key.pem``, ``sed -i``): the build context does not hold that change, the build stage does."""
    if not r.app_changed:
        return None
    return next((ins for ins, path in r.fs_writes if inside_app(r, path)), None)


def app_folder_or_context(r: StageRead, plan: Plan, artifacts: list[str], why: str) -> None:
    """The app folder reaches the runtime beside the compiled ``artifacts`` (``why``: what reads it there).

    From the build context as before (then the artifacts over it), or, when a RUN changed the folder after the
    source arrived, whole from the build stage, which holds that change and the artifacts built into the folder."""
    changed = app_change(r)
    if changed is None:
        copy_context_then(plan, artifacts)
        plan.checks.append(f"the app folder is copied from the build context as before ({why})")
        return
    for c in artifacts:
        if c in plan.copies:
            plan.copies.remove(c)
    plan.after_copies.extend(app_dir_copies(r, "{build}"))
    # an artifact built into an app folder comes with it; one built elsewhere (-o /usr/local/bin/app) still needs its copy
    plan.after_copies.extend(c for c in artifacts if not inside_app(r, c.split()[-1]))
    plan.checks.append(f"the app folder comes whole from the build stage ({why}, and line {changed.start_line} changes files in it "
                       "after the source arrived)")


def command_text(r: StageRead, act_ins: Instruction, action: Action) -> str:
    """The command as written in its RUN."""
    f = r.m.run(act_ins)
    assert f is not None and f.script is not None
    return f.script.text[action.command.start : action.command.end]


def owner_flag(r: StageRead, path: str) -> str:
    """``--chown=uid:gid`` that keeps the owner a path had in the build stage (empty for root or unknown)."""
    u = r.m.owner(r.node.index, path)
    if u is None or u.is_root is not False:
        return ""
    return f" --chown={u.numeric}" if u.numeric else (f" --chown={u.spec}" if u.spec else "")


def check_user(r: StageRead, plan: Plan) -> None:
    """The USER of the stage must exist in the runtime base (or be created by a RUN the runtime repeats)."""
    u = r.user
    if u is None or u.spec is None or u.is_root:
        return
    if "$" in u.spec:
        raise Blocked("sets USER from a variable, which may not exist in the runtime base", _user_ins(r))
    name = u.spec.partition(":")[0]
    if name.isdigit():
        return
    rt = base_image(plan.base)
    if name in rt.accounts:
        return
    created = _created_users(r)
    if name in created:
        if not plan.shell:
            raise Blocked(f"runs as `{name}`, a user a RUN creates; {plan.base} has no shell to create it", _user_ins(r),
                          "Use a numeric USER")
        return
    raise Blocked(f"runs as `{name}`, a user of the build image that {plan.base} may not have", _user_ins(r),
                  "Create the user in a RUN of its own, or use a numeric USER")


def _user_ins(r: StageRead) -> Instruction | None:
    return next((i for i in reversed(r.moved) if i.keyword == "USER"), None)


def _created_users(r: StageRead) -> set[str]:
    from dockeropt.model.users import accounts_created

    out: set[str] = set()
    for ins in r.user_runs:
        f = r.m.run(ins)
        if f is not None and f.script is not None:
            made, _ = accounts_created(f.script, ins.index)
            out.update(a.name for a in made)
    return out


def start_tools(r: StageRead, plan: Plan, family: str | None) -> None:
    """Tools the CMD, ENTRYPOINT and HEALTHCHECK call that the runtime base lacks: installed there, or the split is declined."""
    _image_tools(r, plan)
    missing = tools_missing_in_slim(family) if family else frozenset()
    for ins in (r.start.entrypoint, r.start.cmd, r.healthcheck):
        if ins is None:
            continue
        for name in _commands_of(ins):
            base = posixpath.basename(name)
            if base.endswith(".sh") or base in ("sh", "bash", "dash"):
                raise Blocked(f"starts through `{name}`, a shell script dockeropt does not follow", ins,
                              "Start the program directly, or split the stage by hand")
            if base in missing:
                pkgs = eco.tool_packages(base, plan.pm)
                if pkgs is None or not plan.shell or plan.pm is None:
                    raise Blocked(f"runs `{base}`, which {plan.base} does not have", ins)
                add(plan.packages, *pkgs)
                plan.checks.append(f"{' '.join(pkgs)} {'is' if len(pkgs) == 1 else 'are'} installed for the `{base}` the {ins.keyword} runs")
    _source_tools(r, plan, missing)


def _image_tools(r: StageRead, plan: Plan) -> None:
    """``COPY --from=<image>`` of a program: one only the stage's RUNs use stays in the build stage (uv, composer);
    one the start, the health check or the app's source uses (tini, a wget for the probe), or that no RUN uses, is
    copied into the runtime as well, before the app (it changes rarely)."""
    if not r.image_copies:
        return
    run_names = {a.command.name for _ins, f in r.m.stage_runs(r.node.index) for a in f.actions if a.command.name}
    # what the runtime starts: the plan's CMD/ENTRYPOINT where it replaced them (`uv run app.py` -> `python app.py`)
    starts: list[str] = []
    if plan.cmd is not None:
        starts += plan.cmd[:1] if isinstance(plan.cmd, list) else [c.name or "" for c in parse_script(plan.cmd).commands]
    elif r.start.cmd is not None and not plan.drop_cmd:
        starts += _commands_of(r.start.cmd)
    if plan.entrypoint is not None:
        starts += plan.entrypoint[:1]
    elif r.start.entrypoint is not None and not plan.drop_entrypoint:
        starts += _commands_of(r.start.entrypoint)
    if r.healthcheck is not None:
        starts += _commands_of(r.healthcheck)
    start_names = {posixpath.basename(n) for n in starts if n}
    start_names |= {posixpath.basename(prog) for prog, _ in (r.m.runtime.started if r.m.runtime is not None else ())}
    lines: list[str] = []
    for ins, cf in r.image_copies:
        names = {posixpath.basename(x.rstrip("/")) for s in cf.sources for x in (s, cf.target_of(s))}
        if names & run_names and not names & start_names:
            continue  # a build tool: the runtime does not run it
        if cf.chown is not None and not re.fullmatch(r"\d+(:\d+)?", cf.chown):
            raise Blocked(f"copies {', '.join(cf.sources)} from {cf.from_image} with --chown={cf.chown}, a user the runtime "
                          f"base ({plan.base}) may not have", ins, "Write the --chown as numeric uid:gid")
        lines.append(" ".join(ins.logical.text.split()))
    plan.copies[:0] = lines
    if lines:
        images = ", ".join(dict.fromkeys(cf.from_image or "" for _i, cf in r.image_copies))
        plan.checks.append(f"the copy from {images} also reaches the runtime" if len(lines) == 1 else
                           f"the copies from {images} also reach the runtime")


def _source_tools(r: StageRead, plan: Plan, missing: frozenset[str]) -> None:
    """Programs the app's source starts by name (``exec.Command("git", ...)``) that the runtime base lacks: installed
    there when the runtime has a package manager and the catalog knows the package, or the split is declined."""
    started = r.m.runtime.started if r.m.runtime is not None else ()
    if not started:
        return
    interpreter = str(eco.spec(r.ecosystem).get("runtime_program") or "")
    lacks = missing | full_image_tools()
    have = {t for pkg in plan.packages for t in eco.package_tools(pkg)}
    anchor = r.start.cmd or r.start.entrypoint
    for prog, where in started:
        if (interpreter and prog.startswith(interpreter)) or prog in have:
            continue
        if not plan.shell:
            raise Blocked(f"starts `{prog}` from its source ({where}), and {plan.base} has no `{prog}` (no shell or system tools)",
                          anchor, f"Install `{prog}` in a runtime stage of your own, or split the stage by hand")
        if prog not in lacks:
            continue
        pkgs = eco.tool_packages(prog, plan.pm)
        if not pkgs or plan.pm is None:
            raise Blocked(f"starts `{prog}` from its source ({where}), which {plan.base} does not have", anchor,
                          f"Install `{prog}` in a runtime stage of your own, or split the stage by hand")
        add(plan.packages, *pkgs)
        have.update(prog for pkg in pkgs for prog in eco.package_tools(pkg))
        plan.checks.append(f"{' '.join(pkgs)} {'is' if len(pkgs) == 1 else 'are'} installed for the `{prog}` the app starts ({where})")


def start_programs(ins: Instruction) -> list[str]:
    """The programs a CMD, ENTRYPOINT or HEALTHCHECK runs, as written (``sh -c`` scripts read through)."""
    return _commands_of(ins)


def _commands_of(ins: Instruction) -> list[str]:
    if ins.keyword == "HEALTHCHECK":
        mm = re.match(r"^\s*((--\S+\s+)*)(CMD|NONE)\b\s*(.*)$", ins.args, re.I | re.S)
        if not mm or mm.group(3).upper() == "NONE":
            return []
        rest = mm.group(4)
        argv = None
        if rest.lstrip().startswith("["):
            try:
                argv = json.loads(rest)
            except ValueError:
                argv = None
        text = rest if argv is None else " ".join(argv)
    elif ins.json:
        argv = list(ins.exec_args or ())
        if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
            text = argv[2]
        else:
            return argv[:1]
    else:
        text = ins.args
    script = parse_script(text)
    if not script.ok:
        return re.findall(r"[A-Za-z0-9_./-]+", text)[:1]
    return [c.name for c in script.commands if c.name]


def strip_launcher(r: StageRead, words: tuple[str, ...]) -> str | list[str] | None:
    """The start command with a launcher prefix (``poetry run``, ``pipenv run``, ``uv run``) removed.

    Exec form gives a list, shell form (or ``sh -c``) the text; None when the
    command does not start with ``words``.
    """
    ins = r.start.entrypoint if r.start.entrypoint is not None and r.start.cmd is None else r.start.cmd
    if ins is None or (r.start.entrypoint is not None and r.start.cmd is not None):
        return None
    n = len(words)
    if ins.json:
        argv = list(ins.exec_args or ())
        if [posixpath.basename(argv[0])] + argv[1:n] == list(words) if argv else False:
            rest = argv[n:]
            while rest and rest[0].startswith("-"):
                if rest[0] in ("--no-dev", "--frozen", "--locked", "--no-sync", "--quiet", "-q", "--offline"):
                    rest = rest[1:]
                    continue
                return None
            return rest or None
        if len(argv) == 3 and posixpath.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
            inner = _strip_text(argv[2], words)
            return [argv[0], argv[1], inner] if inner is not None else None
        return None
    inner = _strip_text(ins.args, words)
    return inner


def _strip_text(text: str, words: tuple[str, ...]) -> str | None:
    m = re.match(r"^(\s*(?:exec\s+)?)" + r"\s+".join(re.escape(w) for w in words) + r"\s+(?:--(?:no-dev|frozen|locked|no-sync|quiet|offline)\s+)*(\S.*)$", text, re.S)
    if not m:
        return None
    rest = m.group(2)
    if re.match(r"^-", rest):
        return None
    return m.group(1) + rest


def is_root(u: User | None) -> bool:
    return u is None or u.spec is None or u.is_root is True or u == ROOT


def app_dir_copies(r: StageRead, source: str) -> list[str]:
    """``COPY --from=<source>`` lines for every app folder (owners kept)."""
    return [f"COPY --from={source}{owner_flag(r, d)} {d} {d}" for d in r.app_dirs]


def image_of(ref: str):  # type: ignore[no-untyped-def]
    return lookup(ref)


def inside_app(r: StageRead, path: str) -> bool:
    return any(under(path, d) for d in r.app_dirs)


__all__ = [
    "add", "app_change", "app_dir_copies", "app_folder_or_context", "check_user", "command_text", "image_of", "inside_app", "is_root", "native_packages", "owner_flag",
    "runtime_packages", "start_programs", "start_tools", "strip_launcher",
]


def runtime_files(r: StageRead, ecosystem: str, rel: str | None, exts: tuple[str, ...]) -> str | None:
    """Why the app folder must reach the runtime beside a compiled artifact (None: the artifact is all it needs).

    The folder goes whole (never a list of today's files) when the source reads
    files by relative path, or when the folder holds anything besides the
    ecosystem's build files (templates, config, static assets).
    """
    ctx = r.context
    if ctx is None or rel is None:
        return "no build context was given, so the files beside the artifact could not be checked"
    from dockeropt.model.runtime import source_files

    embedded: set[str] = set()  # top-level names the source compiles into the artifact (//go:embed templates/*)
    for path, text in source_files(ctx, rel, exts):
        if any(rx.search(text) for rx in eco.patterns(ecosystem, "reads_files")):
            return f"{path} reads files beside the program"
        if posixpath.dirname(path) != (rel if rel not in (".", "") else ""):
            continue  # a directive in a subpackage names files relative to that package's folder
        for rx in eco.patterns(ecosystem, "embeds_files"):
            for mm in rx.finditer(text):
                for word in mm.group(1).split():
                    word = word.strip('"`')
                    word = word[4:] if word.startswith("all:") else word
                    if word:
                        embedded.add(word.split("/", 1)[0])
    build = eco.patterns(ecosystem, "build_files")
    extra = [n for n in ctx.listdir(rel) if not ctx.ignored(n if rel in (".", "") else f"{rel}/{n}") and not any(rx.match(n) for rx in build)
             and n not in embedded]
    if extra:
        return f"the app folder also holds {', '.join(sorted(extra)[:3])}"
    return None


def base_text_for(written: str, resolved: str | None, new: str) -> str | None:
    """What to write in a FROM line for ``new`` when the original FROM was ``written`` (resolved to ``resolved``).

    A literal base gives ``new``. A base whose tag is one ARG (``node:${V}``)
    gives ``node:${V}-slim`` when ``new`` is the resolved reference plus a
    suffix, so ``--build-arg V=...`` still picks the matching variant; None
    when ``new`` cannot follow the ARG (another repository, another tag shape).
    """
    if "$" not in written:
        return new
    resolved = resolved or ""
    if resolved and new.startswith(resolved) and re.fullmatch(r"[^$:]+:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", written):
        suffix = new[len(resolved) :]
        if re.fullmatch(r"-[a-z0-9.-]+", suffix):
            return written + suffix
    return None


def without_packages(r: StageRead, ins: Instruction, names: set[str]) -> Instruction | str:
    """The RUN as written, minus the system packages ``names`` its installs name (the RUN itself when none)."""
    f = r.m.run(ins)
    if f is None or f.editable is None:
        return ins
    cut: list[tuple[int, int]] = []
    for a in f.actions:
        if a.tool not in catalog().runtime_stage_managers or a.verb != "install":
            continue
        for w in a.command.effective()[1:]:
            if w.value in names:
                cut.append((w.start, w.end))
    if not cut:
        return ins
    text = r.m.doc.text
    out: list[str] = []
    pos = ins.range.start
    for start, end in sorted(cut):
        rng = f.editable.physical(start, end)
        lead = rng.start
        while lead > pos and text[lead - 1] in " \t":
            lead -= 1
        out.append(text[pos:lead])
        pos = rng.end
    out.append(text[pos : ins.range.end])
    return "".join(out)
