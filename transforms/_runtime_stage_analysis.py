"""DO201's reading of the final stage, from the image model only.

:func:`read_stage` sorts every instruction of the final stage into what a
runtime stage must rebuild (system packages, users, ENV), what it copies
(context COPYs, folders the installs wrote), what stays behind (builds,
installs, tools) and what moves (CMD, EXPOSE, USER, ...). Anything it cannot
place raises :class:`Blocked` with the line that blocks the split and what the
user could change; the ecosystem planners (``_runtime_<ecosystem>.py``) then
decide the runtime base and the copies.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from functools import cache

from dockeropt.catalog import catalog
from dockeropt.catalog.images import ImageInfo, lookup, parse_image
from dockeropt.context import BuildContext
from dockeropt.edits import Safety
from dockeropt.model import CopyFacts, ImageModel, RunFacts, StageNode, User
from dockeropt.model import ecosystems as eco
from dockeropt.model.runs import Action
from dockeropt.model.runtime import StartCommand, runtime_catalog
from dockeropt.syntax import Instruction

# instructions that describe how the image runs: they move to the runtime stage
MOVED = ("CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "VOLUME", "LABEL", "MAINTAINER", "USER")


class Blocked(Exception):
    """The stage cannot be split safely: why, on which line, and what the user could change."""

    def __init__(self, reason: str, ins: Instruction | None = None, change: str | None = None) -> None:
        self.reason = reason
        self.ins = ins
        self.change = change or "Split it by hand into a build stage and a small runtime stage"
        where = f"line {ins.start_line} " if ins is not None else ""
        super().__init__(f"{where}{reason}".strip())


def under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def is_system_path(p: str) -> bool:
    """A folder of the OS or the interpreter that a new runtime base brings its own version of."""
    parts = [x for x in p.split("/") if x]
    if not parts:
        return True
    system = runtime_catalog()["system_paths"]
    if parts[0] == "usr":
        if len(parts) >= 3 and parts[1] == "src":
            return False
        if len(parts) >= 3 and parts[1] == "local" and parts[2] not in system["usr_local"]:
            return False
        return True
    if parts[0] == "var":
        return len(parts) < 2 or parts[1] in system["var"]
    return parts[0] in system["top"]


@cache
def _setup_paths() -> tuple[str, ...]:
    """Paths the package managers' cache-mount set-up changes (catalog ``mount_setup``): nothing the runtime needs."""
    return tuple(w for m in catalog().managers for w in m.mount_setup if w.startswith("/"))


def is_scratch(p: str) -> bool:
    return any(under(p, s) for s in runtime_catalog()["scratch_paths"]) or p in _setup_paths()


@dataclass
class Act:
    """An ecosystem command of the stage (an install, a build, a tool install)."""

    ins: Instruction
    action: Action
    index: int  # position of the command in its RUN


@dataclass
class StageRead:
    m: ImageModel
    node: StageNode
    info: ImageInfo | None
    base: str  # the FROM reference, ARG defaults applied
    ecosystem: str
    context: BuildContext | None
    start: StartCommand
    pm: str | None  # the base's system package manager (apt, apk)
    packages: list[tuple[str, Instruction]] = field(default_factory=list)  # system packages the stage installs
    system_runs: list[Instruction] = field(default_factory=list)  # RUNs that only install system packages
    user_runs: list[Instruction] = field(default_factory=list)  # RUNs that only create users and groups
    acts: list[Act] = field(default_factory=list)  # ecosystem commands in file order
    copies: list[tuple[Instruction, CopyFacts]] = field(default_factory=list)  # COPY/ADD from the build context
    image_copies: list[tuple[Instruction, CopyFacts]] = field(default_factory=list)  # COPY --from=<image> (tools)
    app_dirs: list[str] = field(default_factory=list)  # folders the context copies write into (absolute)
    app_changed: bool = False  # a RUN writes into an app folder after the source arrived
    fs_writes: list[tuple[Instruction, str]] = field(default_factory=list)  # paths RUNs create or change
    moved: list[Instruction] = field(default_factory=list)
    carried: list[Instruction] = field(default_factory=list)  # ARG and ENV
    workdirs: list[Instruction] = field(default_factory=list)
    workdir: str | None = None  # the final WORKDIR
    user: User | None = None  # the user the app runs as
    healthcheck: Instruction | None = None
    safety: Safety = Safety.REVIEW

    @property
    def stage(self):  # type: ignore[no-untyped-def]
        return self.node.stage

    @property
    def body(self) -> tuple[Instruction, ...]:
        return self.node.stage.body

    def context_dir(self, image_path: str, before: int | None = None) -> str | None:
        """The build-context folder a COPY put at ``image_path`` (``.`` for the context root)."""
        return self.m.context_source(self.node.index, image_path, before)

    def project_dir(self, a: Act) -> str | None:
        """The build-context folder holding the project an install works on (its manifests' folder)."""
        project = a.action.project
        if project is None:
            return None
        rel = self.context_dir(project, a.ins.index) or self.context_dir(project)
        if rel is not None:
            return rel
        for man in a.action.manifests:
            if "*" in man:
                continue
            src = self.context_dir(man, a.ins.index)
            if src is not None and posixpath.dirname(man) == project:
                return posixpath.dirname(src) or "."
        return None

    def installs(self) -> list[Act]:
        return [a for a in self.acts if a.action.installs and a.action.verb != "global"]

    def builds(self) -> list[Act]:
        return [a for a in self.acts if a.action.verb in ("build", "run", "test", "publish")]

    def globals(self) -> list[Act]:
        return [a for a in self.acts if a.action.verb == "global"]

    def first_context_copy(self) -> Instruction | None:
        return self.copies[0][0] if self.copies else None

    def app_dir(self) -> str | None:
        """The folder the app lives in: the final WORKDIR when a context copy put files there, else the one app folder."""
        if self.workdir is not None and any(under(self.workdir, d) or under(d, self.workdir) for d in self.app_dirs):
            return self.workdir
        return self.app_dirs[0] if len(self.app_dirs) == 1 else None


def toolchain_ecosystem(info: ImageInfo | None, base: str) -> str | None:
    """The ecosystem whose toolchain image ``base`` is (None: not a toolchain image dockeropt knows)."""
    if info is not None:
        return eco.ecosystem_of_family(info.family) if eco.is_toolchain(info) else None
    ref = parse_image(base)
    if ref is None:
        return None
    name = ref.repository.rsplit("/", 1)[-1].lower()
    for e in eco.names():
        if name in eco.spec(e).get("build_images", {}):
            return e
    return None


def read_stage(m: ImageModel, node: StageNode, context: BuildContext | None) -> StageRead | None:
    """What the final stage does, or None when it does no toolchain work. Raises :class:`Blocked`."""
    info = node.image.info if node.image is not None else None
    base = node.base or node.base_text
    ecosystem = toolchain_ecosystem(info, base) or _build_deps_ecosystem(m, node, info)
    if ecosystem is None:
        _unresolved_base(m, node)
        return None
    runtime = m.runtime
    if runtime is None:
        return None
    r = StageRead(m, node, info, base, ecosystem, context, runtime.start, info.package_manager if info else None)
    for ins in node.stage.body:
        kw = ins.keyword
        if kw in ("SHELL", "ONBUILD"):
            raise Blocked(f"uses {kw}, which dockeropt does not carry into a new stage", ins, f"Move the {kw} into the commands it is for")
        if kw in ("COPY", "ADD"):
            _copy(r, ins)
        elif kw == "RUN":
            _run(r, ins)
        elif kw in MOVED:
            r.moved.append(ins)
            if kw == "HEALTHCHECK":
                r.healthcheck = None if ins.args.strip().upper() == "NONE" else ins
        elif kw in ("ENV", "ARG"):
            r.carried.append(ins)
        elif kw == "WORKDIR":
            r.workdirs.append(ins)
    end = m.end_state(node.index)
    r.workdir = end.workdir
    r.user = end.user
    if not r.acts:
        return None  # nothing is built or installed: a smaller base is DO202's job
    own_server = bool(runtime.protocol_reason and runtime.protocol_reason.endswith("runs its own server"))
    if not r.start.known and not own_server:
        raise Blocked("has no CMD or ENTRYPOINT, so dockeropt cannot tell what the final image runs", node.stage.from_instruction,
                      "Add the CMD the image runs")
    odd = [p for p in [*r.app_dirs, r.workdir or ""] if re.search(r"[\s\"'\\$]|//", p)]
    if odd:
        raise Blocked(f"puts the app in {odd[0]}, a folder with quotes, spaces or variables dockeropt does not rewrite", node.stage.from_instruction,
                      "Use a plain folder name")
    if r.workdir is None:
        raise Blocked("sets a WORKDIR dockeropt cannot resolve", r.workdirs[-1] if r.workdirs else node.stage.from_instruction, "Write the WORKDIR as a literal path")
    if context is None:
        r.safety = Safety.UNSAFE
    return r


def _unresolved_base(m: ImageModel, node: StageNode) -> None:
    """``FROM node:${V}`` with an ARG that has no default, on a toolchain repository whose tools the stage runs: Blocked."""
    if node.base is not None:
        return
    mm = re.fullmatch(r"([^$:@]+):\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?[^$]*", node.base_text)
    if mm is None:
        return
    info = lookup(mm.group(1))
    e = toolchain_ecosystem(info, mm.group(1)) if info is not None else None
    if e is None:
        return
    for _ins, f in m.stage_runs(node.index):
        if any(a.ecosystem == e and (a.installs or a.verb in ("build", "publish")) for a in f.actions):
            raise Blocked(f"takes its tag from ARG {mm.group(2)}, which has no default, so dockeropt cannot tell which "
                          f"{mm.group(1)} image, and so which runtime base, the build uses", node.stage.from_instruction,
                          f"Give the ARG a default (`ARG {mm.group(2)}=<version>`); `--build-arg` still overrides it")


def _build_deps_ecosystem(m: ImageModel, node: StageNode, info: ImageInfo | None) -> str | None:
    """A small base (slim, alpine) whose stage installs compilers or -dev packages for its ecosystem's native builds."""
    if info is None:
        return None
    e = eco.ecosystem_of_family(info.family)
    if e is None:
        return None
    tools = set(eco.spec(e).get("toolchain", {}).get("tools", ()))
    # a package whose program the app's source starts (git) is a runtime need of this image, not a build package
    started = {prog for prog, _ in (m.runtime.started if m.runtime is not None else ())}
    small = not info.is_full and e in ("python", "node", "ruby")
    managers = catalog().runtime_stage_managers
    for _ins, f in m.stage_runs(node.index):
        for a in f.actions:
            if a.tool in tools and a.installs:
                return e  # a stage whose toolchain is a tool it runs (composer on a php image)
            if small and a.tool in managers and a.verb == "install":
                for p in a.packages:
                    if eco.is_build_only(p) and not started & set(eco.package_tools(p)):
                        return e  # a slim or alpine base that installs compilers or -dev packages for native builds
    return None


def _copy(r: StageRead, ins: Instruction) -> None:
    cf = r.m.copy(ins)
    if cf is None:
        raise Blocked(f"has a {ins.keyword} whose source or destination depends on something dockeropt cannot resolve", ins,
                      "Write the paths literally or give the ARG a default")
    if cf.from_stage is not None:
        raise Blocked(f"copies from the stage `{ins.flag('from').value if ins.flag('from') else cf.from_stage}`; the file is already multi-stage", ins,
                      "Split it by hand")
    if cf.from_image is not None:
        r.image_copies.append((ins, cf))
        return
    if cf.heredoc:
        raise Blocked(f"writes a file with a {ins.keyword} heredoc", ins, "Put the file in the build context")
    r.copies.append((ins, cf))
    folder = cf.folder
    if is_scratch(folder) or is_system_path(folder):
        return  # replicated in the runtime stage as written
    if not any(under(folder, d) for d in r.app_dirs):
        r.app_dirs[:] = [d for d in r.app_dirs if not under(d, folder)]
        r.app_dirs.append(folder)


def _run(r: StageRead, ins: Instruction) -> None:
    f = r.m.run(ins)
    if f is None or f.script is None or not f.script.ok:
        raise Blocked("has a RUN the shell model cannot read", ins, "Split the RUN into plain commands")
    if f.unknown:
        cmd = f.unknown[0]
        eff = [w.value for w in cmd.effective()]
        if cmd.name in ("sh", "bash", "dash") and not [x for x in eff[1:] if x is None or not x.startswith("-")] or eff[1:] == ["-"]:
            fetch = next((a for a in f.actions if a.verb == "download" and a.command.start < cmd.start), None)
            if fetch is not None:
                raise Blocked(f"pipes a script it downloads with `{fetch.tool}` into `{cmd.name}`, and dockeropt cannot tell what that script "
                              "installs or changes", ins, "Install what the script sets up by name with the system package manager (or copy it "
                              "from an image with COPY --from), or split the stage by hand")
        text = " ".join(w.text for w in cmd.argv[:3]) or "a command named by a variable"
        raise Blocked(f"runs `{text}`, a command dockeropt does not know, so it cannot tell what it changes", ins,
                      "Move it into a script dockeropt can read, or split the stage by hand")
    kinds = set()
    for idx, a in enumerate(f.actions):
        kinds.add(_action(r, ins, f, a, idx))
    kinds.discard("noop")
    if "user" in kinds:
        if kinds - {"user"}:
            raise Blocked("creates a user together with other work", ins, "Create the user in a RUN of its own")
        r.user_runs.append(ins)
    elif kinds == {"system"}:
        r.system_runs.append(ins)


def _action(r: StageRead, ins: Instruction, f: RunFacts, a: Action, idx: int) -> str:
    v = a.verb
    system = catalog().runtime_stage_managers
    if v == "noop" or (a.tool in system and v in ("update-index", "clean")):
        return "noop"
    if a.tool in system or a.ecosystem in catalog().system_ecosystems:
        if v != "install":
            change = ("Drop the upgrade and build on a current tag of the base instead (it brings the updates to both stages), or split "
                      "the stage by hand" if v == "upgrade" else "Install the packages you need by name")
            raise Blocked(f"runs `{a.tool} {v}`, which a new runtime stage would have to repeat", ins, change)
        if a.tool not in system:
            raise Blocked(f"installs system packages with {a.tool}, which dockeropt does not rebuild", ins)
        for p in a.packages:
            if p.startswith(("/", "./")):
                raise Blocked(f"installs a local package file ({p})", ins)
            r.packages.append((p, ins))
        return "system"
    if v in ("create-user", "create-group", "modify-user"):
        return "user"
    if v in ("fs", "chown", "chmod"):
        for w in a.writes:
            if w.path is None:
                raise Blocked(f"runs `{a.tool}` on a path dockeropt cannot read", ins)
            if is_scratch(w.path) or _cache_path(w.path, a):
                continue
            if any(under(w.path, d) for d in r.app_dirs):
                r.app_changed = True
                r.fs_writes.append((ins, w.path))
                continue
            if w.path in r.m.runtime.volumes if r.m.runtime is not None else False:
                r.fs_writes.append((ins, w.path))
                continue
            raise Blocked(f"runs `{' '.join(x.text for x in a.command.argv[:4])}`, which changes {w.path} outside the app folder; "
                          "a new runtime stage would not have that change", ins,
                          "Make the change in the app folder, or in a RUN of its own that dockeropt can repeat")
        return "fs"
    if v == "download":
        raise Blocked(f"downloads with `{a.tool}`, and dockeropt cannot tell what that installs", ins,
                      "Install the file with ADD or a package manager")
    if v == "system" and eco.spec(r.ecosystem).get("system_setup"):
        return "setup"  # docker-php-ext-install and friends: the runtime stage repeats the RUN
    if v == "system" or v == "other" and a.ecosystem == "system":
        raise Blocked(f"runs `{a.tool}`, which changes the system in a way a new runtime stage would have to repeat", ins)
    if v == "venv" or a.tool in ("venv", "virtualenv", "compileall"):
        r.acts.append(Act(ins, a, idx))
        return "eco"
    e = a.ecosystem if a.ecosystem != "system" else (eco.ecosystem_of_tool(a.tool) or ("native" if a.compiles else None))
    if e == "native":
        r.acts.append(Act(ins, a, idx))
        return "eco"
    if a.tool == "corepack":
        e = "node"
    if e is None:
        raise Blocked(f"runs `{a.tool}`, which dockeropt does not place in a build or a runtime stage", ins)
    if e != r.ecosystem:
        raise Blocked(f"runs {a.tool} ({e}) on a {r.ecosystem} base, mixing toolchains dockeropt does not split", ins,
                      "Build each part in its own stage")
    r.acts.append(Act(ins, a, idx))
    return "eco"


def _cache_path(path: str, a: Action) -> bool:
    """A path a cache clean-up removes (``rm -rf /root/.npm``): nothing the runtime needs."""
    home = a.user.home or "/root"
    return any(under(path, posixpath.join(home, p)) for p in (".cache", ".npm", ".yarn", ".gradle", ".m2", ".cargo/registry", ".nuget"))


__all__ = ["Act", "Blocked", "MOVED", "StageRead", "is_scratch", "is_system_path", "read_stage", "toolchain_ecosystem", "under"]
