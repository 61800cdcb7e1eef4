"""DO201 for node (npm, yarn classic and berry, pnpm) and static front-ends.

* No build step (only the dependency install): the original stage is not
  needed at all. A ``deps`` stage installs the production dependencies from
  the manifests alone (the ONE install of the file: the original command with
  the manager's production flag), and the runtime copies that node_modules and
  then the app from the build context exactly as the original COPYs did, so a
  file added next week reaches the image and ``.dockerignore`` (DO203) decides
  what stays out. Workspaces take this path too when the model can copy
  every package's package.json ahead of the source (model.deps, the same
  facts DO101 splits by): the deps stage copies each one to its folder.
* A build step (``npm run build``, tsc, install scripts, workspaces the
  model cannot list, local packages): the original stage is the build stage; it prunes the dev
  dependencies after building and the runtime copies the app folder from it
  whole.
* The runtime is distroless nodejs when the app runs as ``node file.js``
  (launchers resolved through package.json) and needs no shell, npm or
  system library; otherwise the node slim image.
* A static server (http-server, serve) of a folder the build made: the
  folder is served by nginx on the same port.
* Yarn 2+ must install node_modules (``nodeLinker: node-modules`` or
  ``pnpm``, from .yarnrc.yml or YARN_NODE_LINKER; model.project.yarn_linker):
  with Plug'n'Play, yarn's default, the app needs .pnp.cjs and yarn's package
  cache at run time and plain ``node`` loads neither, so the stage is left
  alone with a note naming the line that decides it.
"""

from __future__ import annotations

import posixpath
import re

from dockeropt.catalog import catalog
from dockeropt.catalog.images import current_version_tag, distroless_for, slim_variant
from dockeropt.context import digest
from dockeropt.model import ecosystems as eco
from dockeropt.model.deps import ContextView, read_install
from dockeropt.model.native import node_dependencies
from dockeropt.model.project import node_project, yarn_flavour, yarn_linker
from dockeropt.model.runtime import source_files

from ._runtime_common import (
    add,
    app_change,
    check_user,
    command_text,
    native_packages,
    owner_flag,
    runtime_packages,
    start_tools,
)
from ._runtime_stage_analysis import Act, Blocked, StageRead, under
from ._runtime_stage_edit import ExtraStage, Plan


def _lockfiles(mgr: str) -> tuple[str, ...]:
    """The lockfiles of package manager ``mgr`` (package_managers.json)."""
    m = catalog().by_id.get(mgr)
    return m.lockfiles if m is not None else ()


def plan(r: StageRead) -> Plan:
    spec = eco.spec("node")
    ctx = r.context
    installs = [a for a in r.installs() if a.action.ecosystem == "node"]
    static = _static(r, spec)
    if static is not None:
        return static
    if not installs:
        raise Blocked("installs no node dependencies dockeropt can move", r.stage.from_instruction)
    mgr = installs[0].action.tool
    managers = {a.action.tool for a in installs}
    if len(managers) > 1:
        other = next(a for a in installs if a.action.tool != mgr)
        raise Blocked(f"installs with {' and '.join(sorted(managers))}; dockeropt splits one package manager at a time", other.ins)
    if mgr == "yarn-classic" and yarn_flavour(node_project(r.m, installs[0].ins, installs[0].action), ctx) == "berry":
        mgr = "yarn-berry"  # no .yarnrc.yml, but packageManager and yarn.lock say yarn 2+
    mspec = spec["managers"].get(mgr)
    if mspec is None:
        raise Blocked(f"installs with {mgr}, which dockeropt does not split", installs[0].ins)
    projects = {a.action.project for a in installs}
    if len(projects) != 1 or None in projects:
        other = next(a for a in installs if a.action.project is None or a.action.project != installs[0].action.project)
        raise Blocked("installs node packages in more than one folder" if len(projects) > 1 else
                      "installs node packages in a folder dockeropt cannot tell", other.ins)
    idir = projects.pop()
    assert idir is not None
    named = next((a for a in installs if a.action.packages), None)
    if named is not None:
        names = ", ".join(f"`{x}`" for x in named.action.packages[:3]) + (", …" if len(named.action.packages) > 3 else "")
        raise Blocked(f"installs {names}, named on the command line, which changes package.json in the build stage only", named.ins,
                      "Add them to package.json")
    rel = r.project_dir(installs[0]) if ctx is not None else None
    pkg = ctx.read_json_object(posixpath.join(rel, "package.json")) if ctx is not None and rel is not None else None
    scripts = pkg.get("scripts") if isinstance(pkg, dict) and isinstance(pkg.get("scripts"), dict) else {}
    dev = pkg.get("devDependencies") if isinstance(pkg, dict) and isinstance(pkg.get("devDependencies"), dict) else {}
    deps_facts = node_dependencies(ctx, rel, package_manager=r.pm) if ctx is not None and rel is not None else None
    builds = [a for a in r.builds() if a.action.ecosystem in ("node", "system")]
    _build_writes_outside(r, builds, scripts, idir)
    reasons_source: list[str] = []
    ws_files: list[str] | None = None  # the workspace packages' package.json files the install reads
    if builds:
        reasons_source.append(f"line {builds[0].ins.start_line} builds")
    changed = app_change(r)
    if changed is not None:
        # ``RUN echo … > config.json``, ``RUN chmod 600 key.pem`` after the source arrived: the context lacks that change
        reasons_source.append(f"line {changed.start_line} changes files in it")
    if pkg is None:
        reasons_source.append("package.json could not be read")
    else:
        hooks = [k for k in spec["install_scripts"] if k in scripts]
        if hooks:
            reasons_source.append(f"package.json runs a `{hooks[0]}` script on install")
        if "workspaces" in pkg or (ctx is not None and rel is not None and ctx.is_file(posixpath.join(rel, "pnpm-workspace.yaml"))):
            ws_files = _workspace_package_files(installs, rel, ctx)
            if ws_files is None:
                reasons_source.append("the project has workspaces")
    if deps_facts is not None and any("local package" in u for u in deps_facts.unknown):
        reasons_source.append("it depends on local packages")
    if reasons_source and ws_files is not None:
        reasons_source.append("the project has workspaces")  # built in the stage: the workspace facts still count
    if mgr == "yarn-berry":
        _yarn_node_modules(r, installs, deps_stage=not reasons_source)
    # -- the start command
    new_cmd, launcher_kept, dev_at_start = _start(r, spec, mgr, scripts, dev, idir, rel)
    # -- the runtime base
    p = Plan(base="", shell=True, pm=r.pm, safety=r.safety)
    if new_cmd is not None and r.start.cwd:
        # a workspace's script (npm -w, pnpm --filter, yarn workspace) runs in the workspace's folder: so does the runtime
        p.after_copies.append(f"WORKDIR {posixpath.join(r.workdir or '/', r.start.cwd)}")
    p.leaves.append("the full image's compilers, headers and extra tools" if r.info is not None and r.info.is_full else "the build tools")
    runtime_packages(r, p)
    if deps_facts is not None:
        for d in deps_facts.native:
            if d.outside:
                raise Blocked(f"installs {d.name} ({d.where}): {d.why}; a runtime stage gets neither", installs[0].ins,
                              f"Keep this image, or install {d.name}'s browser and its system libraries in the runtime stage by hand "
                              f"(a cache folder every user can read, such as PUPPETEER_CACHE_DIR=/opt/puppeteer)")
            if d.runtime:
                native_packages(p, list(d.runtime), f"the native module {d.name}")
    runtime_globals = _runtime_globals(r, spec, new_cmd)
    distroless = _distroless(r, spec, p, new_cmd, runtime_globals, rel)
    if distroless is not None:
        p.base, p.shell, p.pm = distroless, False, None
        assert new_cmd is not None
        p.cmd = new_cmd[1:]
        p.leaves.append("npm and the shell")
        p.checks.append("the app runs without a shell or npm (distroless nodejs); it must not start other programs")
    else:
        slim = slim_variant(r.base) if r.info is not None and r.info.is_full else r.base
        if slim is None:
            raise Blocked(f"builds on {r.base}, and dockeropt knows no slim variant of it", r.stage.from_instruction)
        p.base = slim
        if new_cmd is not None:
            p.cmd = new_cmd
    start_tools(r, p, r.info.family if r.info else None)
    check_user(r, p)
    for a in runtime_globals:
        p.runs.append(f"RUN {command_text(r, a.ins, a.action)}")
        p.checks.append(f"`{command_text(r, a.ins, a.action)}` is repeated in the runtime for the program it starts")
    omit_ok = not dev_at_start
    if dev_at_start:
        p.checks.append(f"the devDependencies stay because the start command uses `{dev_at_start}`")
    if reasons_source:
        _with_build(r, p, mgr, mspec, idir, omit_ok, dev, reasons_source)
    else:
        _with_deps_stage(r, p, mgr, mspec, idir, rel, installs, omit_ok, dev, ws_files or [])
    if new_cmd is not None and launcher_kept is None and r.start.launcher:
        where = f" in {posixpath.join(r.workdir or '/', r.start.cwd)} (the workspace's folder)" if r.start.cwd else ""
        p.checks.append(f"`{' '.join(r.start.argv or ())}` now runs `{' '.join(new_cmd)}` directly{where}, so signals reach node itself")
    elif launcher_kept:
        p.checks.append(launcher_kept)
    if ctx is None:
        p.checks.append("no build context was given, so package.json and the app's files could not be checked")
    return p


def _build_writes_outside(r: StageRead, builds: list[Act], scripts: dict, idir: str) -> None:
    """Block when a build command (or the package.json script it runs) names an absolute path outside the app folder.

    ``"build": "node build.js --outDir /srv/www"``: the runtime stage gets the app folder only, so what the build
    wrote there would be missing (red-team 3). Temporary and device paths are fine.
    """
    for b in builds:
        words = [w.text for w in b.action.command.effective()]
        texts = list(words)
        script = next((w for w in words[1:] if isinstance(scripts.get(w), str)), None)
        if script is not None:
            texts += str(scripts[script]).split()
        for t in texts:
            for part in t.split("="):
                path = part.strip("'\"")
                if not path.startswith("/") or "$" in path or under(path, idir) or path.startswith(("/tmp/", "/dev/")):
                    continue
                where = f"its package.json script `{script}`" if script is not None and t not in words else "it"
                raise Blocked(f"runs `{' '.join(words)}`, and {where} names {path}, outside the app folder {idir}: "
                              "the runtime stage gets the app folder only", b.ins,
                              f"Build into the app folder (a path relative to {idir}), or copy {path} into the runtime "
                              "stage by hand")


def _yarn_node_modules(r: StageRead, installs: list[Act], deps_stage: bool) -> None:
    """Yarn 2+ must install a node_modules folder: with Plug'n'Play (its default) the app needs .pnp.cjs and
    yarn's package cache (in .yarn/cache, or outside the project with the global cache) at run time, and plain
    `node` loads neither, so a runtime with the project's files and `node app.js` would fail with `Cannot find module`.
    With ``deps_stage`` the install is repeated alone in a stage with the manifests, so the setting must come from them
    (.yarnrc.yml in the project folder) or from a variable that stage carries."""
    fix = "Set `nodeLinker: node-modules` in .yarnrc.yml"
    pnp = "yarn's Plug'n'Play: the app would need .pnp.cjs and yarn's package cache at run time, which plain `node` does not load"
    for a in installs:
        ln = yarn_linker(r.m, a.ins, a.action)
        if ln.node_modules and (ln.how in ("env", "prefix", "file") or not deps_stage):
            rel = r.project_dir(a)
            folder = posixpath.normpath(rel) if rel is not None else None
            if deps_stage and ln.how == "file" and ln.path is not None and folder is not None and \
                    posixpath.dirname(ln.path) != ("" if folder == "." else folder):
                raise Blocked(f"copies `{ln.path}`, outside the project folder the dependency stage gets; its `nodeLinker` decides "
                              f"how the install on line {a.ins.start_line} lays out the packages", ln.where,
                              "Put .yarnrc.yml in the project folder")
            continue
        at = ln.where if ln.where is not None else a.ins
        later = "it" if at is a.ins else f"the install on line {a.ins.start_line}"
        if ln.how == "default":
            reason = f"installs with {pnp} (yarn 2+ uses Plug'n'Play when no .yarnrc.yml sets `nodeLinker`)"
            rel = r.project_dir(a)
            if r.context is not None and rel is not None and not r.context.is_file(posixpath.join(rel, ".yarnrc.yml")):
                fix = "Add a .yarnrc.yml with `nodeLinker: node-modules` beside package.json"
        elif ln.node_modules:  # set by a command the dependency stage does not repeat
            reason = f"sets yarn's `nodeLinker: {ln.name}` in a RUN, which the dependency stage would not repeat"
            fix += " instead"
        else:
            what = pnp if ln.name == "pnp" else (f"`nodeLinker: {ln.name}`, which installs no node_modules folder plain `node` can load"
                                                 if ln.name else f"an unknown `nodeLinker`, maybe {pnp}")
            setter = {"file": f"copies `{ln.path}`, whose `nodeLinker: {ln.name}`" if ln.name else f"copies `{ln.path}`, whose `nodeLinker`",
                      "env": "sets YARN_NODE_LINKER, which" if at is not a.ins else "runs with YARN_NODE_LINKER set, which",
                      "prefix": "sets YARN_NODE_LINKER for the install, which",
                      "script": "sets variables before the install, which",
                      "command": "changes yarn's `nodeLinker` or .yarnrc.yml, which"}[ln.how]
            reason = f"{setter} makes {later} use {what}"
        raise Blocked(reason, at, fix)


def _start(r: StageRead, spec: dict, mgr: str, scripts: dict, dev: dict, idir: str,
           rel: str | None) -> tuple[list[str] | None, str | None, str | None]:
    """(the CMD the runtime runs when it changes, why the launcher stays, a dev tool the start command needs)."""
    st = r.start
    program = list(st.program) if st.program else None
    dev_bins: dict[str, str] = spec["dev_bins"]
    dev_at_start = None
    if program:
        b = posixpath.basename(program[0])
        if (b in dev_bins and dev_bins[b] in dev) or b in dev:
            dev_at_start = b
        for w in program[1:]:
            if w in dev_bins and dev_bins[w] in dev:
                dev_at_start = w
    if st.launcher in ("npm", "yarn", "pnpm"):
        if r.start.entrypoint is not None:
            return None, f"the ENTRYPOINT keeps `{st.launcher}`", dev_at_start
        if st.cwd:
            ws = r.context.read_json_object(posixpath.join(rel or "", st.cwd, "package.json")) if r.context is not None else None
            scripts = ws.get("scripts") if isinstance(ws, dict) and isinstance(ws.get("scripts"), dict) else {}
        name = st.script or ""
        hooks = [h for h in (f"pre{name}", f"post{name}") if h in scripts]
        needs_tool = st.launcher == "pnpm" or (st.launcher == "yarn" and mgr == "yarn-berry")
        reads = _launcher_env_read(r, spec, rel)
        if reads is not None:
            if needs_tool:
                raise Blocked(f"starts through `{st.launcher} {name}`, and {reads[1]} reads {reads[0]}, which {st.launcher} sets "
                              f"for the script it runs, so the runtime would need {st.launcher}", st.cmd,
                              f"Read the value another way (an ENV line, package.json read from disk), or install {st.launcher} in the runtime")
            return None, (f"`{st.launcher} {name}` stays because {reads[1]} reads {reads[0]}, which {st.launcher} sets for the "
                          "script it runs (plain `node` would leave it unset)"), dev_at_start
        if program and program[0] == "node" and not hooks:
            return program, None, dev_at_start
        if needs_tool:
            raise Blocked(f"starts through `{st.launcher} {name}`, which needs {st.launcher} in the runtime, and the script "
                          "is not a plain `node` command dockeropt can run instead", st.cmd,
                          f"Start the app with `node` directly, or install {st.launcher} in the runtime")
        why = f"`{st.launcher} {name}` stays because package.json runs {' and '.join(hooks)} with it" if hooks else None
        return None, why, dev_at_start
    if st.launcher is None and program and posixpath.basename(program[0]) == "pnpm":
        # `pnpm --filter web start`: pnpm options before the script, which dockeropt does not resolve; corepack's pnpm stays in the build
        raise Blocked(f"starts through `{' '.join(program[:4])}`, which needs pnpm in the runtime, and dockeropt does not resolve the "
                      "script it runs to a plain `node` command", st.cmd or st.entrypoint,
                      "Start the app with `node` and the file the script runs, or install pnpm in the runtime stage")
    if st.launcher == "npx":
        raise Blocked("starts through npx, which may download the program at start", st.cmd, "Add the program to dependencies and start it directly")
    return (program if program and program[0] == "node" else None), None, dev_at_start


def _launcher_env_read(r: StageRead, spec: dict, rel: str | None) -> tuple[str, str] | None:
    """(the variable, the source file) when the app's source reads a variable its launcher sets (npm_package_version)."""
    ctx = r.context
    pats = [re.compile(x) for x in spec.get("launcher_env", {}).get("patterns", ())]
    if ctx is None or rel is None or not pats:
        return None
    for path, text in source_files(ctx, rel, (".js", ".cjs", ".mjs", ".ts", ".mts", ".cts")):
        for rx in pats:
            m = rx.search(text)
            if m is not None:
                var = re.search(r"npm_\w+", m.group(0))
                return (f"`{var.group(0) if var else m.group(0)}`", path)
    return None


def _runtime_globals(r: StageRead, spec: dict, new_cmd: list[str] | None) -> list[Act]:
    """Global installs (npm -g) whose programs the image starts: the runtime repeats them."""
    out: list[Act] = []
    program = r.start.program or r.start.argv
    words = set()
    if program:
        words.add(posixpath.basename(program[0]))
    elif r.start.program_text:
        words.update(re.findall(r"[A-Za-z0-9_.@/-]+", r.start.program_text))
    if r.healthcheck is not None:
        words.update(re.findall(r"[A-Za-z0-9_.@/-]+", r.healthcheck.args))
    bins: dict[str, list[str]] = spec.get("global_bins", {})
    for a in r.globals():
        if a.action.tool == "corepack":
            continue
        names = set()
        for pkg in a.action.packages:
            base = re.sub(r"@[^@/]*$", "", pkg) if not pkg.startswith("@") or pkg.count("@") > 1 else pkg
            names.add(base.rsplit("/", 1)[-1])
            names.update(bins.get(base, ()))
        if names & words or not program:
            out.append(a)
    return out


def _distroless(r: StageRead, spec: dict, p: Plan, new_cmd: list[str] | None, runtime_globals: list[Act], rel: str | None) -> str | None:
    ctx = r.context
    if ctx is None or rel is None or not new_cmd or new_cmd[0] != "node" or len(new_cmd) < 2:
        return None
    if r.start.entrypoint is not None or r.healthcheck is not None or p.packages or runtime_globals or r.user_runs:
        return None
    if r.user is not None and r.user.spec is not None and r.user.is_root is not True:
        return None
    if r.info is None or r.info.libc != "glibc":
        return None
    ref = distroless_for("nodejs", r.info.major, False)
    if ref is None:
        return None
    files = tuple(source_files(ctx, rel, (".js", ".cjs", ".mjs", ".ts", ".mts", ".cts")))

    def spawns() -> bool:
        rx = [re.compile(x) for x in spec["spawns"]]
        return any(x.search(text) for _path, text in files for x in rx)

    if ctx.content_memo(("node-spawns", tuple(spec["spawns"]), digest(files)), spawns):
        return None
    return ref


def _prod_command(r: StageRead, a: Act, mgr: str, mspec: dict, omit: bool) -> str | None:
    """The original install command with the manager's production flag (the dev flags it had removed)."""
    text = command_text(r, a.ins, a.action)
    words = text.split()
    if not words:
        return None
    dev_rx = re.compile(mspec["dev_flags_regex"])
    out = [w for w in words if not dev_rx.match(w)]
    if not omit:
        return " ".join(out)
    legacy = mspec.get("legacy_omit")
    if legacy is not None:  # npm: --production before the node version that brought --omit=dev
        major = int(r.info.major) if r.info is not None and r.info.major and r.info.major.isdigit() else 99
        flag = legacy["flag"] if major < int(legacy["below_node"]) else legacy["omit"]
    elif mspec.get("omit_flag"):
        flag = mspec["omit_flag"]
    else:
        return None
    # after the subcommand word (npm ci / yarn install / pnpm install), or after the program for a bare `yarn`
    man = catalog().by_id.get(mgr)
    if man is None:
        return None
    idx = next((i for i, w in enumerate(out) if w in man.installs), None)
    if idx is None:
        idx = next((i for i, w in enumerate(out) if any(p.matches_name(posixpath.basename(w)) for p in man.programs)), None)
    if idx is None:
        return None
    out.insert(idx + 1, flag)
    return " ".join(out)


def _workspace_package_files(installs: list[Act], rel: str | None, ctx: object) -> list[str] | None:
    """The package.json files of the workspace's packages (relative to the project folder) when the model can copy them
    ahead of the source (model.deps: every glob resolved, no package needs its source to install); None otherwise."""
    if ctx is None or rel is None or len(installs) != 1:
        return None
    inst = read_install(installs[0].action, ContextView(ctx, "" if rel in ("", ".") else rel))  # type: ignore[arg-type]
    if inst is None or inst.blocker is not None or inst.missing is not None:
        return None
    files = [f for f in inst.manifests if "/" in f and posixpath.basename(f) == "package.json"]
    return sorted(files) or None


def _with_deps_stage(r: StageRead, p: Plan, mgr: str, mspec: dict, idir: str, rel: str | None, installs: list[Act],
                     omit: bool, dev: dict, ws_files: list[str]) -> None:
    ctx = r.context
    a = installs[-1]
    if len(installs) > 1:
        raise Blocked("runs more than one node install", installs[1].ins, "Install the dependencies once")
    f = r.m.run(a.ins)
    assert f is not None
    if rel is None and ctx is not None:
        raise Blocked("installs in a folder no COPY from the build context fills", a.ins)
    if ctx is not None and rel is not None:
        nm = posixpath.normpath(posixpath.join(rel, "node_modules"))
        if ctx.is_dir(nm) and not ctx.ignored(nm):
            raise Blocked(f"copies the build context, whose `{nm}` folder `.dockerignore` does not exclude: copied into the runtime "
                          "it would mix the host's packages into the installed ones", r.first_context_copy(),
                          f"Add `{nm}` to .dockerignore")
    cmd = _prod_command(r, a, mgr, mspec, omit)
    if cmd is None:
        omit = False
        cmd = command_text(r, a.ins, a.action)
        if dev:
            p.checks.append(f"the devDependencies stay: dockeropt knows no production-only install for {mgr}")
    ds = ExtraStage("{deps}", r.node.base_text)
    ds.lines.extend(x for x in r.carried if x.index < a.ins.index)
    ds.lines.extend(x for x in r.system_runs if x.index < a.ins.index)
    for g in r.globals():
        if g.ins.index < a.ins.index and (g.action.tool == "corepack" or any(pk.startswith((mgr.split("-")[0], "corepack")) for pk in g.action.packages)):
            if g.ins not in ds.lines:
                ds.lines.append(g.ins)
    ds.lines.append(f"WORKDIR {idir}")
    files, dirs = _manifests(r, mgr, mspec, rel)
    if ctx is not None and not any(posixpath.basename(x) == "package.json" for x in files):
        raise Blocked(f"installs in {idir}, but package.json is not in the build context there", a.ins)
    if not files:
        files = ["package.json", *_lockfiles(mgr)]
        p.checks.append("without a build context the manifests were guessed: package.json and the lockfile")
    ds.lines.append(f"COPY {' '.join(files)} ./")
    for w in ws_files:  # workspace packages: each package.json in its own folder, as the install reads them
        src = posixpath.normpath(posixpath.join(rel or ".", w))
        ds.lines.append(f"COPY {src} ./{posixpath.dirname(w)}/")
    for d in dirs:
        ds.lines.append(f"COPY {d} ./{posixpath.relpath(d, rel or '.')}")
    flags = " ".join(fl.raw for fl in a.ins.flags)
    ds.lines.append(f"RUN {flags + ' ' if flags else ''}{cmd}")
    p.stages.append(ds)
    p.keep_build = False
    # the deps stage's project folder: node_modules (when there is any dependency) and the manifests the app copy repeats;
    # only the install's output folder when the catalog names it and nothing else can land beside it
    outs = _install_output(r, mspec, mgr, rel, files, dirs, ws_files, a, idir, omit)
    for src in [posixpath.join(idir, o) for o in outs] if outs else [idir]:
        p.copies.append(f"COPY --from={{deps}}{owner_flag(r, idir)} {src} {src}")
    p.context_copies = True
    if dev and omit:
        p.leaves.append("the devDependencies (" + ", ".join(sorted(dev)[:4]) + (", …" if len(dev) > 4 else "") + ")")
    p.checks.append(f"the dependencies are installed once, by `{cmd}` in a stage that gets only the manifests, so a source edit "
                    "reinstalls nothing; the app itself is copied from the build context as before (.dockerignore decides what stays out)")


def _install_output(r: StageRead, mspec: dict, mgr: str, rel: str | None, files: list[str], dirs: list[str],
                    ws_files: list[str], a: Act, idir: str, omit: bool) -> list[str] | None:
    """The folders of the project the deps stage's install fills (catalog ``install_output``, and each workspace
    package's folder), when that is all the stage adds to the manifests the app copy brings again: dependencies to
    install (so the folder exists), no copied config file or folder that could move it, and the model's writes of
    the install all in that folder."""
    out = mspec.get("install_output")
    ctx = r.context
    if not out or ctx is None or rel is None or dirs or len(ws_files) > eco.spec("node")["install_output_workspaces_max"]:
        return None
    plain = {posixpath.normpath(posixpath.join(rel, n)) for n in ("package.json", *_lockfiles(mgr))}
    if any(f not in plain for f in files):
        return None
    pkg = ctx.read_json_object(posixpath.join(rel, "package.json"))
    if not isinstance(pkg, dict):
        return None
    wanted = [pkg.get("dependencies")] + ([] if omit else [pkg.get("devDependencies")])
    if not ws_files and not any(isinstance(d, dict) and d for d in wanted):
        return None  # with workspaces the install links each package into node_modules
    # workspace packages (an install script in one sends the project to the build path before this)
    folders = [posixpath.normpath(posixpath.dirname(w)) for w in ws_files]
    if any(f.startswith("..") or f in (".", out) or posixpath.isabs(f) for f in folders):
        return None
    target = posixpath.join(idir, out)
    writes = a.action.writes
    if not writes or any(w.kind != "project" or w.path != target for w in writes):
        return None
    return [out, *sorted(set(folders))]


def _manifests(r: StageRead, mgr: str, mspec: dict, rel: str | None) -> tuple[list[str], list[str]]:
    ctx = r.context
    if ctx is None or rel is None:
        return [], []
    names = ["package.json", *_lockfiles(mgr), *mspec.get("config_files", ())]
    files: list[str] = []
    dirs: list[str] = []
    for n in dict.fromkeys(names):
        path = posixpath.normpath(posixpath.join(rel, n))
        if ctx.ignored(path):
            continue
        if ctx.is_file(path):
            files.append(path)
        elif ctx.is_dir(path):
            dirs.append(path)
    return files, dirs


def _with_build(r: StageRead, p: Plan, mgr: str, mspec: dict, idir: str, omit: bool, dev: dict, why: list[str]) -> None:
    prune = mspec.get("prune")
    if prune and mspec.get("prune_workspaces") is False and "the project has workspaces" in why:
        prune = None
        if omit and dev:
            p.checks.append(f"the devDependencies stay: `{mspec['prune']}` does not support workspaces")
            omit = False
    if omit and dev and prune:
        if mgr == "npm":
            major = int(r.info.major) if r.info is not None and r.info.major and r.info.major.isdigit() else 99
            legacy = mspec["legacy_omit"]
            if major < int(legacy["below_node"]):
                prune = prune.replace(legacy["omit"], legacy["flag"])
        wd = r.workdir
        cd = "" if wd == idir else f"cd {idir} && "
        p.append.append(f"RUN {cd}{prune}")
        p.leaves.append("the devDependencies (" + ", ".join(sorted(dev)[:4]) + (", …" if len(dev) > 4 else "") + ")")
    elif omit and dev:
        p.checks.append(f"the devDependencies stay: dockeropt knows no prune for {mgr}")
    for d in r.app_dirs:
        p.copies.append(f"COPY --from={{build}}{owner_flag(r, d)} {d} {d}")
    outside = [ins for ins, cf in r.copies if not any(under(cf.folder, d) for d in r.app_dirs)]
    if outside:
        raise Blocked("copies files into a system folder while the app is built in the stage", outside[0])
    p.checks.append(f"the app folder comes whole from the build stage ({why[0]}), so nothing it made is left behind")


# --------------------------------------------------------------------------- static sites


def _static(r: StageRead, spec: dict) -> Plan | None:
    """A static server of a known folder -> nginx serving it on the same port; None when this is not that case."""
    st = r.start
    argv = list(st.program or ())
    if not argv:
        return None
    srv = spec["static_servers"].get(posixpath.basename(argv[0]))
    if srv is None or st.entrypoint is not None or r.healthcheck is not None:
        return None
    if r.user is not None and r.user.spec is not None and r.user.is_root is not True:
        return None
    positional: list[str] = []
    port: int | None = None
    spa = False
    listing = True
    i = 1
    while i < len(argv):
        w = argv[i]
        if w.startswith("-"):
            name, eq, val = w.partition("=")
            if name not in srv["safe_flags"]:
                if st.launcher == "npx":  # the node runtime would not take npx either: say why nginx does not serve it
                    raise Blocked(f"starts `{posixpath.basename(argv[0])}` through npx with `{name}`, an option dockeropt does not carry "
                                  "over to nginx, and npx may download the program at start", st.cmd or st.entrypoint,
                                  f"Add {posixpath.basename(argv[0])} to the dependencies and start it directly, or serve the build "
                                  f"folder with nginx by hand (with the set-up `{name}` stands for)")
                return None
            if name in srv["flags_with_value"] and not eq:
                i += 1
                val = argv[i] if i < len(argv) else ""
            if name in srv["port_flags"]:
                val = val.rsplit(":", 1)[-1]
                if not val.isdigit():
                    return None
                port = int(val)
            if name in srv["spa_flags"]:
                spa = True
            if name == "-d" and val == "false":
                listing = False
            i += 1
            continue
        positional.append(w)
        i += 1
    folder = positional[srv["dir_positional"]] if len(positional) > srv["dir_positional"] else srv["default_dir"]
    if len(positional) > 1 or "$" in folder:
        return None
    wd = r.workdir or "/"
    served = posixpath.normpath(posixpath.join(wd, folder))
    made_by_build = bool(r.builds()) and any(under(served, d) for d in r.app_dirs)
    from_context = r.context_dir(served) if not made_by_build else None
    if not made_by_build and (from_context is None or r.context is None or not r.context.is_dir(from_context)):
        return None
    port = port if port is not None else int(srv["default_port"])
    rt = spec["static_runtime"]
    tag = current_version_tag(rt["family"])
    if tag is None:
        return None
    p = Plan(base=f"{rt['family']}:{tag}", shell=True, pm="apt", safety=r.safety)
    p.carry_env = p.carry_workdir = p.carry_user = False
    p.follows_base = False
    p.drop_cmd = True
    p.drop_moved = frozenset({"STOPSIGNAL"})
    # What the servers answer (checked against serve 14 and http-server 14): `serve --single` answers every path
    # that is not a file with the root index.html (folders too, never a listing); without it, and with
    # http-server, `/about` serves about.html (serve's clean URLs, http-server's default extension) and a folder
    # without an index.html is listed.
    listing = listing and not spa
    tries = "$uri /index.html" if spa else "$uri $uri.html $uri/ =404"
    conf = (f"server {{\\n    listen {port};\\n    root {rt['root']};\\n    index index.html;\\n"
            + ("    autoindex on;\\n" if listing else "")
            + f"    location / {{\\n        try_files {tries};\\n    }}\\n}}\\n")
    p.runs.append(f"RUN printf '{conf}' > {rt['config']}")
    src = "{build}" if made_by_build else None
    for g in r.globals():  # the old static server, installed for the start command only
        f = r.m.run(g.ins)
        if f is not None and len([a for a in f.actions if a.verb != "noop"]) == 1 and posixpath.basename(argv[0]) in {
                re.sub(r"@[^@/]*$", "", x) for x in g.action.packages}:
            p.drop.add(g.ins.index)
    if src:
        p.copies.append(f"COPY --from={src} {served}/ {rt['root']}/")
        p.keep_build = True
        p.leaves.append("node, the dependencies and the sources")
    else:
        p.keep_build = False
        p.copies.append(f"COPY {from_context}/ {rt['root']}/")
        p.leaves.append("node and the sources")
    add(p.leaves, f"{posixpath.basename(argv[0])}")
    p.checks.append(f"nginx serves {served} on port {port}, where {posixpath.basename(argv[0])} served it"
                    + ("; every path that is not a file (folders too) answers with index.html, as with `--single`" if spa
                       else "; `/about` serves about.html, as before")
                    + ("; folders without an index.html are listed, as before" if listing else ""))
    return p
