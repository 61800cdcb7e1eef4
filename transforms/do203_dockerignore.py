"""DO203 dockerignore."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from dockeropt.analysis import copy_spec, full_context_copy
from dockeropt.context import BuildContext, parse_dockerignore
from dockeropt.edits import Change, FileChange, Fix, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import analysis_script, parse_script
from dockeropt.syntax import Dockerfile, Instruction

_BUDGET = 200_000  # files and folders visited per check, at most (huge trees are capped)
_VENV_NAMES = (".venv", "venv", "env", ".virtualenv")
_ALWAYS_OUTPUT = (".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox")
# build outputs: ignored only when .gitignore says they are generated (a checked-in "build/" may be source)
_BUILD_OUTPUTS = ("dist", "build", "target", "coverage", ".next", ".nuxt")
_ENV_TEMPLATES = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults"})
_INSTALLERS = {"npm": ("install", "i", "ci", "clean-install"), "yarn": ("install", None), "pnpm": ("install", "i")}
_SCRIPT_RUNNERS = frozenset({"npm", "yarn", "pnpm", "make", "mvn", "mvnw", "gradle", "gradlew", "cargo", "go", "bun", "npx"})


@dataclass
class _Candidate:
    pattern: str  # the .dockerignore line
    path: str  # a context path it covers (for the checks)
    kind: str  # what it is, for the explanation
    size: int
    complete: bool  # False: the size walk hit its cap
    secret: bool = False  # an .env file: the app may read it at run time


class _Walker:
    def __init__(self) -> None:
        self.budget = _BUDGET

    def size(self, path: str) -> tuple[int, bool]:
        """Bytes under ``path`` (not following symlinks), and whether the walk finished."""
        total = 0
        stack = [path]
        while stack:
            p = stack.pop()
            self.budget -= 1
            if self.budget < 0:
                return total, False
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    stack.extend(os.path.join(p, n) for n in os.listdir(p))
                except OSError:
                    continue
            else:
                total += st.st_size
        return total, True

    def find_dirs(self, root: str, name: str, skip: set[str]) -> list[str]:
        """Folders called ``name`` anywhere below ``root`` (relative paths), not inside ``skip``."""
        out: list[str] = []
        for dirpath, dirnames, _ in os.walk(root):
            self.budget -= len(dirnames) + 1
            if self.budget < 0:
                break
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            keep = []
            for d in sorted(dirnames):
                rel = d if rel_dir == "." else f"{rel_dir}/{d}"
                if d == name:
                    out.append(rel)
                elif rel not in skip and d not in (".git", "node_modules"):
                    keep.append(d)
            dirnames[:] = keep
        return out


def _human(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _words(ins: Instruction, doc: Dockerfile) -> list[str]:
    """Path-like words an instruction may read from its working folder."""
    out: list[str] = []
    if ins.keyword == "RUN":
        script = analysis_script(ins, doc.text)
        if script is None or not script.ok:
            out.extend(ins.args.split())
            return out
        for c in script.commands:
            runner = c.name in _SCRIPT_RUNNERS
            for w in c.argv:
                v = w.value if w.value is not None else w.text
                if runner and "/" not in v:
                    continue  # `npm run build`, `make dist`: script and target names, not paths
                out.append(v)
        return out
    if ins.keyword in ("CMD", "ENTRYPOINT"):
        if ins.json:
            out.extend(ins.exec_args or ())
        else:
            script = parse_script(ins.args)
            out.extend((w.value or w.text) for c in script.commands for w in c.argv) if script.ok else out.extend(ins.args.split())
        return out
    if ins.keyword in ("ENV", "WORKDIR", "VOLUME", "ARG", "LABEL", "SHELL", "HEALTHCHECK", "ONBUILD"):
        for w in ins.args.replace("=", " ").replace(":", " ").split():
            out.append(w.strip("\"'[],"))
    return out


def _mentions(word: str, name: str) -> bool:
    w = word.strip("\"'")
    while w.startswith("./"):
        w = w[2:]
    return w == name or w.startswith(name + "/") or f"/{name}/" in w or w.endswith("/" + name) or f"={name}" in w


def _git_needed(doc: Dockerfile) -> bool:
    for ins in doc.walk():
        if ins.keyword != "RUN":
            continue
        script = analysis_script(ins, doc.text)
        if script is None or not script.ok:
            if "git" in ins.args:
                return True
            continue
        if any(c.name == "git" or "git" in (c.name or "") for c in script.commands):
            return True  # `git describe`, `git rev-parse` and friends read .git
        if any(".git" in (w.value or w.text) for c in script.commands for w in c.argv):
            return True
    return False


def _installs_node_modules(doc: Dockerfile) -> bool:
    for ins in doc.walk():
        script = analysis_script(ins, doc.text) if ins.keyword == "RUN" else None
        if script is None or not script.ok:
            continue
        for c in script.commands:
            subs = _INSTALLERS.get(c.name or "")
            if subs is None:
                continue
            first = next((a for a in c.args if a is None or not a.startswith("-")), None)
            if first in subs:
                return True
    return False


@register
class Dockerignore(Pass):
    """Keep .git, node_modules, virtualenvs, build outputs and .env files out of the build context.

    What it does:
        When the Dockerfile copies the whole build context (`COPY . .`), it
        creates or extends `.dockerignore` (or `<Dockerfile>.dockerignore`
        when that is the one in use) with what the context holds and the
        image does not need: `.git`, `node_modules` (when the Dockerfile
        installs its own), virtualenvs (`.venv`, `venv`, folders with
        `pyvenv.cfg`), caches (`__pycache__`, `.pytest_cache`…), build
        outputs that `.gitignore` marks as generated (`dist`, `build`,
        `target`, `coverage`) and `.env` files. The explanation gives the
        bytes measured in the context. Never ignored: anything a COPY/ADD
        names, a path a RUN, CMD, ENTRYPOINT or ENV mentions, `.git` when a
        RUN calls git (`git describe` for a version), `node_modules` when no
        RUN installs it, and anything a `!` line of the existing file
        re-includes.

    Why:
        Docker sends the whole context to the builder before the first step;
        a `.git` history or a local `node_modules` can be hundreds of
        megabytes, sent on every build. Copied into the image they also bloat
        it, bust the `COPY . .` cache whenever git or npm touch them, overwrite
        the dependencies the image installed with the host's (wrong platform)
        ones, and ship `.env` secrets to everyone who pulls the image.

    Example:
        # Dockerfile
        FROM node:20-slim
        WORKDIR /app
        COPY . .
        RUN npm ci
        CMD ["node", "server.js"]
        # new file .dockerignore
        # Added by dockeropt (DO203): not needed in the image
        .git
        node_modules

    Fix safety:
        Safe for everything the Dockerfile does not reference (checked as
        above). `.env` files are a separate fix marked review: an app that
        reads `.env` at run time must now get those settings from `docker run
        --env-file .env` or its orchestrator.
    """

    id = "DO203"
    name = "dockerignore"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        bc = ctx.context
        if bc is None:
            return []
        copies = [i for i in doc.walk() if full_context_copy(i) is not None]
        if not copies:
            return []
        rel, current = self._ignore_file(bc)
        cands = self._candidates(doc, bc, current)
        if not cands:
            return []
        out: list[Change] = []
        plain = [c for c in cands if not c.secret]
        secrets = [c for c in cands if c.secret]
        at = copies[0]
        for group, safety in ((plain, Safety.SAFE), (secrets, Safety.REVIEW)):
            if not group:
                continue
            new_text = self._extend(current, group)
            fc = FileChange(rel, new_text, created=current is None)
            size = sum(c.size for c in group)
            capped = not all(c.complete for c in group)
            listed = ", ".join(f"`{c.pattern}`" for c in group)
            amount = f"{'more than ' if capped else ''}{size:,} bytes" + (f" ({_human(size)})" if size >= 1024 else "")
            verb = "Creates" if current is None else "Extends"
            copy_text = " ".join(at.line_text().split())
            if safety == Safety.SAFE:
                title = f"{'Create' if current is None else 'Extend'} {rel} to shrink the build context"
                expl = (
                    f"{verb} {rel} with {listed}: `{copy_text}` sent {amount} of them to the builder on every build "
                    "and copied them into the image. Nothing in the Dockerfile reads them."
                )
            else:
                title = f"Keep {', '.join(c.pattern for c in group)} out of the image"
                expl = (
                    f"{verb} {rel} with {listed} ({amount}): `{copy_text}` copied them into the image, where anyone "
                    "who pulls it can read the settings and secrets they hold. If the app reads them at run time, "
                    "pass them with `docker run --env-file` or the orchestrator instead."
                )
            out.append(Change(self.id, self.name, title, expl, at.range, Fix((), safety, files=(fc,))))
        return out

    @staticmethod
    def _special_ignore_rel(bc: BuildContext) -> str | None:
        """Context-relative path of ``<Dockerfile>.dockerignore`` (None: outside the context)."""
        if bc.dockerfile is None:
            return None
        special = bc.dockerfile.parent / (bc.dockerfile.name + ".dockerignore")
        try:
            return special.resolve().relative_to(bc.root.resolve()).as_posix()
        except ValueError:
            return None

    @classmethod
    def _ignore_file(cls, bc: BuildContext) -> tuple[str, str | None]:
        """(context-relative path of the ignore file in use, its current text or None)."""
        if bc.dockerfile is not None:
            rel = bc.memo(("do203-special-ignore",), lambda: cls._special_ignore_rel(bc))
            if rel is not None:
                text = bc.read_raw(rel)
                if text is not None:
                    return rel, text
        return ".dockerignore", bc.read_raw(".dockerignore")

    @staticmethod
    def _extend(current: str | None, group: list[_Candidate]) -> str:
        lines = [c.pattern for c in group]
        if current is None:
            return "# Added by dockeropt (DO203): not needed in the image\n" + "\n".join(lines) + "\n"
        nl = "\r\n" if current.count("\r\n") > current.count("\n") - current.count("\r\n") else "\n"
        head = current if current.endswith("\n") or not current else current + nl
        return head + nl.join(["# Added by dockeropt (DO203)", *lines]) + nl

    def _candidates(self, doc: Dockerfile, bc: BuildContext, current: str | None) -> list[_Candidate]:
        root = str(bc.root)

        def listing() -> list[str] | None:
            try:
                return sorted(os.listdir(root))
            except OSError:
                return None

        names = bc.memo(("do203-listing",), listing)
        if names is None:
            return []
        patterns = parse_dockerignore(current or "")
        negations = [p for p in patterns if p.exclusion]
        gitignore = parse_dockerignore(bc.read_raw(".gitignore") or "")
        from dockeropt.context import is_ignored

        sources: list[str] = []
        words: list[str] = []
        for ins in doc.walk():
            spec = copy_spec(ins)
            if spec is not None:
                if spec.from_stage is None:
                    sources.extend(posixpath.normpath(s).lstrip("/") for s in spec.sources if "://" not in s)
                continue
            words.extend(_words(ins, doc))

        def referenced(path: str) -> bool:
            top = path.split("/", 1)[0]
            for s in sources:
                if s == ".":
                    continue
                if s == path or s.startswith(path + "/") or path.startswith(s + "/") or fnmatch.fnmatch(path, s) or fnmatch.fnmatch(top, s):
                    return True
            return any(_mentions(w, top) or _mentions(w, path) for w in words)

        def negated(path: str) -> bool:
            for p in negations:
                body = posixpath.normpath(p.text[1:].strip()).lstrip("/")
                if p.regex.match(path) or body == path or body.startswith(path + "/") or body.startswith("**"):
                    return True
            return False

        walker = _Walker()
        out: list[_Candidate] = []

        def add(pattern: str, path: str, kind: str, secret: bool = False) -> None:
            if bc.ignored(path) or negated(path) or referenced(path):
                return
            size, complete = bc.memo(("do203-size", path), lambda: walker.size(os.path.join(root, path)))
            out.append(_Candidate(pattern, path, kind, size, complete, secret))

        dirs = bc.memo(
            ("do203-dirs",),
            lambda: {n for n in names if os.path.isdir(os.path.join(root, n)) and not os.path.islink(os.path.join(root, n))},
        )
        if ".git" in names and not _git_needed(doc):
            add(".git", ".git", "git history")
        if "node_modules" in dirs and _installs_node_modules(doc):
            add("node_modules", "node_modules", "installed node packages")
        for n in sorted(dirs):
            if n in _VENV_NAMES or os.path.isfile(os.path.join(root, n, "pyvenv.cfg")):
                if n in _VENV_NAMES and not os.path.isfile(os.path.join(root, n, "pyvenv.cfg")) and n == "env":
                    continue  # "env" without pyvenv.cfg may be anything
                add(n, n, "virtualenv")
        for n in _ALWAYS_OUTPUT:
            if n in dirs:
                add(n, n, "cache")
        skip = frozenset(c.path for c in out)
        pycache = bc.memo(("do203-pycache", skip), lambda: walker.find_dirs(root, "__pycache__", set(skip)))
        if pycache and not bc.ignored(pycache[0]) and not negated("__pycache__") and not referenced("__pycache__"):
            size = 0
            complete = True
            for p in pycache:
                s, ok = bc.memo(("do203-size", p), lambda p=p: walker.size(os.path.join(root, p)))
                size += s
                complete = complete and ok
            out.append(_Candidate("**/__pycache__", pycache[0], "bytecode cache", size, complete))
        for n in _BUILD_OUTPUTS:
            if n in dirs and (is_ignored(gitignore, n) or is_ignored(gitignore, n + "/x")):
                add(n, n, "build output")
        for n in names:
            if (n == ".env" or n.startswith(".env.")) and n not in _ENV_TEMPLATES and os.path.isfile(os.path.join(root, n)):
                add(n, n, "environment file", secret=True)
        return out

