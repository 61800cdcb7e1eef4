"""DO201's reading of a stage: what each RUN does, where the app lives, what the CMD needs."""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

from dockeropt.analysis import copy_spec, resolve, workdirs
from dockeropt.context import BuildContext
from dockeropt.shell import Command, parse_script, run_script
from dockeropt.syntax import Instruction, Stage

from ._runtime_stage_catalog import Base, default_workdir


class Blocked(Exception):
    """The stage cannot be split safely; the message says why (display-only note)."""


_SYSTEM_TOP = {
    "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "sys", "dev", "boot", "run",
}
_SCRATCH_TOP = {"tmp"}
_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


@dataclass
class StageFacts:
    eco: str  # node | python | go | java | rust
    base: Base
    roots: list[str] = field(default_factory=list)  # app folders to copy whole (absolute)
    apt_pkgs: list[str] = field(default_factory=list)  # packages the stage installs with apt
    user_runs: list[Instruction] = field(default_factory=list)  # RUNs that create users (replicated)
    node_globals: list[str] = field(default_factory=list)  # "npm install -g ..." commands (replicated)
    venv: str | None = None  # a venv the stage creates itself
    first_install: Instruction | None = None  # first RUN installing dependencies
    first_copy: Instruction | None = None  # first COPY/ADD from the context
    pip_requirements: list[str] = field(default_factory=list)  # requirement files (context paths)
    pip_no_binary: list[str] = field(default_factory=list)
    pip_packages: list[str] = field(default_factory=list)  # named on the command line
    go_outputs: list[str] = field(default_factory=list)  # absolute binary paths
    go_cgo_env: str | None = None  # CGO_ENABLED value set in the stage
    cargo_dirs: list[str] = field(default_factory=list)  # folders `cargo build --release` ran in
    java_builds: list[str] = field(default_factory=list)  # folders mvn/gradle ran in
    final_workdir: str | None = None
    final_user: str | None = None
    cmd: Instruction | None = None
    entrypoint: Instruction | None = None
    healthcheck: Instruction | None = None
    uses_npm_ci: bool = False
    node_install_dirs: list[str] = field(default_factory=list)


def _abs(cwd: str | None, path: str, base: Base) -> str | None:
    r = resolve(cwd, path)
    if r is None:
        return None
    if r.startswith("$BASE"):
        return posixpath.normpath(default_workdir(base) + r[len("$BASE"):])
    return r


def cmd_cwd(wd: str | None, cmd: Command, base: Base) -> str | None:
    if cmd.cwd == "?":
        return None
    if cmd.cwd is None:
        return _abs(wd, ".", base)
    return _abs(wd, cmd.cwd, base)


def is_system_path(p: str) -> bool:
    parts = [x for x in p.split("/") if x]
    if not parts:
        return True
    if parts[0] == "usr":
        if len(parts) >= 3 and parts[1] == "src":
            return False
        if len(parts) >= 3 and parts[1] == "local" and parts[2] not in ("bin", "sbin", "lib", "include", "share", "etc", "man", "games", "libexec"):
            return False
        return len(parts) < 2 or parts[1] in ("bin", "sbin", "lib", "lib32", "lib64", "libexec", "include", "share", "local", "games")
    if parts[0] in _SYSTEM_TOP:
        return True
    if parts[0] == "var" and (len(parts) < 2 or parts[1] in ("lib", "cache", "log", "run", "tmp", "spool")):
        return True
    return False


def is_scratch_path(p: str) -> bool:
    parts = [x for x in p.split("/") if x]
    return bool(parts) and parts[0] in _SCRATCH_TOP


def under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _add_root(roots: list[str], path: str) -> None:
    if under(path, roots):
        return
    roots[:] = [r for r in roots if not under(r, [path])]
    roots.append(path)


def _apt_packages(cmd: Command) -> list[str] | None:
    """Packages of ``apt-get install``; [] for other apt commands; None: not apt."""
    if cmd.name not in ("apt-get", "apt", "aptitude"):
        return None
    args = cmd.args
    if "install" not in args:
        return []
    pkgs: list[str] = []
    after = args[args.index("install") + 1 :]
    skip = False
    for a in after:
        if skip:
            skip = False
            continue
        if a is None:
            raise Blocked("an `apt-get install` names packages through a variable")
        if a in ("-o", "-t", "--target-release"):
            skip = True
            continue
        if a.startswith("-"):
            continue
        pkgs.append(a.split("=", 1)[0])
    return pkgs


_USER_CMDS = {"useradd", "groupadd", "adduser", "addgroup", "usermod", "groupmod"}
_NOOP = {"echo", "true", "set", "cd", ":", "printf"}
_FS = {"mkdir", "chown", "chmod", "rm", "touch", "ln", "cp", "mv"}


def _path_args(cmd: Command) -> list[str | None]:
    out: list[str | None] = []
    # a glob (rm -rf /var/lib/apt/lists/*) stays as written; expansions stay unknown
    args = [w.value if w.value is not None else (None if any(c in w.text for c in "$`'\"") else w.text) for w in cmd.effective()[1:]]
    skip_first = cmd.name in ("chown", "chmod")
    for a in args:
        if a is not None and a.startswith("-"):
            continue
        if skip_first:
            skip_first = False
            continue
        out.append(a)
    return out


def analyse(stage: Stage, base: Base, context: BuildContext | None) -> StageFacts | None:
    """Facts about the stage, None when it does no toolchain work DO201 knows. Raises Blocked."""
    wd = workdirs(stage)
    eco_found: set[str] = set()
    facts = StageFacts(eco="", base=base)
    for ins in stage.body:
        kw = ins.keyword
        cwd = wd[ins.index]
        if kw in ("SHELL", "ONBUILD"):
            raise Blocked(f"the stage uses {kw}, which dockeropt does not carry into a new stage")
        if kw in ("COPY", "ADD"):
            spec = copy_spec(ins)
            if spec is None or "$" in ins.args:
                raise Blocked(f"line {ins.start_line}: a {kw} dockeropt cannot read (heredoc or variables)")
            dest = _abs(cwd, spec.dest, base)
            if dest is None:
                raise Blocked(f"line {ins.start_line}: the {kw} destination depends on an unknown working folder")
            dir_dest = spec.dest.endswith(("/", "/.")) or spec.dest in (".", "..") or len(spec.sources) > 1 or any(
                posixpath.normpath(s) == "." or s.endswith("/") for s in spec.sources
            )
            if not dir_dest and context is not None and spec.from_stage is None:
                src = spec.sources[0]
                if "*" not in src and context.is_dir(src):
                    dir_dest = True
            root = dest if dir_dest else posixpath.dirname(dest)
            if is_scratch_path(root):
                continue
            if is_system_path(root):
                raise Blocked(f"line {ins.start_line}: {kw} writes into {root}, a system folder the runtime stage would have to rebuild")
            _add_root(facts.roots, root)
            if spec.from_stage is None and facts.first_copy is None:
                facts.first_copy = ins
            continue
        if kw == "WORKDIR":
            continue
        if kw == "USER":
            facts.final_user = ins.args.strip() or None
            continue
        if kw == "CMD":
            facts.cmd = ins
            continue
        if kw == "ENTRYPOINT":
            facts.entrypoint = ins
            continue
        if kw == "HEALTHCHECK":
            facts.healthcheck = ins
            continue
        if kw == "ENV":
            m = re.search(r"\bCGO_ENABLED[= ]\s*\"?(\d)", ins.args)
            if m:
                facts.go_cgo_env = m.group(1)
            continue
        if kw != "RUN":
            continue
        if ins.heredocs:
            raise Blocked(f"line {ins.start_line}: a RUN with a heredoc")
        rs = run_script(ins)
        if rs is None:
            raise Blocked(f"line {ins.start_line}: an exec-form RUN dockeropt does not classify")
        if not rs.script.ok:
            raise Blocked(f"line {ins.start_line}: a RUN the shell model cannot parse")
        user_cmds = 0
        other_cmds = 0
        for cmd in rs.script.commands:
            name = cmd.name
            ccwd = cmd_cwd(cwd, cmd, base)
            if name is None:
                raise Blocked(f"line {ins.start_line}: a command name comes from a variable")
            for a in cmd.assignments:
                if a.text.startswith("CGO_ENABLED="):
                    facts.go_cgo_env = a.text.split("=", 1)[1].strip("'\"")
            pkgs = _apt_packages(cmd)
            if pkgs is not None:
                facts.apt_pkgs.extend(p for p in pkgs if p not in facts.apt_pkgs)
                other_cmds += 1
                continue
            if name in _USER_CMDS:
                user_cmds += 1
                continue
            if name in _NOOP:
                continue
            other_cmds += 1
            kind = _classify(cmd, ccwd, facts, context)
            if kind is None:
                if name in _FS:
                    paths = _path_args(cmd)
                    ok = all(
                        p is not None and (
                            (q := _abs(ccwd, p, base)) is not None
                            and (under(q, facts.roots) or is_scratch_path(q) or q.startswith(("/var/lib/apt", "/var/cache/apt", "/etc/apt/apt.conf.d/", "/root/.cache", "/root/.npm", "/var/cache/debconf")))
                        )
                        for p in paths
                    )
                    if ok and paths:
                        continue
                raise Blocked(
                    f"line {ins.start_line}: `{' '.join(w.text for w in cmd.argv[:3])}` may change files outside the "
                    f"app folder that a new runtime stage would not have"
                )
            eco_found.add(kind)
            if kind != "none" and facts.first_install is None:
                facts.first_install = ins
        if user_cmds:
            if other_cmds:
                raise Blocked(f"line {ins.start_line}: a RUN creates a user together with other work")
            facts.user_runs.append(ins)
    eco_found.discard("none")
    if not eco_found:
        return None
    if len(eco_found) > 1:
        raise Blocked(f"the stage mixes toolchains ({', '.join(sorted(eco_found))})")
    facts.eco = eco_found.pop()
    family_eco = {"node": "node", "python": "python", "golang": "go", "java": "java", "rust": "rust"}
    if family_eco.get(base.family) != facts.eco:
        raise Blocked(f"the {facts.eco} build runs on a {base.repo} base dockeropt does not pair with it")
    last = stage.instructions[-1]
    fw = wd.get(last.index)
    if last.keyword == "WORKDIR":
        fw = _abs(fw, last.args.strip(), base)
    facts.final_workdir = _abs(fw, ".", base) if fw is not None else None
    odd = [p for p in [*facts.roots, facts.final_workdir or ""] if re.search(r"[\s\"'\\$]|//", p)]
    if odd:
        raise Blocked(f"the app folder {odd[0]} has quotes, spaces or variables dockeropt does not rewrite")
    if facts.cmd is None and facts.entrypoint is None:
        raise Blocked("the stage has no CMD or ENTRYPOINT, so dockeropt cannot tell what the final image runs")
    return facts


def _classify(cmd: Command, cwd: str | None, facts: StageFacts, context: BuildContext | None) -> str | None:
    """The ecosystem a command belongs to ("none" for harmless), None when unknown."""
    name = cmd.name
    args = cmd.args
    if name in ("npm", "yarn", "pnpm", "npx", "corepack"):
        if name == "npm":
            sub = args[0] if args else None
            rest = args[1:]
            if sub in ("install", "i", "ci", "clean-install", "add"):
                if any(a in ("-g", "--global") for a in rest):
                    facts.node_globals.append(" ".join(w.text for w in cmd.effective()))
                    return "node"
                if any(a is not None and not a.startswith("-") for a in rest):
                    # named packages: land in ./node_modules and package.json
                    pass
                if cwd is None:
                    raise Blocked("npm installs in a folder dockeropt cannot resolve")
                if sub in ("ci", "clean-install"):
                    facts.uses_npm_ci = True
                facts.node_install_dirs.append(cwd)
                _add_root(facts.roots, cwd)
                return "node"
            if sub in ("run", "run-script", "test", "prune", "rebuild", "cache", "config", "set", "dedupe", "audit"):
                if cwd is not None and not is_system_path(cwd):
                    _add_root(facts.roots, cwd)
                return "node"
            return None
        if name == "npx":
            return "node"
        raise Blocked(f"`{name}` is not supported by DO201 yet (npm only)")
    if _PIP.match(name or "") or (_PYTHON.match(name or "") and args[:2] == ["-m", "pip"]):
        a = args[2:] if _PYTHON.match(name or "") else args
        if not a or a[0] not in ("install", "uninstall"):
            return "python" if a and a[0] in ("freeze", "list", "check", "show", "--version", "cache") else None
        rest = a[1:]
        for i, x in enumerate(rest):
            if x is None:
                raise Blocked("pip installs something named by a variable")
            if x in ("--user", "--target", "-t", "--prefix", "--root") or x.startswith(("--target=", "--prefix=", "--root=")):
                raise Blocked(f"pip installs with {x}, outside the folder dockeropt would copy")
            if x in ("-r", "--requirement") and i + 1 < len(rest) and rest[i + 1]:
                req = _abs(cwd, rest[i + 1] or "", facts.base)
                if req is not None:
                    facts.pip_requirements.append(req)
            elif x.startswith("--requirement="):
                req = _abs(cwd, x.split("=", 1)[1], facts.base)
                if req is not None:
                    facts.pip_requirements.append(req)
            elif x == "--no-binary" and i + 1 < len(rest) and rest[i + 1]:
                facts.pip_no_binary.extend((rest[i + 1] or "").split(","))
            elif x.startswith("--no-binary="):
                facts.pip_no_binary.extend(x.split("=", 1)[1].split(","))
            elif not x.startswith("-") and (i == 0 or rest[i - 1] not in ("-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url", "--no-binary", "--only-binary", "-f", "--find-links", "--trusted-host")):
                facts.pip_packages.append(x)
        return "python"
    if _PYTHON.match(name or ""):
        if args[:2] == ["-m", "venv"] and len(args) >= 3 and args[-1]:
            facts.venv = _abs(cwd, args[-1] or "", facts.base)
            return "python"
        if args[:2] == ["-m", "compileall"]:
            return "python"
        if len(args) >= 2 and args[0] == "manage.py" and args[1] == "collectstatic" and cwd is not None:
            return "python"
        return None
    if name in ("poetry", "pipenv", "uv", "pdm", "conda"):
        raise Blocked(f"`{name}` installs are not supported by DO201 yet (pip only)")
    if name == "go":
        if args[:1] == ["build"]:
            out = None
            for i, x in enumerate(args):
                if x == "-o" and i + 1 < len(args):
                    out = args[i + 1]
                elif x is not None and x.startswith("-o="):
                    out = x[3:]
            if out is None:
                if cwd is None or context is None:
                    raise Blocked("`go build` without -o: dockeropt cannot tell where the binary goes")
                gomod = context.read_text("go.mod") or ""
                m = re.search(r"^module\s+(\S+)", gomod, re.M)
                pkgs = [x for x in args[1:] if x is not None and not x.startswith("-")]
                if not m or pkgs not in ([], ["."]):
                    raise Blocked("`go build` without -o: dockeropt cannot tell where the binary goes")
                out = m.group(1).rstrip("/").rsplit("/", 1)[-1]
            p = _abs(cwd, out, facts.base)
            if p is None or out.endswith("/"):
                raise Blocked("`go build -o` names a folder or an unknown path")
            facts.go_outputs.append(p)
            return "go"
        if args[:2] == ["mod", "download"] or args[:1] in (["vet"], ["test"], ["generate"], ["mod"], ["env"], ["version"]):
            return "go"
        return None
    if name in ("mvn", "mvnw", "gradle", "gradlew"):
        if cwd is None:
            raise Blocked("the Java build runs in a folder dockeropt cannot resolve")
        facts.java_builds.append(cwd)
        return "java"
    if name in ("javac", "jar", "kotlinc", "ant"):
        return "java"
    if name == "cargo":
        if args[:1] == ["build"]:
            if "--release" not in args and "-r" not in args:
                raise Blocked("`cargo build` without --release")
            if cwd is None:
                raise Blocked("cargo builds in a folder dockeropt cannot resolve")
            facts.cargo_dirs.append(cwd)
            return "rust"
        if args[:1] in (["fetch"], ["test"], ["install"]):
            if args[:1] == ["install"]:
                raise Blocked("`cargo install` puts binaries outside the app folder")
            return "rust"
        return None
    if name in ("rustup",):
        return "rust"
    return None


# --------------------------------------------------------------------------- CMD / ENTRYPOINT


def launch_argv(ins: Instruction | None) -> tuple[list[str] | None, bool]:
    """(argv, was_shell_form). argv None when the shell form needs a real shell."""
    if ins is None:
        return [], False
    if ins.json:
        return list(ins.exec_args or ()), False
    text = ins.args.strip()
    if not text:
        return [], True
    if re.search(r"[$`|&;<>(){}*?~\\\n]", text):
        return None, True
    script = parse_script(text)
    if not script.ok or len(script.commands) != 1 or not script.items or not script.items[0].simple:
        return None, True
    c = script.commands[0]
    if c.assignments or any(w.value is None for w in c.argv):
        return None, True
    try:
        words = shlex.split(text)
    except ValueError:
        return None, True
    return words, True


def read_package_json(context: BuildContext | None, rel: str) -> dict[str, object] | None:
    return context.read_json_object(rel) if context is not None else None
