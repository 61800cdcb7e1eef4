"""DO201 for node: production dependencies from their own stage, app files copied entry by entry.

A runtime stage that copies the whole app folder from the build stage copies
node_modules again (and exports it again) after every source edit, and the
build stage has to `npm prune` after every build. Instead a `deps` stage built
only from the manifests installs the production dependencies, the runtime copies
that folder first (cached until the manifests change), then the top-level
entries of the app folder from the build stage, node_modules excluded.

That needs the exact list of entries the build stage's app folder holds: the
context entries its COPYs bring in (`.dockerignore` honoured) plus what its RUNs
create there (`tsc` output from tsconfig's outDir, `mkdir`/`touch`). Whenever
that list is not certain, :func:`plan_deps_stage` returns None and DO201 keeps
the whole-folder copy.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass, field

from dockeropt.analysis import copy_spec, workdirs
from dockeropt.context import BuildContext
from dockeropt.shell import run_script
from dockeropt.syntax import Instruction, Stage

from ._runtime_stage_analysis import StageFacts, _abs, _apt_packages, _path_args, cmd_cwd, under

# what the deps stage copies from the context (beside package.json) when present
NODE_MANIFESTS = ("package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc")
_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
# the root package's own lifecycle scripts run by `npm ci`/`npm install`: they may need the sources
_INSTALL_SCRIPTS = ("preinstall", "install", "postinstall", "prepublish", "preprepare", "prepare", "postprepare")
# flags of the original install that choose dev dependencies: the deps stage sets its own
_DEV_FLAGS = re.compile(r"^--(production(=\S*)?|only=\S+|omit=dev|include=dev|also=\S+|dev)$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_@+][A-Za-z0-9._@+,=-]*$|^\.[A-Za-z0-9_@+][A-Za-z0-9._@+,=-]*$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]*$")
_NOOP = {"echo", "true", "set", "cd", ":", "printf"}
_TSC = re.compile(r"^tsc(?:\s+(?:-p|--project)\s+(\S+))?$")
_JSONC_COMMENT = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


@dataclass
class DepsPlan:
    """The deps stage and the runtime copies that replace the whole-folder copy."""

    install_dir: str  # absolute folder npm installs into (the app folder)
    lines: list[str]  # the deps stage's instructions after its FROM and the carried ARG/ENV (upper-case keywords)
    carried: list[Instruction] = field(default_factory=list)  # ARG/ENV of the build stage before the install
    entries: dict[str, bool] = field(default_factory=dict)  # top-level name → is a folder
    lockfile: bool = False


class _NoPlan(Exception):
    pass


def plan_deps_stage(
    stage: Stage, f: StageFacts, context: BuildContext | None, pkg: dict[str, object] | None,
    scripts: dict[str, object], rel: str, idir: str, omit_flag: str,
) -> DepsPlan | None:
    """A deps-stage plan, or None when the app folder's contents are not certain."""
    try:
        return _plan(stage, f, context, pkg, scripts, rel, idir, omit_flag)
    except _NoPlan:
        return None


def _plan(
    stage: Stage, f: StageFacts, context: BuildContext | None, pkg: dict[str, object] | None,
    scripts: dict[str, object], rel: str, idir: str, omit_flag: str,
) -> DepsPlan:
    if context is None or pkg is None:
        raise _NoPlan
    if not _SAFE_PATH.match(idir):
        raise _NoPlan  # written unquoted into WORKDIR and COPY
    if f.apt_pkgs or f.user_runs or f.node_globals or f.roots != [idir]:
        raise _NoPlan  # system packages or other folders the install may rely on
    if "workspaces" in pkg or any(k in scripts for k in _INSTALL_SCRIPTS):
        raise _NoPlan
    for key in ("dependencies", "optionalDependencies", "devDependencies", "peerDependencies"):
        deps = pkg.get(key)
        if isinstance(deps, dict) and any(
            isinstance(v, str) and v.startswith(("file:", "link:", "workspace:", ".", "/")) for v in deps.values()
        ):
            raise _NoPlan  # local packages come from the sources
    wd = workdirs(stage)
    install: tuple[Instruction, list[str]] | None = None
    plan = DepsPlan(install_dir=idir, lines=[])
    for ins in stage.body:
        cwd = wd[ins.index]
        if ins.keyword in ("COPY", "ADD"):
            _copy_entries(ins, cwd, f, context, plan)
        elif ins.keyword == "RUN":
            found = _run_entries(ins, cwd, f, context, scripts, rel, idir, plan)
            if found is not None:
                if install is not None:
                    raise _NoPlan  # more than one install
                install = (ins, found)
    if install is None:
        raise _NoPlan
    ins, flags = install
    if any(fl.name != "mount" or "type=cache" not in (fl.value or "") for fl in ins.flags):
        raise _NoPlan  # secrets or ssh the deps stage would need too
    manifests = [m for m in NODE_MANIFESTS if context.is_file(posixpath.join(rel, m))]
    if "package.json" not in manifests:
        raise _NoPlan
    plan.lockfile = any(m in manifests for m in _LOCKFILES)
    for name in manifests:
        plan.entries.pop(name, None)
    plan.entries.pop("node_modules", None)
    bad = [n for n in plan.entries if not _SAFE_NAME.match(n)]
    if bad:
        raise _NoPlan
    # ARG/ENV set before the install may steer npm (registry, NODE_ENV): the deps stage gets them too
    carried = [x for x in stage.body if x.keyword in ("ARG", "ENV") and x.index < ins.index]
    sub = "ci" if plan.lockfile else "install"
    srcs = " ".join(posixpath.normpath(posixpath.join(rel, m)) for m in manifests)
    plan.carried = carried
    lines: list[str] = []
    lines.append(f"WORKDIR {idir}")
    lines.append(f"COPY {srcs} ./")
    lines.append(" ".join(["RUN npm", sub, omit_flag, *flags]))
    plan.lines = lines
    return plan


def _add(plan: DepsPlan, name: str, is_dir: bool) -> None:
    plan.entries[name] = plan.entries.get(name, False) or is_dir


def _copy_entries(ins: Instruction, cwd: str | None, f: StageFacts, context: BuildContext, plan: DepsPlan) -> None:
    spec = copy_spec(ins)
    if spec is None or spec.from_stage is not None or ins.keyword == "ADD" or ins.flag("parents") is not None:
        raise _NoPlan
    dest = _abs(cwd, spec.dest, f.base)
    root = plan.install_dir
    if dest is None:
        raise _NoPlan
    if not under(dest, [root]):
        raise _NoPlan
    if dest != root:
        sub = posixpath.relpath(dest, root)
        top = sub.split("/")[0]
        _add(plan, top, sub != top or len(spec.sources) > 1 or spec.dest.endswith("/") or _is_dir_src(spec.sources, context))
        return
    for src in spec.sources:
        s = posixpath.normpath(src)
        if s.startswith(".."):
            raise _NoPlan
        if any(c in s for c in "*?["):
            parent = posixpath.dirname(s) or "."
            if any(c in parent for c in "*?["):
                raise _NoPlan
            matches = [posixpath.join(parent, n) if parent != "." else n for n in context.listdir(parent)
                       if fnmatch.fnmatchcase(n, posixpath.basename(s))]
        else:
            if not context.exists(s):
                raise _NoPlan
            matches = [s]
        for m in matches:
            if context.is_dir(m):
                for n in context.listdir(m):
                    _add(plan, n, context.is_dir(n if m == "." else posixpath.join(m, n)))
            else:
                _add(plan, posixpath.basename(m), False)


def _is_dir_src(sources: tuple[str, ...], context: BuildContext) -> bool:
    return any(context.is_dir(posixpath.normpath(s)) for s in sources)


def _run_entries(
    ins: Instruction, cwd: str | None, f: StageFacts, context: BuildContext, scripts: dict[str, object],
    rel: str, idir: str, plan: DepsPlan,
) -> list[str] | None:
    """Record what the RUN creates in the app folder; the install's extra flags when it is the npm install."""
    if ins.heredocs:
        raise _NoPlan
    rs = run_script(ins)
    if rs is None or not rs.script.ok:
        raise _NoPlan
    found: list[str] | None = None
    for cmd in rs.script.commands:
        name = cmd.name
        ccwd = cmd_cwd(cwd, cmd, f.base)
        if name in _NOOP or (name is not None and _apt_packages(cmd) == []):
            continue
        if name == "npm":
            args = cmd.args
            sub = args[0] if args else None
            if ccwd != idir or cmd.assignments:
                raise _NoPlan
            if sub in ("install", "i", "ci", "clean-install"):
                rest = args[1:]
                if found is not None or any(a is None or not a.startswith("-") for a in rest):
                    raise _NoPlan  # named packages change package.json in the build stage only
                found = [a for a in rest if a is not None and not _DEV_FLAGS.match(a)]
                continue
            if sub == "prune":
                continue  # only node_modules, which the runtime takes from the deps stage
            if sub in ("run", "run-script") and len(args) >= 2 and args[1] is not None:
                _script_outputs(args[1], scripts, context, rel, idir, plan)
                continue
            raise _NoPlan
        if name in ("mkdir", "touch"):
            for p in _path_args(cmd):
                q = _abs(ccwd, p, f.base) if p is not None else None
                if q is None or not under(q, [idir]) or q == idir:
                    raise _NoPlan
                top = posixpath.relpath(q, idir).split("/")[0]
                _add(plan, top, name == "mkdir" or posixpath.relpath(q, idir) != top)
            continue
        if name in ("chmod", "chown"):
            for p in _path_args(cmd):
                q = _abs(ccwd, p, f.base) if p is not None else None
                if q is None or not under(q, [idir]):
                    raise _NoPlan
            continue
        raise _NoPlan
    return found


def _script_outputs(script: str, scripts: dict[str, object], context: BuildContext, rel: str, idir: str, plan: DepsPlan) -> None:
    """Top-level entries an `npm run <script>` creates; only `tsc` with an outDir is understood."""
    body = scripts.get(script)
    if not isinstance(body, str) or f"pre{script}" in scripts or f"post{script}" in scripts:
        raise _NoPlan
    m = _TSC.match(body.strip())
    if m is None:
        raise _NoPlan
    cfg_rel = posixpath.normpath(posixpath.join(rel, m.group(1) or "tsconfig.json"))
    cfg = _read_jsonc(context, cfg_rel)
    if cfg is None or "extends" in cfg:
        raise _NoPlan
    opts = cfg.get("compilerOptions")
    out = opts.get("outDir") if isinstance(opts, dict) else None
    if not isinstance(out, str) or isinstance(opts, dict) and any(k in opts for k in ("tsBuildInfoFile", "declarationDir", "outFile")):
        raise _NoPlan
    target = posixpath.normpath(posixpath.join(posixpath.dirname(cfg_rel), out))
    rel_out = posixpath.relpath(target, posixpath.normpath(rel))
    if rel_out.startswith("..") or rel_out == ".":
        raise _NoPlan
    _add(plan, rel_out.split("/")[0], True)


def _read_jsonc(context: BuildContext, rel: str) -> dict[str, object] | None:
    text = context.read_text(rel)
    if text is None:
        return None
    text = _JSONC_COMMENT.sub(lambda m: m.group(1) or "", text)
    text = _TRAILING_COMMA.sub(r"\1", text)
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def runtime_copies(plan: DepsPlan) -> list[tuple[str, str]]:
    """(sources, destination) pairs from the build stage: one COPY per folder, the files together."""
    root = plan.install_dir.rstrip("/") or "/"
    out: list[tuple[str, str]] = []
    files = [n for n, d in sorted(plan.entries.items()) if not d]
    for n, d in sorted(plan.entries.items()):
        if d:
            out.append((posixpath.join(root, n), posixpath.join(root, n)))
    if files:
        out.append((" ".join(posixpath.join(root, n) for n in files), root.rstrip("/") + "/"))
    return out
