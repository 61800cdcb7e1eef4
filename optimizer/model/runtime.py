"""What the final image runs: its start command, launcher, port, protocol and routes.

Read from the final stage (ENTRYPOINT/CMD inherited through FROM-stage
chains as BuildKit does: a stage that sets ENTRYPOINT drops the CMD it
inherited), the app's manifests and source files in the build context, and
``catalog/runtime.json`` (launchers, servers, frameworks, source patterns).

Every fact says where it comes from, and is None where dockeropt cannot tell:
a pass writes a probe, a port or a protocol only from a known fact.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from dockeropt.context import BuildContext, digest
from dockeropt.model import ecosystems
from dockeropt.model.users import User
from dockeropt.model.values import Env, expand, variables_in
from dockeropt.shell import parse_script
from dockeropt.syntax import Instruction


@cache
def _data() -> dict[str, Any]:
    return json.loads(resources.files("dockeropt.catalog").joinpath("runtime.json").read_text(encoding="utf-8"))


def runtime_catalog() -> dict[str, Any]:
    """``catalog/runtime.json``, read once (launchers, servers, frameworks, probes, inits, non-root facts)."""
    return _data()


@dataclass(frozen=True)
class StartCommand:
    """The command the container starts."""

    entrypoint: Instruction | None  # the ENTRYPOINT in effect (maybe from an earlier stage)
    cmd: Instruction | None  # the CMD in effect (None after an ENTRYPOINT reset it, or when none is set)
    argv: tuple[str, ...] | None  # entrypoint + cmd words when they are literal; None when a shell is needed
    shell_form: bool  # the effective command is shell form (``/bin/sh -c``)
    launcher: str | None  # npm, yarn, pnpm, npx, uv, poetry, pipenv, bundle, ... (catalog)
    script: str | None  # the package.json script the launcher runs (npm start -> "start")
    program: tuple[str, ...] | None  # what actually runs: the launcher resolved (package.json scripts) or argv
    program_text: str | None  # the resolved command as text (a package.json script may need a shell)
    cwd: str | None = None  # where the program runs, relative to the app folder (a workspace's folder); None: the app folder

    @property
    def known(self) -> bool:
        return self.entrypoint is not None or self.cmd is not None


@dataclass(frozen=True, slots=True)
class Port:
    number: int | None  # the default number, when known
    env: str | None  # the variable the app reads it from (PORT), when it reads one
    source: str  # "EXPOSE" | "ENV" | "command" | "argument" (a bare number the app gets) | "source" | "image" | "server default"
    where: str  # for explanations: the line or file it was read from


@dataclass(frozen=True)
class RuntimeFacts:
    """The final image's runtime, as far as the model knows it."""

    start: StartCommand
    user: User
    workdir: str | None
    exposed: tuple[Port, ...]  # EXPOSE lines (tcp only)
    listen: Port | None  # the port the app listens on, with its variable when it reads one
    protocol: str | None  # "http" | "fastcgi" | "grpc" | None (unknown)
    protocol_reason: str | None  # why dockeropt thinks so
    frameworks: tuple[str, ...]  # framework ids (catalog) found in the manifests
    routes: tuple[str, ...]  # routes the app's source defines
    health_routes: tuple[str, ...]  # routes fit for a health probe: the source's or the framework's own
    volumes: tuple[str, ...]
    app_context_dir: str | None  # the build-context folder holding the app (relative), when known
    started: tuple[tuple[str, str], ...] = ()  # (program, source file): programs the app's source starts by name
    # (path as written, source file): files the app's source writes by a literal path (catalog writes_patterns)
    writes: tuple[tuple[str, str], ...] = ()
    dependencies: frozenset[str] = frozenset()  # package names the app's manifests list (lower case)

    def probe_port_text(self, env: Env | None = None) -> str | None:
        """The port to probe as shell text: ``${PORT:-3000}`` when the app reads PORT, else the number."""
        if self.listen is None:
            return None
        if self.listen.env:
            default = self.listen.number
            if env is not None:
                v = env.value(self.listen.env)
                if v and v.isdigit():
                    default = int(v)
            if default is None:
                return None
            return f"${{{self.listen.env}:-{default}}}"
        return str(self.listen.number) if self.listen.number is not None else None


# --------------------------------------------------------------------------- the start command


def _words(ins: Instruction | None, shell: tuple[str, ...]) -> tuple[tuple[str, ...] | None, bool]:
    if ins is None:
        return (), False
    if ins.json:
        return tuple(ins.exec_args or ()), False
    text = ins.args.strip()
    if not text:
        return (), True
    if re.search(r"[$`|&;<>(){}*?~\\\n]", text):
        return None, True
    script = parse_script(text)
    if not script.ok or len(script.commands) != 1 or not script.items or not script.items[0].simple:
        return None, True
    c = script.commands[0]
    if c.assignments or any(w.value is None for w in c.argv):
        return None, True
    try:
        return tuple(shlex.split(text)), True
    except ValueError:
        return None, True


def launch_words(ins: Instruction | None) -> tuple[tuple[str, ...] | None, bool]:
    """(argv, shell_form) of a CMD/ENTRYPOINT; argv None when the shell form needs a real shell."""
    return _words(ins, ("/bin/sh", "-c"))


# (the option's value, where the workspace globs are when not in package.json, what the value may name) -> folder
Workspace = Callable[[str, str | None, tuple[str, ...]], str | None]


def start_command(entrypoint: Instruction | None, cmd: Instruction | None, scripts: Callable[[str], dict[str, str] | None],
                  has_file: Callable[[str], bool], workspace: Workspace | None = None) -> StartCommand:
    """What the container starts. ``scripts(folder)`` reads the package.json scripts of a folder relative to the
    app folder ("" = the app folder), ``has_file`` tells whether a file exists there, ``workspace`` resolves
    the value of a launcher's workspace option to a folder (see :func:`resolve_launcher`)."""
    ep_words, ep_shell = launch_words(entrypoint)
    cmd_words, cmd_shell = launch_words(cmd)
    if entrypoint is not None and ep_shell:
        argv = ep_words  # a shell-form ENTRYPOINT ignores CMD
        shell_form = True
    elif entrypoint is not None:
        argv = (ep_words or ()) + (cmd_words or ()) if cmd_words is not None else None
        shell_form = cmd_shell and cmd is not None
    else:
        argv = cmd_words
        shell_form = cmd_shell
    launcher = script = cwd = None
    program: tuple[str, ...] | None = argv
    program_text: str | None = " ".join(argv) if argv else None
    if argv is None:
        shell_ins = entrypoint if entrypoint is not None and ep_shell else cmd
        program_text = shell_ins.args.strip() if shell_ins is not None else None
    if argv:
        resolved = resolve_launcher(argv, scripts, has_file, workspace)
        if resolved is not None:
            launcher, script, program, program_text, cwd = resolved
    return StartCommand(entrypoint, cmd, argv, shell_form, launcher, script, program, program_text, cwd)


class Launch(NamedTuple):
    """A launcher resolved: what it runs and where."""

    launcher: str
    script: str | None  # the package.json script it runs (npm start -> "start"); None for an environment launcher
    program: tuple[str, ...] | None  # the command it runs; None when that needs a shell or cannot be told
    program_text: str | None
    cwd: str | None = None  # the folder the script runs in, relative to the project (a workspace's); None: the project


def resolve_launcher(argv: tuple[str, ...], scripts: Callable[[str], dict[str, str] | None],
                     has_file: Callable[[str], bool], workspace: Workspace | None = None) -> Launch | None:
    """The launcher ``argv`` starts with (catalog ``launchers``), resolved; None when it names none.

    A package.json script launcher (``npm run S``) is resolved through ``scripts(folder)``. Its catalog
    ``options`` say which other words it reads: a workspace option (``npm start -w packages/api``, or before
    the command: ``pnpm --filter web start``) runs the script of that workspace's package.json in its folder
    (``workspace`` resolves the value to one folder; ``yarn workspace web start`` names it between the
    command word and the script), and the words after the argument separator (``--``) are appended to the
    script. ``program`` is None when the script needs a shell or is not in the table, or a word after the
    script is one dockeropt does not read. A leading option it cannot resolve to one workspace leaves the
    command unresolved (None).
    """
    prog = posixpath.basename(argv[0])
    for spec in _data()["launchers"]:
        if prog != spec["program"]:
            continue
        opts: dict[str, Any] = spec.get("options", {})
        lead = _leading_workspace(argv, opts, workspace)
        if lead is None:
            continue
        start, lead_folder = lead
        words = spec["words"]
        if list(argv[start : start + len(words)]) != words:
            continue
        if spec.get("scripts"):
            at = start + len(words) if spec.get("script") else spec.get("script_at", 99) + start - 1
            name = spec.get("script") or (argv[at] if len(argv) > at else None)
            if name is None or name.startswith("-"):
                continue
            rest = argv[at:] if spec.get("script") else argv[at + 1:]
            args = _script_args(rest, opts, workspace if lead_folder is None else None)
            if args is None:
                return Launch(spec["program"], name, None, None)
            folder, extra = args
            folder = folder or lead_folder
            if "workspace_word" in opts:  # yarn workspace web start: the workspace is named between the words and the script
                folder = _workspace_folder(workspace, argv[start + opts["workspace_word"] - 1], opts)
                if folder is None:
                    return Launch(spec["program"], name, None, None)
            table = scripts(folder or "")
            text = table.get(name) if table else None
            if text is None and spec.get("default_start") and name == "start" and table is not None:
                default = spec["default_start"]
                if has_file(posixpath.join(folder or "", default.split()[-1])):
                    text = default
            program = _split_simple(text) if text else None
            if text and extra:
                text = f"{text} {shlex.join(extra)}"
                program = program + extra if program is not None else None
            return Launch(spec["program"], name, program, text, folder)
        rest = list(argv[spec["after"]:])
        while rest and rest[0].startswith("-"):
            rest.pop(0)  # launcher options (uv run --no-dev)
        return Launch(spec["program"], None, (tuple(rest) if rest else None), (" ".join(rest) if rest else None))
    return None


def _workspace_folder(workspace: Workspace | None, value: str, opts: dict[str, Any]) -> str | None:
    """The folder a launcher's workspace option names, read with its catalog options; None when unknown."""
    if workspace is None:
        return None
    return workspace(value, opts.get("workspace_file"), tuple(opts.get("workspace_match", ("path", "name"))))


def _option_value(words: tuple[str, ...], i: int, flags: list[str]) -> tuple[str, int] | None:
    """(the value, the index after it) when ``words[i]`` is one of ``flags`` (``-w x``, ``--workspace=x``)."""
    flag, eq, value = words[i].partition("=") if words[i].startswith("--") else (words[i], "", "")
    if flag not in flags:
        return None
    if eq:
        return value, i + 1
    return (words[i + 1], i + 2) if i + 1 < len(words) else None


def _leading_workspace(argv: tuple[str, ...], opts: dict[str, Any], workspace: Workspace | None
                       ) -> tuple[int, str | None] | None:
    """(where the launcher's command words start, the workspace folder the options before them select);
    None when such an option cannot be resolved to one folder."""
    if opts.get("workspace_at") != "before":
        return 1, None
    i, folder = 1, None
    while i < len(argv):
        got = _option_value(argv, i, opts.get("workspace", []))
        if got is None:
            break
        if folder is not None or workspace is None:
            return None  # more than one workspace
        folder = _workspace_folder(workspace, got[0], opts)
        if folder is None:
            return None
        i = got[1]
    return i, folder


def _script_args(rest: tuple[str, ...], opts: dict[str, Any], workspace: Workspace | None
                 ) -> tuple[str | None, tuple[str, ...]] | None:
    """(the workspace folder, the words passed on to the script) of the words after a script name; None when a
    word is not one the launcher's catalog ``options`` name, or the workspace cannot be resolved to one folder."""
    flags: list[str] = opts.get("workspace", []) if opts.get("workspace_at", "after") == "after" else []
    sep: str | None = opts.get("args_after")
    folder: str | None = None
    i = 0
    while i < len(rest):
        if sep is not None and rest[i] == sep:
            return folder, tuple(rest[i + 1:])
        got = _option_value(rest, i, flags)
        if got is None or folder is not None or workspace is None:
            return None
        folder = _workspace_folder(workspace, got[0], opts)
        if folder is None:
            return None
        i = got[1]
    return folder, ()


def _split_simple(text: str) -> tuple[str, ...] | None:
    if re.search(r"[$`|&;<>(){}*?~\\\n]", text):
        return None
    try:
        return tuple(shlex.split(text))
    except ValueError:
        return None


# --------------------------------------------------------------------------- ports


def exposed_ports(instructions: list[Instruction], env_at: Callable[[Instruction], Env]) -> list[Port]:
    out: list[Port] = []
    for ins in instructions:
        if ins.keyword != "EXPOSE":
            continue
        env = env_at(ins)
        for w in ins.words:
            var = variables_in(w)
            v = expand(w, env)
            if v is None:
                out.append(Port(None, var[0] if var else None, "EXPOSE", f"line {ins.start_line}"))
                continue
            num, _, proto = v.partition("/")
            if proto and proto.lower() != "tcp":
                continue
            if "-" in num or not num.isdigit():
                continue
            out.append(Port(int(num), var[0] if var else None, "EXPOSE", f"line {ins.start_line}"))
    return out


def _server(argv: tuple[str, ...] | None) -> dict[str, Any] | None:
    if not argv:
        return None
    prog = posixpath.basename(argv[0])
    for spec in _data()["servers"]:
        rx = spec.get("programs_regex")
        if not (prog == spec["program"] or (rx and re.match(rx, prog))):
            continue
        words = spec.get("words", [])
        if list(argv[1 : 1 + len(words)]) != words:
            continue
        return spec
    return None


def _flag(argv: tuple[str, ...], names: list[str], one_dash_equals: bool = False) -> str | None:
    """The value of the first of ``names`` in ``argv`` (``--port 80``, ``--port=80``); with ``one_dash_equals``
    also ``-port=80`` (Go's flag package takes one dash or two)."""
    for i, w in enumerate(argv):
        for n in names:
            if w == n and i + 1 < len(argv):
                return argv[i + 1]
            if w.startswith(n + "=") and (one_dash_equals or n.startswith("--")):
                return w[len(n) + 1 :]
    return None


def command_port(text: str | None, argv: tuple[str, ...] | None) -> Port | None:
    """The port a server's command line sets (``--bind 0.0.0.0:$PORT``, ``--port 8000``), or its default."""
    words: tuple[str, ...] | None = argv
    if words is None and text:
        try:
            words = tuple(shlex.split(text))
        except ValueError:
            words = None
        if words and posixpath.basename(words[0]) in ("sh", "bash") and len(words) > 2 and words[1] == "-c":
            try:
                words = tuple(shlex.split(words[2]))
            except ValueError:
                words = None
        # `exec gunicorn ...`, `cd x && gunicorn ...`: look at the last command
        if words:
            parts = [list(g) for g in _split_on(words, ("&&", ";", "||"))]
            words = tuple(parts[-1]) if parts else words
            while words and words[0] in ("exec",):
                words = words[1:]
    spec = _server(words)
    if not words:
        return None
    if spec is None:
        return _app_flag_port(words)
    value = None
    if spec.get("port_positional"):
        rest = [w for w in words[1 + len(spec.get("words", [])) :] if not w.startswith("-")]
        value = rest[0] if rest else None
    if value is None and spec.get("bind_flags"):
        b = _flag(words, spec["bind_flags"])
        if b is not None:
            value = b.rsplit(":", 1)[-1] if ":" in b else None
    if value is None and spec.get("port_flags"):
        value = _flag(words, spec["port_flags"])
    if value is None:
        return Port(spec.get("port"), None, "server default", f"{spec['program']}'s default")
    return _port_value(value)


def _port_value(value: str) -> Port | None:
    """A start command's port value: a number, or ``$PORT`` / ``${PORT:-8080}`` (the variable and its default)."""
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-(\d+))?\}?", value)
    if m:
        return Port(int(m.group(2)) if m.group(2) else None, m.group(1), "command", "the start command")
    if value.isdigit():
        return Port(int(value), None, "command", "the start command")
    return None


def _app_flag_port(words: tuple[str, ...]) -> Port | None:
    """The port an app of its own takes from a flag of its start command (``node server.js --port 9000``,
    ``./server -addr :9090``; catalog ``app_port_flags``): the app chose it over its default and EXPOSE."""
    flags = _data()["app_port_flags"]
    value = None
    b = _flag(words[1:], flags["bind"], one_dash_equals=True)
    if b is not None and ":" in b:
        value = b.rsplit(":", 1)[-1]
    if value is None:
        value = _flag(words[1:], flags["port"], one_dash_equals=True)
    if value is None:
        # `python app.py 9000`: a bare number handed to the app may be its port (sys.argv[1]); the model checks it against EXPOSE
        start = 2 if re.fullmatch(flags["interpreters_regex"], posixpath.basename(words[0])) else 1
        nums = [w for w in words[start:] if w.isdigit() and 80 <= int(w) <= 65535]
        return Port(int(nums[0]), None, "argument", f"the start command's argument {nums[0]}") if nums else None
    return _port_value(value)


def _split_on(words: tuple[str, ...], ops: tuple[str, ...]) -> Iterator[list[str]]:
    cur: list[str] = []
    for w in words:
        if w in ops:
            if cur:
                yield cur
            cur = []
        else:
            cur.append(w)
    if cur:
        yield cur


def server_spec(argv: tuple[str, ...] | None) -> dict[str, Any] | None:
    """The catalog entry of the server ``argv`` starts (``servers`` in runtime.json), or None."""
    return _server(argv)


def server_protocol(argv: tuple[str, ...] | None) -> str | None:
    spec = _server(argv)
    if spec is None or argv is None:
        return None
    tls = spec.get("tls_flags", ())
    if any(w in tls or any(w.startswith(f + "=") for f in tls) for w in argv):
        return "https"
    return spec.get("protocol")


def image_server(family: str | None, flavor: str | None) -> dict[str, Any] | None:
    for spec in _data()["images"]:
        if spec["family"] == family and spec.get("flavor", flavor) == flavor:
            return spec
    return None


# --------------------------------------------------------------------------- the app's source

_MAX_FILES = 1500
_MAX_BYTES = 512 * 1024
_MAX_TOTAL_BYTES = 32 << 20  # of all the source files' text together
_MAX_ENTRIES = 200_000  # files looked at in one walk


def source_files(context: BuildContext, rel: str, exts: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(path, text) of source files under ``rel`` with one of ``exts`` (bounded walk, .dockerignore honoured).

    The folders are walked once per set of files the context shows (``BuildContext.files_memo``),
    whatever the passes, rounds and extensions asking; each file is read once per such set. The
    list stops after ``_MAX_FILES`` matching files or ``_MAX_TOTAL_BYTES`` of their text, and the
    walk after ``_MAX_ENTRIES`` files, so a huge context costs a bounded time."""
    return iter(context.files_memo(("source-files", rel or ".", exts), lambda: tuple(_sources(context, rel, exts))))


def _sources(context: BuildContext, rel: str, exts: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    seen = 0
    total = 0
    for p in context.walk_memo(("source-paths", rel or "."), lambda: tuple(_walk(context, rel))):
        if not p.endswith(exts):
            continue
        seen += 1
        if seen > _MAX_FILES:
            return
        text = context.read_text(p, limit=_MAX_BYTES)
        if text is not None:
            total += len(text)
            if total > _MAX_TOTAL_BYTES:
                return
            yield p, text


def _walk(context: BuildContext, rel: str) -> Iterator[str]:
    """Every file under ``rel`` the context shows, outside dependency, build and test folders, in walk order."""
    n = 0
    skip = frozenset(ecosystems.context_rules()["not_source"])
    stack = [rel or "."]
    while stack:
        d = stack.pop()
        for name in sorted(context.listdir(d), reverse=True):
            p = name if d in (".", "") else f"{d}/{name}"
            if context.ignored(p):
                continue
            if context.is_dir(p):
                if name not in skip and not name.startswith("."):
                    stack.append(p)
                continue
            n += 1
            if n > _MAX_ENTRIES:
                return
            yield p


def dependency_names(context: BuildContext, rel: str) -> set[str]:
    """Package names the app's manifests list (package.json, requirements, pyproject, Pipfile, Gemfile, pom, gradle, composer)."""
    names: set[str] = set()

    def path(n: str) -> str:
        return n if rel in (".", "") else f"{rel}/{n}"

    pkg = context.read_json_object(path("package.json"))
    if pkg:
        for key in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
            deps = pkg.get(key)
            if isinstance(deps, dict):
                names.update(str(k).lower() for k in deps)
    name = ecosystems.package_name("python")
    for n in context.listdir(rel or "."):
        if re.match(r"^requirements.*\.(txt|in)$", n) or n in ("constraints.txt",):
            text = context.read_text(path(n)) or ""
            for line in text.splitlines():
                m = re.match(rf"^\s*({name})", line)
                if m and not line.lstrip().startswith("-"):
                    names.add(m.group(1).lower().replace("_", "-"))
    for n, rx in (("pyproject.toml", rf"""^\s*["']?({name})["']?\s*(?:[=<>~!\[;,"'@]|$)"""),
                  ("Pipfile", rf"""^\s*["']?({name})["']?\s*="""),
                  ("Gemfile", r"""^\s*gem\s+["']([^"']+)["']"""),
                  ("pom.xml", r"""<artifactId>\s*([^<\s]+)\s*</artifactId>"""),
                  ("build.gradle", r"""['"][\w.-]+:([\w.-]+)(?::[^'"]*)?['"]"""),
                  ("build.gradle.kts", r"""['"][\w.-]+:([\w.-]+)(?::[^'"]*)?['"]""")):
        text = context.read_text(path(n))
        if text:
            names.update(m.group(1).lower().replace("_", "-") for m in re.finditer(rx, text, re.M))
    py = context.read_text(path("pyproject.toml"))
    if py:
        # PEP 621 arrays, also written on one line: dependencies = ["flask==3.0.3", "gunicorn"]
        for block in re.finditer(r"""^\s*(?:dependencies|[A-Za-z0-9_-]+)\s*=\s*\[(.*?)\]""", py, re.M | re.S):
            for q in re.finditer(rf"""["']\s*({name})""", block.group(1)):
                names.add(q.group(1).lower().replace("_", "-"))
    comp = context.read_json_object(path("composer.json"))
    if comp:
        req = comp.get("require")
        if isinstance(req, dict):
            names.update(str(k).lower() for k in req)
    return names


def frameworks_of(deps: set[str]) -> list[dict[str, Any]]:
    return [f for f in _data()["frameworks"] if any(p.lower() in deps for p in f["packages"])]


def written_paths(text: str, ecosystem: str) -> list[str]:
    """Files ``text`` (source of ``ecosystem``) writes by a literal path: ``open("x", "w")``,
    ``sqlite3.connect("data/app.db")``, ``fs.writeFileSync('out.json')`` (catalog ``writes_patterns``).
    In-memory and URI databases (``:memory:``, ``file:...``) are not files."""
    out: list[str] = []
    for rx in _writes_patterns().get(ecosystem, ()):
        for m in rx.finditer(text):
            path = m.group(1)
            if path and ":" not in path and path not in out:
                out.append(path)
    return out


@cache
def _writes_patterns() -> dict[str, list[re.Pattern[str]]]:
    return {eco: [re.compile(p) for p in ps] for eco, ps in _data()["writes_patterns"].items() if not eco.startswith("_")}


def source_facts(
    context: BuildContext, rel: str, ecosystems: list[str],
) -> tuple[list[str], list[tuple[str | None, int | None, str]], dict[str, str], list[tuple[str, str]], list[tuple[str, str]]]:
    """(routes, [(port variable, default, file)], {protocol: file}, [(program, file)], [(written path, file)]) the app's
    source shows.

    The programs are those the source starts by a literal name (``exec.Command("git", ...)``,
    ``subprocess.run(["git", ...])``, ``execFileSync('git')``; catalog ``spawn_patterns``), a path
    reduced to its last part; the written paths are as :func:`written_paths` reads them."""
    data = _data()
    exts: list[str] = []
    for e in ecosystems or list(data["source_extensions"]):
        exts.extend(data["source_extensions"].get(e, []))
    files = tuple(source_files(context, rel, tuple(exts)))
    routes, ports, protocols, started, writes = context.content_memo(
        ("source-facts", tuple(ecosystems), digest(files)), lambda: _source_facts(files))
    return list(routes), list(ports), dict(protocols), list(started), list(writes)


def _source_facts(
    files: tuple[tuple[str, str], ...],
) -> tuple[list[str], list[tuple[str | None, int | None, str]], dict[str, str], list[tuple[str, str]], list[tuple[str, str]]]:
    data = _data()
    by_ext: dict[str, str] = {ext: eco for eco, es in data["source_extensions"].items() for ext in es}
    routes: list[str] = []
    ports: list[tuple[str | None, int | None, str]] = []
    compiled_routes = {eco: [re.compile(p, re.M) for p in ps] for eco, ps in data["route_patterns"].items()}
    compiled_ports = {eco: [re.compile(p) for p in ps] for eco, ps in data["port_patterns"].items()}
    compiled_protocols = [(e["ecosystem"], re.compile(e["pattern"], re.M), e["protocol"]) for e in data["source_protocols"]]
    compiled_spawns = {eco: [re.compile(p) for p in ps] for eco, ps in data["spawn_patterns"].items() if not eco.startswith("_")}
    protocols: dict[str, str] = {}
    started: list[tuple[str, str]] = []
    writes: list[tuple[str, str]] = []
    for p, text in files:
        eco = next((e for ext, e in by_ext.items() if p.endswith(ext)), None)
        if eco is None:
            continue
        for rx in compiled_routes.get(eco, ()):
            for m in rx.finditer(text):
                r = m.group(1)
                if eco == "ruby" and not r.startswith("/"):
                    r = "/" + r
                if r not in routes:
                    routes.append(r)
        for rx in compiled_ports.get(eco, ()):
            for m in rx.finditer(text):
                groups = [g for g in m.groups() if g is not None]
                var = next((g for g in groups if not g.isdigit()), None)
                num = next((int(g) for g in groups if g.isdigit()), None)
                ports.append((var, num, p))
        for e, rx, proto in compiled_protocols:
            if e == eco and proto not in protocols and rx.search(text):
                protocols[proto] = p
        for rx in compiled_spawns.get(eco, ()):
            for m in rx.finditer(text):
                prog = posixpath.basename(m.group(1))
                if prog and all(s[0] != prog for s in started):
                    started.append((prog, p))
        writes.extend((w, p) for w in written_paths(text, eco))
    return routes, ports, protocols, started, writes


def health_routes_of(routes: list[str], frameworks: list[dict[str, Any]], context: BuildContext | None, rel: str) -> list[str]:
    names = _data()["health_route_names"]
    out = [r.rstrip("/") or "/" for r in routes if (r.rstrip("/") or "/") in names]
    for f in frameworks:
        for hr in f.get("health_routes", ()):
            marker = hr.get("route_marker")
            if marker is None:
                out.append(hr["route"])
                continue
            if context is None:
                continue
            for _, text in source_files(context, rel, (".rb", ".php", ".py", ".js", ".ts", ".java", ".kt")):
                if marker in text:
                    out.append(hr["route"])
                    break
    return list(dict.fromkeys(out))
