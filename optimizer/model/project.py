"""The project an install works on: which build-context files reached its folder, and what they say.

* :func:`context_file`: the build-context file that COPY/ADD put at an image
  path before an instruction (globs, folders and files; the file must exist
  in the context and not be excluded; a RUN in between that names the file
  may have changed it, so the proof is void);
* :func:`node_project`: package.json and the lockfiles in a command's folder;
  :func:`yarn_flavour` (classic or berry, only when every sign agrees);
  :func:`yarn_linker` (yarn 2+'s nodeLinker: Plug'n'Play or node_modules);
  :func:`yarn_setting` (any yarn 2+ setting: variable, command, .yarnrc.yml);
  :func:`pnp_cache` (where a Plug'n'Play install keeps the packages the app
  reads at run time: the global cache in the installing user's home, on by
  default from yarn 4, or the project's .yarn/cache);
* :func:`lock_mismatch`: whether package-lock.json records package.json's
  dependencies (``npm ci`` refuses otherwise);
* :func:`node_major`: the Node.js major of an official node base image;
* :func:`build_step`: a command that runs a project build (``npm run
  build``, ``npx tsc``) and the devDependency its tool comes from.

Facts come from the model and the build context; knowledge is data
(``catalog/installs.json``, section ``node``).
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from dockeropt.context import BuildContext
from dockeropt.model.images import BaseImage
from dockeropt.shell import Command
from dockeropt.syntax import Instruction

if TYPE_CHECKING:
    from dockeropt.model import ImageModel
    from dockeropt.model.runs import Action


@cache
def node_data() -> dict[str, Any]:
    data = json.loads(resources.files("dockeropt.catalog").joinpath("installs.json").read_text(encoding="utf-8"))
    return dict(data["node"])


# --------------------------------------------------------------------------- files copied from the context

_GLOB = re.compile(r"[*?\[]")
_ARCHIVE = re.compile(r"\.(tar|tgz|gz|bz2|xz|zst|tbz2?|txz)$")


def context_file(m: ImageModel, ins: Instruction, target: str) -> str | None:
    """The build-context file COPY/ADD placed at ``target`` (absolute) before ``ins``, in its stage; None when not proven."""
    got = context_copy(m, ins, target)
    return got[0] if got is not None else None


def context_copy(m: ImageModel, ins: Instruction, target: str) -> tuple[str, Instruction] | None:
    """:func:`context_file` and the COPY/ADD that placed it."""
    bc = m.context
    if bc is None:
        return None
    # the answer depends only on the stage, the position of ``ins`` in it, ``target`` and the context's state:
    # DO101, DO107, DO108 and the runtime planners ask the same questions many times per round
    key = ("context_copy", ins.stage_index, ins.index, target, bc.overlay_version)
    return m.lookup(key, lambda: _context_copy(m, bc, ins, target))


def _context_copy(m: ImageModel, bc: BuildContext, ins: Instruction, target: str) -> tuple[str, Instruction] | None:
    found: tuple[str, Instruction] | None = None
    name = posixpath.basename(target)
    for other in m.node(ins).stage.body:
        if other.index >= ins.index:
            break
        if other.keyword == "RUN" and found is not None and name in other.args:
            found = None  # it may delete or rewrite the file
            continue
        cf = m.copy(other)
        if cf is None or not cf.from_context or cf.heredoc:
            continue
        if other.flag("parents") is not None or other.flag("exclude") is not None:
            continue
        dest = cf.dest.rstrip("/") or "/"
        for src in cf.sources:
            if cf.is_remote(src):
                continue
            hit = _places(bc, src, dest, cf.dest_is_dir, target, other.keyword)
            if hit is not None:
                found = (hit, other)
    return found


def _places(bc: BuildContext, src: str, dest: str, dir_dest: bool, target: str, keyword: str) -> str | None:
    src_n = posixpath.normpath(src).lstrip("/") or "."
    if src_n.startswith(".."):
        return None
    if _GLOB.search(src_n):
        parent = posixpath.dirname(src_n)
        if _GLOB.search(parent) or not dir_dest:
            return None  # a glob onto a file name: only valid with one match; not worth the guess
        base = posixpath.basename(target)
        if posixpath.normpath(posixpath.join(dest, base)) != target or not fnmatch.fnmatchcase(base, posixpath.basename(src_n)):
            return None
        cand = posixpath.join(parent, base) if parent else base
        return cand if bc.is_file(cand) else None
    if src_n == "." or bc.is_dir(src_n):
        if target == dest or not target.startswith(dest.rstrip("/") + "/"):
            return None
        cand = posixpath.normpath(posixpath.join(src_n, posixpath.relpath(target, dest)))
        return cand if bc.is_file(cand) else None
    if not bc.is_file(src_n):
        return None
    if keyword == "ADD" and _ARCHIVE.search(src_n):
        return None
    if dir_dest:
        return src_n if posixpath.normpath(posixpath.join(dest, posixpath.basename(src_n))) == target else None
    return src_n if dest == target else None


# --------------------------------------------------------------------------- node projects


@dataclass(frozen=True)
class NodeProject:
    """The package.json (and lockfiles) a command in ``cwd`` sees, as copied from the context."""

    cwd: str
    package_json: dict[str, Any] | None
    package_json_path: str | None  # context path
    locks: dict[str, str]  # file name in the image -> context path (lockfiles, .yarnrc.yml, .npmrc)


def node_project(m: ImageModel, ins: Instruction, a: Action) -> NodeProject | None:
    """What earlier COPY/ADD instructions put in the command's folder; None without a context or a known folder."""
    bc = m.context
    if bc is None or a.cwd is None:
        return None
    # the same questions of the same model from DO107, DO108, DO113 and the runtime planners
    cwd = a.cwd
    return m.lookup(("node_project", ins.index, cwd, bc.overlay_version), lambda: _node_project(m, bc, ins, cwd))


def _node_project(m: ImageModel, bc: BuildContext, ins: Instruction, cwd: str) -> NodeProject:
    pj = context_file(m, ins, posixpath.join(cwd, "package.json"))
    pkg = bc.read_json_object(pj) if pj else None
    locks: dict[str, str] = {}
    data = node_data()
    for name in (*data["lockfiles"], *data["project_files"]):
        src = context_file(m, ins, posixpath.join(cwd, name))
        if src is not None:
            locks[name] = src
    return NodeProject(cwd, pkg, pj, locks)


def yarn_flavour(proj: NodeProject | None, bc: BuildContext | None) -> str | None:
    """'classic', 'berry' or None (unknown or contradictory)."""
    if proj is None or bc is None:
        return None
    votes: set[str] = set()
    pm = (proj.package_json or {}).get("packageManager")
    if isinstance(pm, str) and pm.startswith("yarn@"):
        mt = re.match(r"yarn@(\d+)", pm)
        if mt:
            votes.add("classic" if int(mt.group(1)) < 2 else "berry")
    if ".yarnrc.yml" in proj.locks:
        votes.add("berry")
    lock = proj.locks.get("yarn.lock")
    if lock is not None:
        text = bc.read_text(lock) or ""
        if "__metadata:" in text:
            votes.add("berry")
        elif "yarn lockfile v1" in text:
            votes.add("classic")
    return votes.pop() if len(votes) == 1 else None


@dataclass(frozen=True)
class YarnLinker:
    """How yarn 2+ lays out what one install installs (its ``nodeLinker``), and where that was decided.

    ``how``: ``env`` (an ENV/ARG or the base image set the variable), ``prefix``
    (``VAR=x yarn install``), ``script`` (an ``export`` earlier in the RUN),
    ``command`` (a RUN before the install changes the setting: ``yarn config
    set nodeLinker``, or it writes .yarnrc.yml), ``file`` (a .yarnrc.yml the
    build context put in the project folder or above it) or ``default``
    (nothing sets it: yarn 2+ uses Plug'n'Play).
    """

    name: str | None  # pnp, node-modules, pnpm; None: set to something dockeropt cannot read
    how: str
    where: Instruction | None  # the ENV, RUN or COPY that decided it; None for the default and the base image
    path: str | None = None  # with ``file``: the .yarnrc.yml's context path

    @property
    def node_modules(self) -> bool:
        """The packages land in a node_modules folder, which plain ``node`` loads without yarn (no Plug'n'Play)."""
        return self.name in node_data()["yarn_linker"]["node_modules"]


def yarn_linker(m: ImageModel, ins: Instruction, a: Action) -> YarnLinker:
    """The ``nodeLinker`` a yarn 2+ install ``a`` (in RUN ``ins``) uses: the variable, then settings a RUN
    changed, then the nearest .yarnrc.yml from the project folder up, then yarn's default (Plug'n'Play)."""
    spec = node_data()["yarn_linker"]
    got = yarn_setting(m, ins, a, str(spec["setting"]), str(spec["env"]))
    if got.how == "default":
        return YarnLinker(str(spec["default"]), "default", None)
    return YarnLinker(_linker_value(got.value), got.how, got.where, got.path)


@dataclass(frozen=True)
class YarnSetting:
    """One yarn 2+ setting as an install sees it, and where it was decided (``how`` as in :class:`YarnLinker`)."""

    value: str | None  # as written (quotes and comments removed); None: not set (``default``) or unreadable
    how: str
    where: Instruction | None
    path: str | None = None  # with ``file``: the .yarnrc.yml's context path
    folder: str | None = None  # with ``file``: the image folder that .yarnrc.yml is in (relative paths start there)


def yarn_setting(m: ImageModel, ins: Instruction, a: Action, setting: str, var_name: str) -> YarnSetting:
    """The yarn 2+ setting ``setting`` (variable ``var_name``) for install ``a`` in RUN ``ins``: the variable, then
    a command before the install that changes it or .yarnrc.yml (value unknown unless it is ``yarn config set``),
    then the nearest .yarnrc.yml from the project folder up that sets it (yarn merges them key by key), else
    ``default`` (yarn's own default)."""
    rc = str(node_data()["yarn_linker"]["file"])
    var = a.env.get(var_name)
    if var is not None:
        if var.origin == "script":
            prefix = any((w.value or "").startswith(var_name + "=") for w in a.command.assignments)
            return YarnSetting(var.value, "prefix" if prefix else "script", ins)
        where = next((i for i in m.doc.instructions if i.index == var.instruction), None) if var.instruction is not None else None
        return YarnSetting(var.value, "env", where)
    if a.env.unreadable is not None:
        return YarnSetting(None, "script", ins)  # the RUN sets variables dockeropt cannot read before the install
    # a command before the install that changes the setting (yarn config set nodeLinker, echo ... > .yarnrc.yml)
    facts = m.run(ins)
    script = facts.script.text[: a.command.start] if facts is not None and facts.script is not None else ""
    if setting in script or rc in script:
        value = None
        for other in facts.actions if facts is not None else ():
            words = [w.value or "" for w in other.command.argv]
            if other.index < a.index and other.invocation is not None and setting in words[:-1]:
                value = words[words.index(setting) + 1]  # yarn config set nodeLinker node-modules
        return YarnSetting(value, "command", ins)
    body = m.node(ins).stage.body
    for other in reversed([x for x in body if x.index < ins.index and x.keyword == "RUN"]):
        if setting in other.args or rc in other.args:
            return YarnSetting(None, "command", other)
    bc = m.context
    folder = posixpath.normpath(a.project or a.cwd or "/")
    if bc is not None and folder.startswith("/"):
        rx = re.compile(rf"(?m)^\s*{re.escape(setting)}\s*:\s*(.*?)\s*$")
        while True:
            got = context_copy(m, ins, posixpath.join(folder, rc))
            if got is not None:
                mt = rx.search(bc.read_text(got[0]) or "")
                if mt:
                    value = re.sub(r"\s+#.*$", "", mt.group(1)).strip().strip("\"'")
                    return YarnSetting(value, "file", got[1], got[0], folder)
            if folder == "/":
                break
            folder = posixpath.dirname(folder)
    return YarnSetting(None, "default", None)


def yarn_berry(m: ImageModel, ins: Instruction, a: Action) -> bool:
    """``a`` runs yarn 2+: classified so (a .yarnrc.yml reached its folder), or yarn 1's id on a project whose
    packageManager and yarn.lock both say berry."""
    tools = node_data()["yarn_linker"]["tools"]
    if a.tool == tools["berry"]:
        return True
    return a.tool == tools["classic"] and yarn_flavour(node_project(m, ins, a), m.context) == "berry"


def yarn_major(m: ImageModel, ins: Instruction, a: Action) -> int | None:
    """The major version of the yarn release install ``a`` runs, from package.json's packageManager and the
    yarnPath release file .yarnrc.yml names; None when neither says or they disagree."""
    spec = node_data()["yarn_linker"]["version"]
    majors: set[int] = set()
    proj = node_project(m, ins, a)
    pm = (proj.package_json or {}).get("packageManager") if proj is not None else None
    if isinstance(pm, str) and pm.startswith(spec["package_manager"]):
        mt = re.match(r"(\d+)", pm[len(spec["package_manager"]):])
        if mt is None:
            return None
        majors.add(int(mt.group(1)))
    path = yarn_setting(m, ins, a, str(spec["setting"]), str(spec["env"]))
    if path.how != "default":
        mt = re.search(spec["release"], path.value or "")
        if mt is None:
            return None
        majors.add(int(mt.group(1)))
    return majors.pop() if len(majors) == 1 else None


@dataclass(frozen=True)
class PnpCache:
    """Where a yarn 2+ Plug'n'Play install keeps the package archives .pnp.cjs loads at run time.

    With ``enableGlobalCache`` (on by default from yarn 4) that is yarn's global folder's cache, in the
    installing user's home (``/root/.yarn/berry/cache`` as root); without it (yarn 2 and 3's default) the
    project's ``cacheFolder`` (``.yarn/cache``). The app then needs read access to that folder.
    """

    path: str | None  # absolute image folder; None: dockeropt cannot place it (an unreadable setting or home)
    global_cache: bool | None  # True: the global cache; False: cacheFolder; None: unknown (which yarn runs, or the setting)
    how: str  # what decided enableGlobalCache, as :class:`YarnSetting` (``default``: yarn's default for ``major``)
    where: Instruction | None  # the line that set enableGlobalCache (None for the default)
    major: int | None  # the yarn release's major version, when known
    linker: YarnLinker


def pnp_cache(m: ImageModel, ins: Instruction, a: Action) -> PnpCache | None:
    """For a yarn 2+ install ``a`` (in RUN ``ins``) that uses Plug'n'Play (or a linker dockeropt cannot read):
    the folder whose archives the app reads at run time. None for other commands and for installs that lay out
    node_modules. When the global cache may or may not be on (the yarn version is unknown), ``path`` is the global
    cache and ``global_cache`` is None."""
    for w in a.writes:  # a plain loop, not any(): every command of every RUN, every round (DO301)
        if w.kind == "project":
            break
    else:
        return None
    if not yarn_berry(m, ins, a):
        return None
    linker = yarn_linker(m, ins, a)
    if linker.node_modules:
        return None
    spec = node_data()["yarn_linker"]
    gc, gf, cf = spec["global_cache"], spec["global_folder"], spec["cache_folder"]
    major = yarn_major(m, ins, a)
    on = yarn_setting(m, ins, a, str(gc["setting"]), str(gc["env"]))
    glob: bool | None
    if on.how == "default":
        glob = None if major is None else major >= int(gc["on_from_major"])
    else:
        glob = True if on.value in spec["true"] else False if on.value in spec["false"] else None
    if glob is False:
        folder = yarn_setting(m, ins, a, str(cf["setting"]), str(cf["env"]))
        if folder.how == "default":
            path = _yarn_path(str(cf["default"]), a.project or a.cwd, None)
        else:  # relative to the .yarnrc.yml that sets it, or to the folder the command runs in
            path = _yarn_path(folder.value, folder.folder if folder.how == "file" else a.cwd, a.user.home)
        return PnpCache(path, False, on.how, on.where, major, linker)
    folder = yarn_setting(m, ins, a, str(gf["setting"]), str(gf["env"]))
    if folder.how != "default":
        root = _yarn_path(folder.value, folder.folder if folder.how == "file" else a.cwd, a.user.home)
    else:
        xdg = a.env.get(str(gf["xdg_env"]))  # yarn's default global folder is $XDG_DATA_HOME/yarn/berry when that is set
        if xdg is not None and xdg.value is None:
            root = None
        elif xdg is not None and xdg.value:
            root = _yarn_path(posixpath.join(xdg.value, str(gf["xdg_path"])), a.cwd, None)
        else:
            root = _yarn_path(str(gf["default"]), a.cwd, a.user.home)
    path = posixpath.join(root, str(gf["cache"])) if root is not None else None
    return PnpCache(path, glob, on.how, on.where, major, linker)


def _yarn_path(value: str | None, base: str | None, home: str | None) -> str | None:
    """A path setting as an absolute image path: ``~`` is ``home``, a relative one starts at ``base``; None if unknown."""
    if not value or "$" in value:
        return None
    if value.startswith("~"):
        if home is None or not (value == "~" or value.startswith("~/")):
            return None
        value = home + value[1:]
    if not value.startswith("/"):
        if base is None or not base.startswith("/"):
            return None
        value = posixpath.join(base, value)
    return posixpath.normpath(value)


def _linker_value(v: str | None) -> str | None:
    return v if v and re.fullmatch(r"[A-Za-z][\w-]*", v) else None


def lock_mismatch(pkg: dict[str, Any], lock: Any) -> str | None:
    """None when the lockfile's root entry records package.json's dependencies; else why not (for a note)."""
    if not isinstance(lock, dict):
        return "it is not a JSON object"
    version = lock.get("lockfileVersion")
    sections = node_data()["lock_sections"]
    if isinstance(version, int) and not isinstance(version, bool) and version >= 2:
        root = (lock.get("packages") or {}).get("") if isinstance(lock.get("packages"), dict) else None
        if not isinstance(root, dict):
            return "the lockfile has no entry for the root package"
        for s in sections:
            want = pkg.get(s) or {}
            have = root.get(s) or {}
            if want != have:
                return f"its {s} differ from package.json's"
        return None
    if version == 1:
        locked = lock.get("dependencies") or {}
        if not isinstance(locked, dict):
            return "its dependencies cannot be read"
        for s in sections:
            deps = pkg.get(s) or {}
            for name in deps if isinstance(deps, dict) else ():
                if name not in locked:
                    return f"'{name}' from package.json is missing from it"
                entry = locked[name]
                if s == "dependencies" and isinstance(entry, dict) and entry.get("dev") is True:
                    return f"'{name}' is a dependency in package.json but a devDependency in the lockfile"
        return None
    return "its lockfileVersion is not one dockeropt knows"


def node_major(image: BaseImage | None) -> int | None:
    """The Node.js major of an official node base image; 99 for floating tags (lts, latest, current)."""
    if image is None or image.info is None or image.info.family != "node":
        return None
    v = image.info.version
    if v is None:
        return 99
    mt = re.match(r"^(\d+)", v)
    return int(mt.group(1)) if mt else None


# --------------------------------------------------------------------------- build steps


@dataclass(frozen=True)
class BuildStep:
    cmd: Command
    ins: Instruction
    label: str  # how it is written, e.g. "npm run build"
    tool: str | None  # the binary that needs a devDependency (evidence) or looks like a build tool
    package: str | None  # the devDependency that provides it (None: no evidence)


@cache
def _node_managers() -> frozenset[str]:
    """Program names of the node package managers (npm, yarn, pnpm), from the catalog."""
    from dockeropt.catalog import catalog

    return frozenset(p.name for m in catalog().managers if m.ecosystem == "node" and m.id != "npx"
                     for p in m.programs if p.name)


def _script_tools(script: str, scripts: dict[str, Any], depth: int = 0) -> list[str]:
    """First words of the commands in an npm script (following ``npm run`` one level deep)."""
    data = node_data()
    tools: list[str] = []
    for seg in re.split(r"&&|\|\||[;|&]", script):
        words = seg.strip().split()
        while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in data["runners"]):
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[1:]
        if not words:
            continue
        w = words[0].rsplit("/", 1)[-1]
        if w in _node_managers() and depth < 2:
            rest = [x for x in words[1:] if not x.startswith("-")]
            if rest and rest[0] in ("run", "run-script"):
                rest = rest[1:]
            if rest and isinstance(scripts.get(rest[0]), str):
                tools.extend(_script_tools(scripts[rest[0]], scripts, depth + 1))
            continue
        tools.append(w)
    return tools


def build_step(a: Action, ins: Instruction, pkg: dict[str, Any] | None) -> BuildStep | None:
    """A command that runs a project build (``npm run X``, ``yarn build``, ``npx tsc``, ``vite build``)."""
    data = node_data()
    cmd = a.command
    name = cmd.name
    if name is None:
        return None
    scripts = (pkg or {}).get("scripts") or {}
    if not isinstance(scripts, dict):
        scripts = {}
    label = " ".join(w.text for w in cmd.effective()[:3])
    tools: list[str] = []
    rest = [x for x in cmd.args if x is None or not x.startswith("-")]
    if a.ecosystem == "node" and a.tool != "npx":
        if not rest or rest[0] is None:
            return None
        script: str | None = None
        if a.verb == "run" and rest[0] in ("run", "run-script"):
            if len(rest) < 2 or rest[1] is None:
                return None
            script = rest[1]
        elif a.tool != "npm" and rest[0] in ("exec", "dlx") and len(rest) > 1 and rest[1] is not None:
            tools = [rest[1]]
        elif a.tool != "npm" and a.verb == "run" and rest[0] not in data["not_scripts"]:
            script = rest[0]  # "yarn build" / "pnpm build"
        else:
            return None
        if script is not None:
            pre = scripts.get("pre" + script)
            if isinstance(pre, str):
                tools.extend(_script_tools(pre, scripts))
            body = scripts.get(script)
            if isinstance(body, str):
                tools.extend(_script_tools(body, scripts))
            elif pkg is None and script == "build":
                tools = ["build"]
    elif a.tool == "npx" or name == "npx":
        if not rest or rest[0] is None:
            return None
        tools = [rest[0].rsplit("/", 1)[-1]]
    elif name in data["bin_packages"]:
        tools = [name]
    else:
        return None
    if pkg is not None:
        dev = pkg.get("devDependencies") or {}
        deps = pkg.get("dependencies") or {}
        if isinstance(dev, dict) and isinstance(deps, dict):
            for t in tools:
                for p in (*data["bin_packages"].get(t, ()), t):
                    if p in dev and p not in deps:
                        return BuildStep(cmd, ins, label, t, p)
        return None
    for t in tools:
        if t in data["build_tools"] or t == "build":
            return BuildStep(cmd, ins, label, t if t != "build" else None, None)
    return None


__all__ = ["BuildStep", "NodeProject", "PnpCache", "YarnLinker", "YarnSetting", "build_step", "context_copy", "context_file",
           "lock_mismatch", "node_data", "node_major", "node_project", "pnp_cache", "yarn_berry", "yarn_flavour", "yarn_linker",
           "yarn_major", "yarn_setting"]
