"""DO201 for Python (pip, poetry, pipenv, uv) and for slim/alpine images that install build packages.

A runtime stage pays only when the build needs what the runtime does not:
a compiler and headers (a dependency without a wheel, ``--no-binary``, a
local project, ``-dev`` packages), git, or a tool such as poetry, pipenv or uv.
Otherwise the single stage on the slim base is as small, and DO202 does that.

The dependencies go to one virtualenv the runtime copies: the project's own
``.venv`` (uv, in-project poetry/pipenv), the one the stage already made, or
``/opt/venv``, created and activated (``VIRTUAL_ENV`` and ``PATH``) right
before the dependency install so that pip, poetry and pipenv all install into
it while the tools themselves stay behind. ``poetry run``, ``pipenv run`` and
``uv run`` are resolved to the program they run from that virtualenv (the
catalog says why per launcher). The app comes from the build context as the
original COPYs brought it, or from the build stage when a RUN changed it.
"""

from __future__ import annotations

import posixpath
import re

from dockeropt.catalog.images import slim_variant
from dockeropt.model import ecosystems as eco
from dockeropt.model.native import python_dependencies
from dockeropt.syntax import Instruction

from ._runtime_common import (
    add,
    check_user,
    native_packages,
    owner_flag,
    release,
    runtime_packages,
    start_tools,
    strip_launcher,
)
from ._runtime_stage_analysis import Act, Blocked, StageRead, under
from ._runtime_stage_edit import ExtraStage, Plan


def plan(r: StageRead) -> Plan | None:
    spec = eco.spec("python")
    tools: dict[str, dict] = spec["tools"]
    ctx = r.context
    acts = [a for a in r.acts if a.action.ecosystem == "python" or a.action.verb == "venv" or a.action.tool in ("venv", "compileall")]
    tool_installs: list[Act] = []
    dep_installs: list[Act] = []
    venvs: list[str] = []
    for a in acts:
        ac = a.action
        if ac.verb == "venv":
            venvs.extend(w.path for w in ac.writes if w.path)
            continue
        if ac.tool == "compileall":
            continue
        if ac.tool in ("pip", "uv-pip") and ac.verb in ("install", "sync") and ac.packages and all(
                _pkg_name(p) in tools for p in ac.packages) and not ac.manifests:
            tool_installs.append(a)
            continue
        if ac.verb in ("run",):
            raise Blocked(f"runs `{ac.tool} run` in the build; dockeropt cannot tell what it writes", a.ins,
                          "Run the command in the build stage of a hand-made split")
        if ac.manager is not None and ac.manager.ecosystem == "python" and ac.installs:  # pip, uv, poetry, pipenv
            dep_installs.append(a)
            continue
        if ac.verb in ("other", "config", "lock", "fetch", "clean", "remove"):
            continue
        raise Blocked(f"runs `{ac.tool} {ac.verb}`, which dockeropt does not place in a build or a runtime stage", a.ins)
    if not dep_installs:
        return None
    managers = {a.action.tool for a in dep_installs}
    used_tools = {t for t in managers if t in tools}
    # -- what the dependencies need
    deps = _dependencies(r, dep_installs)
    build_pkgs = [p for p, _ in r.packages if eco.is_build_only(p)]
    compiles = [d.name for d in deps.compiles] if deps is not None else []
    needs_build = bool(compiles or build_pkgs or (deps is not None and (deps.git or deps.unknown)) or used_tools or ctx is None)
    if not needs_build:
        return None  # every dependency installs from a wheel: the slim base alone does it (DO202)
    p = Plan(base="", shell=True, pm=r.pm, safety=r.safety)
    if r.info is not None and r.info.is_full:
        slim = slim_variant(r.base)
        if slim is None:
            raise Blocked(f"builds on {r.base}, and dockeropt knows no slim variant of it", r.stage.from_instruction)
        p.base = slim
        p.leaves.append("the full image's compilers, headers and extra tools")
    else:
        p.base = r.base  # a slim or alpine base that installed build packages: the runtime is the same base without them
    runtime_packages(r, p)
    if deps is not None:
        for d in deps.native:
            if d.runtime:
                native_packages(p, list(d.runtime), f"{d.name}, " + ("built against it" if d.compiles else "which loads it at run time"))
        if deps.unknown:
            p.checks.append(deps.unknown[0])
    if compiles:
        p.checks.append(f"{', '.join(compiles[:3])} {'is' if len(compiles) == 1 else 'are'} compiled in the build stage, which has the compilers")
    if used_tools:
        p.leaves.append(" and ".join(sorted(used_tools)))
    # -- where the dependencies go
    env_dirs = _environment(r, p, dep_installs, venvs, tool_installs)
    for d in env_dirs:
        p.copies.append(f"COPY --from={{build}}{owner_flag(r, d)} {d} {d}")
    # -- the app
    if r.app_changed or any(a.action.tool == "compileall" for a in acts):
        for d in r.app_dirs:
            if not any(under(e, d) and e == d for e in env_dirs):
                p.after_copies.append(f"COPY --from={{build}}{owner_flag(r, d)} {d} {d}")
        p.checks.append("the app folder comes from the build stage, because a RUN changed it there")
    else:
        _dependency_folders(r, env_dirs)
        p.context_copies = True
    p.drop_env = eco.build_only_env("python")
    _launch(r, p, spec)
    start_tools(r, p, r.info.family if r.info else None)
    check_user(r, p)
    if ctx is None:
        p.checks.append("no build context was given, so the requirements and the app's files could not be checked")
    p.checks.append("console scripts resolve from the virtualenv and the app finds every file it reads")
    return p


def _pkg_name(spec: str) -> str:
    import re

    m = re.match(rf"^({eco.package_name()})", spec)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else spec


def _dependencies(r: StageRead, installs: list[Act]):  # type: ignore[no-untyped-def]
    ctx = r.context
    if ctx is None:
        return None
    files: list[str] = []
    named: list[str] = []
    no_binary: set[str] = set()
    with_dev = False
    for a in installs:
        ac = a.action
        for man in ac.manifests:
            rel = r.context_dir(man, a.ins.index)
            if rel is not None and ctx.is_file(rel):
                files.append(rel)
            elif rel is not None and ac.tool in ("pip", "uv-pip") and posixpath.basename(man) not in ("pyproject.toml", "setup.py", "setup.cfg"):
                files.append(rel)  # a requirements file named on the command line that is not there: said so below
        named.extend(ac.packages)
        nb = ac.flag_value(*ac.manager.source_build_flags) if ac.manager is not None and ac.manager.source_build_flags else None
        if nb:
            no_binary.update(x.strip().lower() for x in nb.split(","))
        with_dev = with_dev or ac.has_flag("--dev", "-d")
        if ac.tool in ("pip", "uv-pip"):
            for man in ac.manifests:
                if posixpath.basename(man) in ("pyproject.toml", "setup.py", "setup.cfg"):
                    named.append("./")  # a local project
                    break
    return python_dependencies(ctx, files, named, no_binary=frozenset(no_binary), package_manager=r.pm, with_dev=with_dev)


def _environment(r: StageRead, p: Plan, installs: list[Act], venvs: list[str], tool_installs: list[Act]) -> list[str]:
    """The folders the installs write (copied to the runtime); inserts /opt/venv where they would write the system."""
    venv = eco.spec("python")["venv"]
    out: list[str] = []
    need_venv: Act | None = None
    for a in installs:
        ac = a.action
        kinds = {w.kind for w in ac.writes}
        if ac.tool in ("poetry", "pipenv") and "project" not in kinds and "venv" not in kinds:
            need_venv = need_venv or a  # their own virtualenv has a hashed name: make them use /opt/venv
            continue
        for w in ac.writes:
            if w.kind == "system":
                need_venv = need_venv or a
            elif w.path is None:
                raise Blocked(f"installs with {ac.tool} into a folder dockeropt cannot resolve", a.ins)
            elif w.kind in ("venv", "project", "home", "path", "prefix"):
                add(out, w.path)
                if w.kind == "project" and f'ENV PATH="{w.path}/bin:$PATH"' not in p.env:  # once, however many installs write it
                    p.env.append(f'ENV PATH="{w.path}/bin:$PATH"')
                elif w.kind == "home" and w.path.endswith("/.local"):
                    pass  # pip --user: the image's PATH already names ~/.local/bin (carried ENV)
    if need_venv is not None:
        if venvs:
            raise Blocked(f"makes a virtualenv ({venvs[0]}) but installs outside it", need_venv.ins)
        same = [t for t in tool_installs if t.ins.index == need_venv.ins.index]
        # before the manifests the install reads (after the tools): a manifest edit does not make the venv again
        after_tools = max([t.ins.index for t in tool_installs if t.ins.index < need_venv.ins.index] + [-1])
        anchor = next((ins.index for ins, _cf in r.copies if after_tools < ins.index < need_venv.ins.index), need_venv.ins.index)
        bare = _venv_without_pip(r, installs, tool_installs)
        make = "RUN python -m venv " + ("--without-pip " if bare else "") + venv
        if not bare and _venv_stage_ok(r, anchor, tool_installs):
            vs = ExtraStage("{venv}", r.node.base_text)
            vs.lines.extend(x for x in r.carried if x.index < anchor)
            vs.lines.append(make)
            p.first.append(vs)
            make = f"COPY --from={{venv}} {venv} {venv}"
            p.checks.append(f"{venv} is made in a stage of its own on the same base, which BuildKit builds while the build stage's "
                            "earlier steps run (none of them can change the Python it is made from)")
        p.before[anchor] = [make, f'ENV VIRTUAL_ENV={venv} PATH="{venv}/bin:$PATH"']
        if bare:
            p.checks.append(f"{venv} is made without pip (`--without-pip`): {bare} fills it with its own installer, and the runtime gets no pip")
        p.env.append(f'ENV VIRTUAL_ENV={venv} PATH="{venv}/bin:$PATH"')
        add(out, venv)
        if same and bare:
            p.checks.append(f"{' and '.join(same[0].action.packages)} in the same RUN is installed by the image's own pip ({venv} has none), "
                            "so it stays in the build stage")
        elif same:
            p.checks.append(f"{' and '.join(same[0].action.packages)} is installed in the same RUN as the dependencies, so it lands in {venv} "
                            "too; a RUN of its own before it keeps it out of the image")
    for v in venvs:
        add(out, v)
    env_paths = sorted(set(out), key=len)
    pruned: list[str] = []
    for d in env_paths:
        if not any(under(d, q) for q in pruned):
            pruned.append(d)
    return [d for d in out if d in pruned]


def _venv_stage_ok(r: StageRead, anchor: int, tool_installs: list[Act]) -> bool:
    """Whether the venv made before instruction ``anchor`` can be made in a parallel stage instead (catalog ``venv_stage``):
    a RUN before it to overlap with, and every step before it one that leaves the Python alone."""
    spec = eco.spec("python").get("venv_stage")
    if not isinstance(spec, dict):
        return False
    earlier = [ins for ins in r.body if ins.index < anchor]
    if not any(ins.keyword == "RUN" for ins in earlier):
        return False
    tools = {t.ins.index for t in tool_installs if t.action.tool == "pip"}
    for ins in earlier:
        if ins.keyword in spec["keywords"] or (ins.keyword == "RUN" and (ins.index in tools or _system_only(r, ins, spec))):
            continue
        return False
    python = re.compile(spec["python_packages_regex"])
    return not any(ins.index < anchor and python.search(name.lower()) for name, ins in r.packages)


def _system_only(r: StageRead, ins: Instruction, spec: dict) -> bool:
    """Every command of the RUN is a system package manager's or removes files under the catalog's ``fs_paths``."""
    facts = r.m.run(ins)
    if facts is None or not facts.understood or not facts.actions:
        return False
    for a in facts.actions:
        if a.ecosystem in spec["run_ecosystems"]:
            continue
        if a.verb == "fs" and a.writes and all(w.path and any(under(w.path, q) for q in spec["fs_paths"]) for w in a.writes):
            continue
        return False
    return True


def _venv_without_pip(r: StageRead, installs: list[Act], tool_installs: list[Act]) -> str | None:
    """The installer that fills the venv without its pip (catalog ``venv_without_pip``), if every install is by it
    and the release that runs is one the catalog checked (pinned at or after ``since``, or unpinned on a Python
    that only the checked releases support)."""
    table = eco.spec("python").get("venv_without_pip", {})
    tools = {a.action.tool for a in installs}
    if len(tools) != 1:
        return None
    tool = tools.pop()
    entry = table.get(tool)
    if not isinstance(entry, dict):
        return None
    since = release(str(entry.get("since", "")))
    oldest_python = release(str(entry.get("python", "")))
    python = release(r.info.version or "") if r.info is not None else None
    pins = [spec for t in tool_installs for spec in t.action.packages if re.match(rf"{re.escape(tool)}\b", spec.strip().lower())]
    if since is None or not pins:
        return None  # the tool's install is not in this stage: its release is unknown
    for spec in pins:
        m = re.fullmatch(rf"{re.escape(tool)}\s*(?:(==|~=|>=)\s*([0-9][0-9.]*))?\s*", spec.strip().lower())
        if m is None:
            return None  # a range or marker dockeropt does not read
        if m.group(2) is None:
            if python is None or oldest_python is None or python < oldest_python:
                return None  # unpinned on an older Python: an older release may be installed
        elif (release(m.group(2)) or (0, 0)) < since:
            return None
    return tool


def _dependency_folders(r: StageRead, env_dirs: list[str]) -> None:
    """A project .venv in the build context would overwrite the one the runtime copies."""
    ctx = r.context
    if ctx is None:
        return
    for d in env_dirs:
        rel = r.context_dir(d)
        if rel is not None and ctx.exists(rel) and not ctx.ignored(rel):
            raise Blocked(f"copies the build context, whose `{rel}` folder `.dockerignore` does not exclude: it would replace the "
                          "virtualenv the build made", r.first_context_copy(), f"Add `{rel}` to .dockerignore")


def _launch(r: StageRead, p: Plan, spec: dict) -> None:
    st = r.start
    launchers: dict[str, dict] = spec["launchers"]
    for name, how in launchers.items():
        stripped = strip_launcher(r, (name, "run"))
        if stripped is None:
            if st.launcher == name or (st.program_text or "").lstrip().startswith(f"{name} run") or _in_shell(r, name):
                raise Blocked(f"starts through `{name} run` with options dockeropt does not translate", st.cmd or st.entrypoint,
                              f"Start the program directly, or keep {name} in a hand-made runtime stage")
            continue
        runner = how.get("scripts_with")
        if runner and isinstance(stripped, list) and stripped and stripped[0].endswith(".py"):
            stripped = [runner, *stripped]  # `uv run app.py` runs the script with the project's python
        elif runner and isinstance(stripped, str) and re.match(r"^\s*(exec\s+)?\S+\.py(\s|$)", stripped):
            lead = re.match(r"^\s*(?:exec\s+)?", stripped)
            cut = lead.end() if lead else 0
            stripped = stripped[:cut] + f"{runner} " + stripped[cut:]
        if isinstance(stripped, list):
            if r.start.cmd is not None:
                p.cmd = stripped
            else:
                p.entrypoint = stripped
        else:
            p.cmd = stripped
        p.checks.append(f"`{name} run` is gone from the start command: {how['why']}")
        return
    for w in (st.argv or ()):
        if w.startswith(("/usr/local/bin/", "/usr/bin/pip")) and posixpath.basename(w) not in ("python", "python3"):
            raise Blocked(f"starts `{w}`, which moves into the virtualenv", st.cmd or st.entrypoint, "Start it by its name")


def _in_shell(r: StageRead, name: str) -> bool:
    ins = r.start.cmd or r.start.entrypoint
    return ins is not None and f"{name} run" in ins.args
