"""What the image keeps in folders only their owner can enter (root's home).

Root's home is mode 0700 in every official image: a program installed there
(``pip install --user``, ``npm install -g`` with ``NPM_CONFIG_PREFIX`` under
``/root``, a pipenv or poetry virtualenv, the package-manager release corepack
downloads) is unreachable once the container runs as another user. DO301
(non-root-user) reads :func:`private_writes` to move such installs to a shared
folder or to keep root and say why.

Writes come from the RUN classifier (:mod:`dockeropt.model.runs`), plus one
fact it cannot see from a single command: once ``corepack enable`` has run, the
first ``yarn``/``pnpm`` command downloads that package manager into
``$COREPACK_HOME`` (default ``~/.cache/node/corepack``), and every later start
of ``yarn`` looks for it there again. A yarn 2+ Plug'n'Play install counts too
when its package cache is in a private home (:func:`dockeropt.model.project.pnp_cache`:
yarn 4 turns ``enableGlobalCache`` on by default, so as root the archives
.pnp.cjs loads at run time are in ``/root/.yarn/berry/cache``; yarn 2 and 3
keep them in the project's ``.yarn/cache``), and so does COPY/ADD into a
private home. So does a RUN that executes one of the project's own files as
root (``python download_models.py``, ``node warm.js``, ``npm run S`` whose
package.json script does, ``uv run``/``poetry run``/``pipenv run`` of one) when that file's text refers to the home folder
(``Path.home()``, ``os.homedir()``, ``process.env.HOME``; catalog
``non_root.home_sources``): what it writes lands in /root, and the app, run as
another user, looks in its own home (:func:`_home_source_write`).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockeropt.model.deps import ContextView
from dockeropt.model.ecosystems import names as ecosystem_names
from dockeropt.model.ecosystems import spec as ecosystem_spec
from dockeropt.model.native import node_dependencies
from dockeropt.model.project import node_data, pnp_cache
from dockeropt.model.runtime import resolve_launcher, runtime_catalog, written_paths
from dockeropt.model.values import expand
from dockeropt.model.workspaces import workspace_dir
from dockeropt.syntax import Instruction

if TYPE_CHECKING:
    from dockeropt.model import ImageModel
    from dockeropt.model.runs import Action

_COREPACK_HOME = "${COREPACK_HOME:-~/.cache/node/corepack}"


def _data() -> dict[str, Any]:
    return runtime_catalog()["non_root"]


def private_homes() -> tuple[str, ...]:
    return tuple(_data()["private_homes"])


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def in_private_home(path: str | None) -> str | None:
    """The private home ``path`` lies in, or None."""
    if not path:
        return None
    try:
        return _IN_HOME[path]
    except KeyError:
        p = posixpath.normpath(path)
        got = _IN_HOME[path] = next((h for h in private_homes() if _under(p, h)), None)
        if len(_IN_HOME) > 8192:
            _IN_HOME.clear()
        return got


# in_private_home answers by path (the catalog's homes never change; every write of every RUN is asked)
_IN_HOME: dict[str, str | None] = {}


@dataclass(frozen=True)
class PrivateWrite:
    """Something the image keeps in a private home (or a home dockeropt cannot place)."""

    instruction: Instruction
    action: Action | None  # None for COPY/ADD
    tool: str  # catalog id of the tool ("pip", "npm", "pipenv", "corepack", ...) or "copy"
    kind: str  # Write kind ("home", "prefix", ...) or "copy"
    path: str | None  # absolute; None: a home folder dockeropt cannot place
    what: str


def private_writes(m: ImageModel, stage: int) -> list[PrivateWrite]:
    """Installs and copies of ``stage``'s FROM chain that land in a private home, in file order."""
    managed = set(_data()["corepack_managed"])
    out: list[PrivateWrite] = []
    corepack = False
    workdir: Instruction | None = None  # the last WORKDIR line of the chain so far
    named: set[int] = set()  # WORKDIR lines already reported
    for n in m.chain(stage)[::-1]:
        for ins in n.stage.body:
            if ins.keyword == "WORKDIR":
                workdir = ins
            facts = m.run(ins)
            if facts is not None:
                for a in facts.actions:
                    for w in a.writes:
                        if w.kind == "fs" or a.verb in ("fs", "chown", "chmod", "noop"):
                            continue
                        if w.path is None and w.kind == "home" and a.user.home is None:
                            out.append(PrivateWrite(ins, a, a.tool, w.kind, None, w.what))
                        elif in_private_home(w.path):
                            out.append(PrivateWrite(ins, a, a.tool, w.kind, w.path, w.what))
                    if m.context is not None:  # both read the build context (none: nothing to find)
                        out.extend(_outside_writes(m, n.index, ins, a))
                        src = _home_source_write(m, n.index, ins, a)
                        if src is not None:
                            out.append(src)
                    pnp = _pnp_write(m, ins, a)
                    if pnp is not None:
                        out.append(pnp)
                    if a.tool == "corepack" and a.verb == "global" and _subcommand(a) == "enable":
                        corepack = True
                    elif corepack and a.command.name in managed:
                        path = expand(_COREPACK_HOME, a.env, a.user.home, tilde=True)
                        path = posixpath.normpath(path) if path and path.startswith("/") else None
                        if path is None or in_private_home(path):
                            out.append(PrivateWrite(ins, a, "corepack", "home", path,
                                                    f"the {a.command.name} release corepack downloads on first use"))
                continue
            cf = m.copy(ins)
            if cf is not None and in_private_home(cf.dest):
                wd = m.state(ins).workdir
                if workdir is not None and wd and in_private_home(wd) and _under(cf.dest.rstrip("/") or "/", wd):
                    # the copy lands in the working folder: the WORKDIR line put the app in the private home
                    if workdir.index not in named:
                        named.add(workdir.index)
                        out.append(PrivateWrite(workdir, None, "workdir", "copy", posixpath.normpath(wd),
                                                "the app's working folder"))
                    continue
                out.append(PrivateWrite(ins, None, "copy", "copy", cf.dest.rstrip("/") or "/", "files copied there"))
    return out


def _outside_writes(m: ImageModel, stage: int, ins: Instruction, a: Action) -> list[PrivateWrite]:
    """A node install whose dependency's install script downloads into a private home (catalog installs_outside)."""
    if a.ecosystem != "node" or a.verb not in ("install", "ci", "add") or m.context is None or a.project is None:
        return []
    rel = m.context_source(stage, a.project, ins.index) or m.context_source(stage, a.project)
    if rel is None:
        return []
    out = []
    for d in node_dependencies(m.context, rel).native:
        if not d.outside:
            continue
        path = expand(d.outside, a.env, a.user.home, tilde=True)
        path = posixpath.normpath(path) if path and path.startswith("/") else None
        if path is None or in_private_home(path):
            out.append(PrivateWrite(ins, a, d.name, "home", path, f"what the install script of {d.name} downloads"))
    return out


@dataclass(frozen=True)
class ProjectRun:
    """A project file from the build context that a RUN executes (``python X.py``, ``node X.js``, ``npm run S``)."""

    file: str  # as the RUN names it (``download_models.py``, ``warmup/__main__.py``)
    rel: str  # its path in the build context
    text: str
    ecosystem: str  # catalog home_sources runner ecosystem ("python", "node")
    cwd: str  # the folder it runs in


def project_run(m: ImageModel, stage: int, ins: Instruction, a: Action) -> ProjectRun | None:
    """The project file ``a`` runs, read from the build context; None when it runs none dockeropt can read.

    Follows package.json scripts (``npm run S``) and environment launchers (``uv run``, ``poetry run``,
    ``pipenv run``; ``uv run X.py`` runs python), then an interpreter of catalog ``non_root.home_sources``.
    """
    if m.context is None or a.cwd is None:
        return None
    argv = tuple(w.value for w in a.command.effective())
    if not argv or any(v is None for v in argv):
        return None
    words: tuple[str, ...] = argv  # type: ignore[assignment]
    cwd = a.cwd
    project = a.project or cwd

    def scripts(folder: str) -> dict[str, str] | None:
        rel = m.context_source(stage, posixpath.join(project, folder, "package.json"), ins.index)
        pkg = m.context.read_json_object(rel) if rel is not None and m.context is not None else None
        s = pkg.get("scripts") if pkg is not None else None
        return {str(k): str(v) for k, v in s.items()} if isinstance(s, dict) else None

    def workspace(value: str, workspace_file: str | None, match: tuple[str, ...]) -> str | None:
        rel = m.context_source(stage, posixpath.join(project, "package.json"), ins.index)
        if rel is None:
            return None
        return workspace_dir(ContextView(m.context, posixpath.dirname(rel)), value, workspace_file, match)

    resolved = resolve_launcher(words, scripts, lambda _p: False, workspace)
    if resolved is None and a.writes:
        return None  # an install, not a program of the project (a launcher's own writes are its environment)
    if resolved is not None:
        if resolved[2] is None:
            return None
        if resolved[1] is not None:
            # a package.json script runs in the project folder (npm --workspace: the workspace's folder)
            words, cwd = resolved[2], posixpath.join(project, resolved.cwd) if resolved.cwd else project
        else:
            # `uv run`, `poetry run`, `pipenv run`: the program runs with the same HOME, in the same folder
            words = _launched_program(resolved[0], resolved[2])
    data = _data()["home_sources"]
    prog = posixpath.basename(words[0])
    runner = next((r for r in data["runners"] if re.match(r["program_regex"], prog)), None)
    if runner is None:
        return None
    target = _runner_target(words[1:], runner)
    if target is None:
        return None
    module, name = target
    if module:
        base = name.replace(".", "/")
        candidates = [base + ext for ext in runner["exts"]] + [f"{base}/__main__{ext}" for ext in runner["exts"]]
    else:
        candidates = [name]
    for cand in candidates:
        image_path = posixpath.normpath(posixpath.join(cwd, cand))
        rel = m.context_source(stage, image_path, ins.index)
        if rel is None or not m.context.is_file(rel):
            continue
        if not module and not rel.endswith(tuple(runner["exts"])):
            return None
        text = m.context.read_text(rel, limit=512 * 1024)
        if text is None:
            return None
        return ProjectRun(cand, rel, text, runner["ecosystem"], cwd)
    return None


def _home_source_write(m: ImageModel, stage: int, ins: Instruction, a: Action) -> PrivateWrite | None:
    """A project file from the build context that the RUN executes as root and whose text uses the home folder."""
    if m.context is None or a.cwd is None or not in_private_home(a.user.home):
        return None
    home = a.env.value("HOME")
    if home and not in_private_home(home):
        return None  # HOME set outside /root: the script writes where every user can look
    run = project_run(m, stage, ins, a)
    if run is None:
        return None
    if any(re.search(p, run.text) for p in _data()["home_sources"]["patterns"][run.ecosystem]):
        return PrivateWrite(ins, a, "project-script", "home-source", posixpath.normpath(a.user.home or "/root"),
                            f"what {run.file} writes under $HOME")
    return None


@dataclass(frozen=True)
class SharedFile:
    """A file a build-time RUN creates as root by running a project file, which the app writes at run time."""

    instruction: Instruction
    file: str  # the project file the RUN runs
    path: str  # the file both write, absolute in the image
    app_file: str  # the app's source file (build-context path) that writes it


def root_files_app_writes(m: ImageModel, stage: int) -> SharedFile | None:
    """The first file a RUN of ``stage``'s FROM chain creates as root (running a project file that writes it by a
    literal path) and that the app's own source, another file, also writes by the same path (``sqlite3.connect``,
    ``open(..., "w")``; catalog ``writes_patterns``).

    The file stays root's after a new USER, so the app could not write it (``attempt to write a readonly
    database``); folders get a chown from DO301, the files a step makes inside them do not.
    """
    rt = m.runtime
    if rt is None or m.context is None or not rt.writes:
        return None
    app_cwd = rt.workdir or "/"
    app_writes: dict[str, list[str]] = {}
    for lit, src in rt.writes:
        app_writes.setdefault(posixpath.normpath(posixpath.join(app_cwd, lit)), []).append(src)
    for n in m.chain(stage)[::-1]:
        for ins in n.stage.body:
            facts = m.run(ins)
            if facts is None:
                continue
            for a in facts.actions:
                if a.user.is_root is False:
                    continue
                run = project_run(m, n.index, ins, a)
                if run is None:
                    continue
                for lit in written_paths(run.text, run.ecosystem):
                    path = posixpath.normpath(posixpath.join(run.cwd, lit))
                    others = [src for src in app_writes.get(path, ()) if src != run.rel]
                    if others:
                        return SharedFile(ins, run.file, path, others[0])
    return None


def _launched_program(launcher: str, program: tuple[str, ...]) -> tuple[str, ...]:
    """What an environment launcher runs: ``uv run app.py`` runs the script with python (catalog ``scripts_with``)."""
    for eco in ecosystem_names():
        how = ecosystem_spec(eco).get("launchers", {}).get(launcher)
        runner = how.get("scripts_with") if isinstance(how, dict) else None
        if runner and program[0].endswith(tuple(_runner_exts(runner))):
            return (runner, *program)
    return program


def _runner_exts(program: str) -> list[str]:
    return next((list(r["exts"]) for r in _data()["home_sources"]["runners"] if re.match(r["program_regex"], program)), [])


def _runner_target(args: tuple[str, ...], runner: dict[str, Any]) -> tuple[bool, str] | None:
    """(is a module, file or module name) an interpreter command runs, or None (inline code, stdin, unknown)."""
    it = iter(args)
    for w in it:
        if w in runner.get("code_flags", ()):
            return None
        if runner.get("module_flag") and w == runner["module_flag"]:
            name = next(it, None)
            return (True, name) if name and not name.startswith("-") else None
        if w in runner.get("value_flags", ()):
            next(it, None)
            continue
        if w.startswith("-"):
            continue
        return False, w
    return None


def _pnp_write(m: ImageModel, ins: Instruction, a: Action) -> PrivateWrite | None:
    """A yarn 2+ Plug'n'Play install whose package cache (read by .pnp.cjs at run time) may be in a private home."""
    pc = pnp_cache(m, ins, a)
    if pc is None or (pc.path is not None and not in_private_home(pc.path)):
        return None
    if pc.global_cache is False:
        why = "yarn's cacheFolder"
    elif pc.global_cache and pc.how == "default":
        why = f"yarn {pc.major}'s global cache: `enableGlobalCache` is on by default from yarn 4"
    elif pc.global_cache:
        at = f"line {pc.where.start_line}" if pc.where is not None else "the base image"
        why = f"yarn's global cache: {at} turns `enableGlobalCache` on"
    elif pc.how == "default":
        why = ("yarn's global cache, on by default from yarn 4: neither packageManager nor yarnPath tells dockeropt "
               "which yarn runs")
    else:
        at = f"line {pc.where.start_line}" if pc.where is not None else "the base image"
        why = f"yarn's global cache, if `enableGlobalCache` is on: {at} sets it in a way dockeropt cannot read"
    sure = pc.linker.name == "pnp" and pc.global_cache is not None
    what = f"the packages .pnp.cjs {'loads' if sure else 'may load'} at run time ({why})"
    return PrivateWrite(ins, a, str(node_data()["yarn_linker"]["tools"]["berry"]), "pnp-cache", pc.path, what)


def _subcommand(a: Action) -> str | None:
    return next((w.value for w in a.command.effective()[1:] if w.value and not w.value.startswith("-")), None)


def moves() -> list[dict[str, Any]]:
    """How an install into a private home can go to a shared folder instead (catalog ``non_root.moves``)."""
    return list(_data()["moves"])


def move_for(w: PrivateWrite) -> dict[str, Any] | None:
    for mv in moves():
        if mv["tool"] != w.tool or mv["kind"] != w.kind:
            continue
        if mv.get("flag") and (w.action is None or not w.action.has_flag(mv["flag"])):
            continue
        return mv
    return None
