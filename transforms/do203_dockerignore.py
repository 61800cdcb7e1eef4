"""DO203 dockerignore."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from dockeropt.context import BuildContext, digest, is_ignored, parse_dockerignore
from dockeropt.edits import Change, FileChange, Safety
from dockeropt.model import ImageModel
from dockeropt.model import ecosystems as eco
from dockeropt.model.deps import ContextView
from dockeropt.model.runs import Action
from dockeropt.model.runtime import dependency_names, source_files
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import parse_script
from dockeropt.syntax import Dockerfile, Instruction

_BUDGET = 200_000  # files and folders visited per check, at most (huge trees are capped)


@dataclass
class _Candidate:
    pattern: str  # the .dockerignore line
    path: str  # a context path it covers (for the checks)
    kind: str  # what it is, for the explanation
    size: int
    complete: bool  # False: the size walk hit its cap
    group: str = "plain"  # plain | docs | secret


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


def _words(m: ImageModel, ins: Instruction, runners: frozenset[str]) -> list[str]:
    """Path-like words an instruction may read from its working folder (``runners``: catalog ``script_runners``)."""
    out: list[str] = []
    if ins.keyword == "RUN":
        facts = m.run(ins)
        script = facts.script if facts is not None else None
        if script is None or not script.ok:
            out.extend(ins.args.split())
            return out
        for c in script.commands:
            runner = c.name in runners
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


@register
class Dockerignore(Pass):
    """Keep .git, node_modules, virtualenvs, build outputs, docs, tests and secrets out of the build context.

    What it does:
        When the Dockerfile copies the whole build context (`COPY . .`), it
        creates or extends `.dockerignore` (or `<Dockerfile>.dockerignore`
        when that is the one in use) with what the context holds and the
        image does not need: `.git` and other VCS folders, the Dockerfile and
        compose files, `node_modules` (when the Dockerfile installs its own),
        virtualenvs (`.venv`, `venv`, folders with `pyvenv.cfg`), caches
        (`__pycache__`, `.pytest_cache`…), build outputs that `.gitignore`
        marks as generated (`dist`, `build`, `target`, `coverage`) when a
        RUN builds (a build tool or a package script: the build makes them
        again; without one they are what the image runs); as a
        separate review fix, documentation (`*.md`, `docs/`) and test folders;
        and, as another review fix, `.env` files and registry credentials
        (`.npmrc`/`.pypirc` holding a token). The explanation gives the bytes
        measured in the context. Never ignored: anything a COPY/ADD names, a
        path a RUN, CMD, ENTRYPOINT or ENV mentions, `.git` when a RUN calls
        git, a package script it runs does, or a Python project it installs
        takes its version from git (setuptools-scm, hatch-vcs…),
        `node_modules` when no RUN installs it, tests when a RUN runs them,
        docs folders when a RUN builds a docs site whose generator reads
        them by itself (mkdocs, Docusaurus), a file a manifest names
        (`readme = "README.md"`) or the app's source mentions, a token file an install reads (a note says how to
        pass it as a build secret), a `.env` file the app loads at run time
        (its source uses dotenv, python-dotenv, godotenv…, the start
        command has `--env-file`, or its manifests list a framework that
        loads it by itself: Laravel, Symfony's Dotenv, dotenv-rails,
        Next.js, `flask run` with python-dotenv; a note says how to pass
        the settings instead), a `.env` file a front-end build reads (Vite,
        Create React App, Vue CLI or Nuxt in the manifests of a project a
        RUN runs a script of), and anything a `!` line re-includes.

    Why:
        Docker sends the whole context to the builder before the first step;
        a `.git` history or a local `node_modules` can be hundreds of
        megabytes, sent on every build. Copied into the image they also bloat
        it, bust the `COPY . .` cache whenever git or npm touch them, overwrite
        the dependencies the image installed with the host's (wrong platform)
        ones, and ship `.env` secrets and registry tokens to everyone who pulls
        the image. A runtime stage that copies the app folder whole relies on
        this file to keep out what is not the app.

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
        above). Documentation and tests are a separate fix marked review (the
        app might read one at run time); so are `.env` files and token files:
        an app that reads `.env` at run time in a way dockeropt does not see
        must now get those settings from `docker run --env-file .env` or its
        orchestrator.
    """

    id = "DO203"
    name = "dockerignore"
    messages = {
        "context": Message(
            "{verb} {file} to shrink the build context",
            "{verb_s} {file} with {listed}: `{copy}` sent {amount} of them to the builder on every build and copied them into "
            "the image. Nothing in the Dockerfile reads them.",
        ),
        "docs": Message(
            "Keep documentation and tests out of the image",
            "{verb_s} {file} with {listed} ({amount}): `{copy}` copied them into the image, and nothing in the Dockerfile, "
            "the manifests or the app's source names them. Check that the app does not read them at run time.",
        ),
        "secrets": Message(
            "Keep {names} out of the image",
            "{verb_s} {file} with {listed} ({amount}): `{copy}` copied them into the image, where anyone who pulls it can "
            "read the settings and secrets they hold. If the app reads them at run time, pass them with `docker run "
            "--env-file` or the orchestrator instead.",
        ),
        "env_loaded": Message(
            "`{name}` goes into the image: the app loads it at run time",
            "`{copy}` copies `{name}` into the image, where anyone who pulls it can read the settings and secrets it "
            "holds, but {loader} loads it when the app starts, so leaving it out would change what the app runs with. "
            "Pass the settings with `docker run --env-file {name}` or the orchestrator instead, then add `{name}` to {file}.",
        ),
        "env_build": Message(
            "`{name}` stays in the build context: the build reads it",
            "`{copy}` sends `{name}` to the build, and {loader} reads it while `{run}` runs, writing its values into "
            "what the build produces, so leaving it out would change that output. Values a front-end build reads end "
            "up in the bundle anyway: keep secrets out of `{name}`, pass build settings as build arguments, then add "
            "`{name}` to {file}.",
        ),
        "token_needed": Message(
            "`{name}` with a registry token goes into the image",
            "`{copy}` copies `{name}`, which holds a registry token, and the install on line {line} reads it, so it "
            "cannot simply be left out. Pass it as a build secret instead (`RUN --mount=type=secret,id={secret_id},"
            "target={target} ...` and `docker build --secret id={secret_id},src={name}`) and add `{name}` to {file}.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        bc = ctx.context
        if bc is None:
            return []
        m = ctx.model(doc)
        copies = [ins for ins in doc.instructions if (cf := m.copy(ins)) is not None and cf.whole_context]
        if not copies:
            return []
        rel, current = self._ignore_file(bc)
        cands, notes = self._candidates(m, doc, bc, current, copies[0])
        out: list[Change] = list(notes)
        at = copies[0]
        copy_text = " ".join(at.line_text().split())
        for group, key, safety in (("plain", "context", Safety.SAFE), ("docs", "docs", Safety.REVIEW), ("secret", "secrets", Safety.REVIEW)):
            items = [c for c in cands if c.group == group]
            if not items:
                continue
            # each group extends the file as it is; the pipeline applies one change to a file per round
            fc = FileChange(rel, self._extend(current, items), created=current is None)
            size = sum(c.size for c in items)
            capped = not all(c.complete for c in items)
            amount = f"{'more than ' if capped else ''}{size:,} bytes" + (f" ({_human(size)})" if size >= 1024 else "")
            verb = "Create" if current is None else "Extend"
            out.append(self.say(
                key, at, files=[fc], safety=safety, verb=verb, verb_s=verb + "s", file=rel,
                listed=", ".join(f"`{c.pattern}`" for c in items), copy=copy_text, amount=amount,
                names=", ".join(c.pattern for c in items),
            ))
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

    def _candidates(self, m: ImageModel, doc: Dockerfile, bc: BuildContext, current: str | None,
                    at: Instruction) -> tuple[list[_Candidate], list[Change]]:
        root = str(bc.root)

        def listing() -> list[str] | None:
            try:
                return sorted(os.listdir(root))
            except OSError:
                return None

        names = bc.memo(("do203-listing",), listing)
        if names is None:
            return [], []
        rules = eco.context_rules()
        patterns = parse_dockerignore(current or "")
        negations = [p for p in patterns if p.exclusion]
        gitignore = parse_dockerignore(bc.read_raw(".gitignore") or "")

        sources: list[str] = []
        words: list[str] = []
        runners = frozenset(rules["script_runners"])
        for ins in doc.instructions:
            cf = m.copy(ins)
            if ins.keyword in ("COPY", "ADD"):
                if cf is not None and cf.from_context:
                    sources.extend(posixpath.normpath(s).lstrip("/") for s in cf.sources if "://" not in s)
                elif cf is None and ins.flag("from") is None:
                    sources.extend(w for w in ins.words[:-1])
                continue
            words.extend(_words(m, ins, runners))

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

        def add(pattern: str, path: str, kind: str, group: str = "plain") -> None:
            if bc.ignored(path) or negated(path) or referenced(path):
                return
            size, complete = bc.memo(("do203-size", path), lambda: walker.size(os.path.join(root, path)))
            out.append(_Candidate(pattern, path, kind, size, complete, group))

        dirs = bc.memo(
            ("do203-dirs",),
            lambda: {n for n in names if os.path.isdir(os.path.join(root, n)) and not os.path.islink(os.path.join(root, n))},
        )
        actions = [a for _ins, f in ((i, m.run(i)) for i in doc.instructions) if f is not None for a in f.actions]
        script_runs = _ScriptRuns(m, bc)  # read on first use, by the .git, docs and .env checks below
        git_needed = any(a.tool == "git" or "git" in (a.command.name or "") or any(".git" in (w.value or w.text) for w in a.command.argv)
                         for a in actions) or any(m.run(i) is None or m.run(i).script is None for i in doc.instructions  # type: ignore[union-attr]
                                                  if i.keyword == "RUN" and "git" in i.args)
        if ".git" in names and not git_needed:
            git_needed = self._build_reads_git(m, bc, actions, script_runs, rules["vcs_readers"])
        for n in rules["vcs"]:
            if n in names and not (n == ".git" and git_needed):
                add(n, n, "version control")
        if "node_modules" in dirs and any(a.ecosystem == "node" and a.installs and a.verb != "global" for a in actions):
            add("node_modules", "node_modules", "installed node packages")
        venvs = rules["virtualenvs"]
        for n in sorted(dirs):
            marked = os.path.isfile(os.path.join(root, n, venvs["marker"]))
            if marked or (n in venvs["names"] and n not in venvs["needs_marker"]):
                add(n, n, "virtualenv")
        for n in rules["tool_caches"]:
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
        # a build output the build does not make again is what the image runs (built on the host before
        # `docker build`): only with a RUN that builds (a build tool, a package script) can it stay out
        rebuilds = any(a.verb in rules["build_verbs"] for a in actions)
        for n in rules["build_outputs"]:
            if rebuilds and n in dirs and (is_ignored(gitignore, n) or is_ignored(gitignore, n + "/x")):
                add(n, n, "build output")
        docker_rx = re.compile(rules["docker_files_regex"])
        if out or current is not None:  # not worth a new .dockerignore alone: the builder reads the Dockerfile anyway
            for n in names:
                if n not in dirs and docker_rx.match(n) and n != ".dockerignore":
                    add(n, n, "Docker build file")
        # documentation and tests: unless something names them
        needed = self._needed_names(m, bc, names, rules)
        md = [n for n in names if n not in dirs and fnmatch.fnmatch(n, rules["docs_glob"])]
        if md and not any(n in needed or referenced(n) for n in md) and not bc.ignored(md[0]):
            size = sum(bc.memo(("do203-size", n), lambda n=n: walker.size(os.path.join(root, n)))[0] for n in md)
            out.append(_Candidate(rules["docs_glob"], md[0], "documentation", size, True, "docs"))
        docs_built = any(n in dirs for n in rules["docs"]) and self._builds_docs(actions, script_runs, rules["docs_builders"])
        for n in rules["docs"]:
            if n in dirs and n not in needed and not docs_built:
                add(n, n, "documentation", "docs")
        test_dirs = [n for n in rules["tests"] if n in dirs and n not in needed]
        # whether the build runs tests is read only when there is a test folder to leave out (every action of every RUN)
        if test_dirs and not any(a.verb == "test" or _runs_tests(a, rules)
                                 or (a.ecosystem == "node" and "test" in [w.value for w in a.command.argv[1:3]])
                                 for a in actions):
            for n in test_dirs:
                add(n, n, "tests", "docs")
        notes: list[Change] = []
        loader: tuple[str, str | None] | None | bool = False  # False: not looked for yet
        for n in names:
            if (n == ".env" or n.startswith(".env.")) and n not in rules["env_templates"] and os.path.isfile(os.path.join(root, n)):
                if loader is False:
                    loader = self._env_file_loader(m, bc, script_runs, rules)
                if loader is None:
                    add(n, n, "environment file", "secret")
                elif not bc.ignored(n):
                    who, build_run = loader
                    copy = " ".join(at.line_text().split())
                    if build_run is None:
                        notes.append(self.say("env_loaded", at, name=n, copy=copy, loader=who, file=".dockerignore"))
                    else:
                        notes.append(self.say("env_build", at, name=n, copy=copy, loader=who, run=build_run,
                                              file=".dockerignore"))
        for n, rx in rules["token_files"].items():
            if n not in names or n in dirs:
                continue
            text = bc.read_text(n) or ""
            if not re.search(rx, text, re.M):
                continue
            reader = self._token_reader(m, n)
            if reader is None:
                add(n, n, "registry credentials", "secret")
            elif not bc.ignored(n):
                f = m.run(reader)
                target = posixpath.join(f.actions[0].project or "/", n) if f is not None and f.actions else n
                notes.append(self.say("token_needed", at, name=n, copy=" ".join(at.line_text().split()), line=reader.start_line,
                                      secret_id=n.lstrip(".").replace(".", "-"), target=target, file=".dockerignore"))
        return out, notes

    @staticmethod
    def _needed_names(m: ImageModel, bc: BuildContext, names: list[str], rules: dict) -> set[str]:
        """Top-level names a manifest or the app's source mentions (README.md in pyproject's readme, a docs folder it serves)."""
        rt = m.runtime
        rel = rt.app_context_dir if rt is not None and rt.app_context_dir else "."
        blob, words = _source_words(bc, rel, names, rules)
        out: set[str] = set()
        for n in names:
            stem = n.rsplit(".", 1)[0]
            if _mentioned(n, blob, words) or (n in rules["docs"] and n in blob and re.search(rf"['\"/]{re.escape(n)}['\"/]", blob)):
                out.add(n)
            elif stem and n.endswith(".md") and stem in blob and re.search(rf"['\"]{re.escape(stem)}['\"]", blob):
                out.add(n)
        return out

    @staticmethod
    def _env_file_loader(m: ImageModel, bc: BuildContext, script_runs: _ScriptRuns,
                         rules: dict) -> tuple[str, str | None] | None:
        """What reads a .env file, as (who, the build step that reads it or None for the app at run time): a start
        command word (``node --env-file=.env``), a source file that loads one (dotenv, python-dotenv, godotenv;
        catalog ``env_file_loaders``), or a framework the app's manifests list that reads it without a call in the
        app's source (Laravel, Next.js; Vite while a RUN runs a project script; catalog ``env_file_frameworks``).
        None when nothing shows."""
        rt = m.runtime
        if rt is not None:
            words = (*(rt.start.argv or ()), *(rt.start.program or ()))
            hit = next((w for w in words if any(w == x or w.startswith(x + "=") for x in rules["env_file_start_words"])), None)
            if hit is not None:
                return f"the start command (`{hit}`)", None
        rel = rt.app_context_dir if rt is not None and rt.app_context_dir else "."
        files = tuple(source_files(bc, rel, (".js", ".ts", ".mjs", ".cjs", ".py", ".rb", ".go", ".php")))
        loaders = tuple(rules["env_file_loaders"])

        def scan() -> str | None:
            patterns = [re.compile(rx, re.M) for rx in loaders]
            return next((path for path, text in files if any(rx.search(text) for rx in patterns)), None)

        # every round and every LSP version asks again: the scan is kept per content, as the other source facts are
        path = bc.content_memo(("do203-env-loader", digest(files), loaders), scan)
        if path is not None:
            return path, None
        frameworks = rules["env_file_frameworks"]
        deps = rt.dependencies if rt is not None else frozenset()
        program = tuple(posixpath.basename(w) for w in (rt.start.program or ())) if rt is not None else ()
        for f in frameworks:
            if f["reads"] != "run" or f["package"] not in deps:
                continue
            need = tuple(f.get("start_words", ()))
            if need and not any(program[i:i + len(need)] == need for i in range(len(program))):
                continue
            return f"{f['label']} (`{f['package']}` in the app's manifests)", None
        # a build step that runs one of the project's scripts (npm run build, npx vite build) reads it there
        for a, folder, found in script_runs.get():
            f = next((f for f in frameworks if f["reads"] == "build" and f["package"] in found), None)
            if f is not None:
                manifest = ContextView(bc, folder).path("package.json")
                return f"{f['label']} (`{f['package']}` in {manifest})", " ".join(w.text for w in a.command.argv)
        return None

    @staticmethod
    def _build_reads_git(m: ImageModel, bc: BuildContext, actions: list[Action], script_runs: _ScriptRuns,
                         readers: dict) -> bool:
        """Does the build read .git without a RUN naming git? A Python install of a project whose packaging takes
        its version from git (setuptools-scm, hatch-vcs…), or a package script a RUN runs that calls git
        (catalog ``vcs_readers``)."""
        if any(a.ecosystem == "python" and a.installs for a in actions):
            rt = m.runtime
            folders = {".", rt.app_context_dir or "."} if rt is not None else {"."}
            rx = re.compile("|".join(readers["python_patterns"]))
            for folder in folders:
                view = ContextView(bc, folder)
                for name in readers["python_manifests"]:
                    text = view.read(name)
                    if text and rx.search(text):
                        return True
        script_rx = re.compile(readers["script_pattern"])
        for a, folder, _deps in script_runs.get():
            pkg = bc.read_json_object(ContextView(bc, folder).path("package.json"))
            scripts = pkg.get("scripts") if pkg else None
            if not isinstance(scripts, dict):
                continue
            words = [w.value for w in a.command.effective()[1:]]
            after_run = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("run", "run-script")), None)
            name = after_run if after_run is not None else (words[0] if words and a.tool != "npx" else None)
            # the script run, with its pre/post hooks; a name dockeropt cannot read: any script
            texts = ([scripts.get(k) for k in (name, "pre" + name, "post" + name)] if name else list(scripts.values()))
            if any(isinstance(v, str) and script_rx.search(v) for v in texts):
                return True
        return False

    @staticmethod
    def _builds_docs(actions: list[Action], script_runs: _ScriptRuns, builders: dict) -> bool:
        """Does a RUN build a docs site whose generator reads the docs folder by itself (``mkdocs build``,
        ``npm run build`` of a Docusaurus project; catalog ``docs_builders``)?"""
        programs = set(builders["programs"])
        for a in actions:
            words = [posixpath.basename(w.value) for w in a.command.effective()[:3] if w.value]
            if words and (words[0] in programs or (len(words) > 2 and words[1] == "-m" and words[2] in programs)
                          or (words[0] == "npx" and len(words) > 1 and words[1] in programs)):
                return True
        packages = set(builders["packages"])
        return any(packages & found for _a, _f, found in script_runs.get())

    @staticmethod
    def _token_reader(m: ImageModel, name: str) -> Instruction | None:
        """An install that reads ``name`` from its project folder (npm/yarn/pnpm read .npmrc; pip/twine .pypirc)."""
        eco_of = {".npmrc": "node", ".pypirc": "python"}.get(name)
        for ins in m.doc.instructions:
            f = m.run(ins)
            if f is None:
                continue
            if any(a.ecosystem == eco_of and a.installs for a in f.actions):
                return ins
        return None


def _runs_tests(a: Action, rules: dict) -> bool:
    """Does the command run tests: a test command among its first words (``python -m pytest``, ``bundle exec
    rspec``), or a runner with a test target (``make test``, ``./gradlew check``; catalog ``test_runners``)?"""
    words = [posixpath.basename(w.value) for w in a.command.effective()[:4] if w.value]
    if any(w in rules["test_commands"] for w in words):
        return True
    return bool(words) and words[0] in rules["test_runners"] and any(w in rules["test_targets"] for w in words[1:])


class _ScriptRuns:
    """RUN actions that run a script of a node project from the build context (``npm run build``, ``npx vite``):
    (action, the project's context folder, the package names its manifests list); found on first use."""

    def __init__(self, m: ImageModel, bc: BuildContext) -> None:
        self._m, self._bc = m, bc
        self._found: list[tuple[Action, str, set[str]]] | None = None

    def get(self) -> list[tuple[Action, str, set[str]]]:
        if self._found is None:
            m = self._m
            self._found = []
            for ins in m.doc.instructions:
                facts = m.run(ins)
                if facts is None:
                    continue
                for a in facts.actions:
                    if a.ecosystem != "node" or a.verb != "run" or not a.project:
                        continue
                    folder = m.context_source(ins.stage_index, a.project, ins.index)
                    if folder is not None:
                        folder = folder.strip("/") or "."
                        self._found.append((a, folder, dependency_names(self._bc, folder)))
        return self._found


_WORD = re.compile(r"[\w.-]+")


def _source_words(bc: BuildContext, rel: str, names: list[str], rules: dict) -> tuple[str, frozenset[str]]:
    """The manifests' and the app source's text, and which of ``names`` it holds as a word (see :func:`_mentioned`)."""
    texts: list[str] = []
    globs = tuple(rules["manifest_globs"])
    for n in names:
        if n in rules["manifests"] or n.endswith(globs):
            t = bc.read_text(n)
            if t:
                texts.append(t)
    for _p, t in source_files(bc, rel, (".js", ".ts", ".mjs", ".cjs", ".py", ".rb", ".go", ".java", ".php", ".rs")):
        texts.append(t)
    blob = "\n".join(texts)
    wanted = frozenset(names)
    return blob, bc.content_memo(("do203-words", digest(texts), digest(sorted(wanted))), lambda: _word_set(blob, wanted))


def _word_set(blob: str, wanted: frozenset[str]) -> frozenset[str]:
    """The names in ``wanted`` that are a word of ``blob`` or a word's part before one of its dots."""
    words: set[str] = set()
    for w in _WORD.findall(blob):
        words.add(w)
        dot = w.find(".", 1)
        while dot != -1:  # `README.md.bak` and `docs.tar` mention README.md and docs too
            words.add(w[:dot])
            dot = w.find(".", dot + 1)
    return frozenset(words & wanted)


def _mentioned(name: str, blob: str, words: frozenset[str]) -> bool:
    """Does ``blob`` hold ``name`` with no word character or dot before it and no word character or dash after it?
    (``words``: the names of interest that are words of ``blob``, from :func:`_word_set`.)

    For a name made of word characters, dots and dashes that is exactly: a maximal run of those
    characters is the name, or starts with the name followed by a dot; other names are searched."""
    if _WORD.fullmatch(name):
        return name in words
    return name in blob and re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", blob) is not None

