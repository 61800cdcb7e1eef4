"""DO201 for Go: the binaries on distroless (static, or glibc when cgo is needed) or Debian slim.

cgo is decided from the model's native facts (:func:`dockeropt.model.native.go_cgo`):
``CGO_ENABLED`` in effect, ``import "C"``, C sources in the module or its
vendor folder, and go.mod/go.sum modules the catalog knows need cgo (go-sqlite3
builds without cgo and fails only when the app opens a database). When it
cannot tell, cgo stays on and the runtime has glibc. Without cgo the build
gets ``CGO_ENABLED=0`` and the binary runs on distroless static, except on a
Go release that ships its standard library precompiled with cgo on (before
1.20, from the catalog): there CGO_ENABLED=0 would compile the whole standard
library again on every cold build, so the default stays and the runtime is
distroless with glibc. Every
``go build`` gets ``-ldflags="-s -w"`` (no debug info; a link-time flag, so no
package is compiled again) and never a flag such as ``-a`` or ``-trimpath``
that rebuilds the standard library on a cold build.
"""

from __future__ import annotations

import posixpath
import re

from dockeropt.model import ecosystems as eco
from dockeropt.model.native import CgoFacts, go_cgo

from ._runtime_common import add, app_folder_or_context, check_user, release, runtime_files, start_tools
from ._runtime_stage_analysis import Blocked, StageRead
from ._runtime_stage_edit import Plan


def plan(r: StageRead) -> Plan:
    spec = eco.spec("go")
    builds = [a for a in r.acts if a.action.tool == "go" and a.action.verb == "build"]
    if not builds:
        raise Blocked("builds no binary with `go build`", r.stage.from_instruction)
    outputs: list[str] = []
    for a in builds:
        path = next((w.path for w in a.action.writes if w.path), None)
        if path is None:
            raise Blocked("runs `go build` whose output dockeropt cannot place (use -o)", a.ins, "Name the binary with -o")
        if path.endswith("/"):
            raise Blocked("runs `go build -o` into a folder", a.ins, "Name the binary with -o")
        add(outputs, path)
    others = [a for a in r.acts if not (a.action.tool == "go" and a.action.verb in ("build", "fetch", "test", "other"))]
    if others:
        a = others[0]
        raise Blocked(f"runs `{a.action.tool} {a.action.verb}` besides the Go build, which dockeropt does not carry over", a.ins)
    cwd = builds[0].action.project or r.workdir or "/"
    rel = r.context_dir(cwd, builds[0].ins.index)
    env = builds[0].action.env
    cgo_set = env.is_set("CGO_ENABLED")
    env_cgo = env.value("CGO_ENABLED") if cgo_set else None
    cgo = go_cgo(r.context, rel or ".", env_cgo, r.pm) if cgo_set is not None else CgoFacts(
        None, ("CGO_ENABLED may be set where dockeropt cannot read it",), ())
    if cgo.unsupported:
        raise Blocked(f"uses {cgo.unsupported[0]}, whose system libraries no runtime base dockeropt knows carries", builds[0].ins)
    libs = [p for p, _ in r.packages if p.endswith("-dev")]
    shell = _needs_shell(r)
    started = [prog for prog, _ in (r.m.runtime.started if r.m.runtime is not None else ())]
    distro = r.info.distro if r.info else None
    runtime_libs: list[str] = []
    for m in cgo.modules:
        runtime_libs.extend(m.runtime)
    writes = _writes(r, rel)
    nonroot = not writes and (r.user is None or r.user.is_root is True) and not any(i.keyword == "USER" for i in r.moved)
    p = Plan(base="", shell=False, pm=None, safety=r.safety, follows_base=False)
    p.leaves = ["the Go toolchain", "the module cache", "the sources"]
    if shell or started or (cgo.needed is not False and (libs or runtime_libs)):
        p.base = eco.compiled_runtime("golang", "shell", distro) or "debian:bookworm-slim"
        p.shell, p.pm = True, "apt"
        add(p.packages, *eco.shell_runtime_packages("golang"))
        if cgo.needed is not False:
            from ._runtime_common import runtime_packages

            runtime_packages(r, p)
            p.packages[:] = [x for x in p.packages if not x.startswith("golang")]
            add(p.packages, *runtime_libs)
        p.checks.append("the start command needs a shell, so the runtime is Debian slim" if shell
                        else f"the app starts {', '.join(f'`{x}`' for x in started)}, so the runtime is Debian slim" if started
                        else "the binary's C libraries are installed in Debian slim")
    elif cgo.needed is False and not cgo_set and _precompiled_std(r, spec):
        # CGO_ENABLED=0 would recompile the precompiled standard library on every cold build:
        # keep the toolchain's default and run on glibc (net and os/user may link it)
        p.base = eco.compiled_runtime("golang", "glibc", distro, nonroot) or ""
        p.checks.append("the binary keeps the toolchain's cgo default, so the standard library this Go release ships"
                        " precompiled is reused (CGO_ENABLED=0 would compile it again on every cold build); it may link"
                        " glibc, so the runtime is distroless with glibc" + (" and runs as the nonroot user" if nonroot else ""))
    elif cgo.needed is False:
        kind = "static"
        p.base = eco.compiled_runtime("golang", kind, distro, nonroot) or ""
        if not cgo_set:
            p.before.setdefault(builds[0].ins.index, []).append("ENV CGO_ENABLED=0")
        p.checks.append("the binary is static (CGO_ENABLED=0: nothing in the module needs cgo)"
                        + (" and runs as the distroless nonroot user" if nonroot else ""))
    else:
        kind = "cxx" if cgo.cxx else "glibc"
        p.base = eco.compiled_runtime("golang", kind, distro, nonroot) or ""
        p.checks.append("the binary keeps cgo and links glibc" + (" and libstdc++" if cgo.cxx else "") + ": "
                        + (cgo.reasons[0] if cgo.reasons else "dockeropt cannot tell whether it needs cgo"))
    if not p.base:
        raise Blocked("has no runtime base in dockeropt's catalog", r.stage.from_instruction)
    if not p.shell:
        _exec_start(r, p)
    p.drop_env = eco.build_only_env("go")
    # -- the binaries, stripped
    for a in builds:
        _strip(r, p, a, spec)
    binaries = [f"COPY --from={{build}} {out} {out}" for out in outputs]
    p.copies.extend(binaries)
    why = runtime_files(r, "go", rel, (".go",))
    if why is not None:
        app_folder_or_context(r, p, binaries, why)
        p.leaves = [x for x in p.leaves if x != "the sources"]  # the copy of the app folder brings them along
    _volumes(r, p, nonroot and not p.shell)
    start_tools(r, p, None)
    check_user(r, p)
    return p


def _precompiled_std(r: StageRead, spec: dict) -> bool:  # type: ignore[type-arg]
    """Does the build image's Go release ship its standard library precompiled (catalog: before which release)?"""
    before = release(str(spec.get("precompiled_std_before") or ""))
    have = release(r.info.version or "") if r.info is not None else None
    return before is not None and have is not None and have < before


def _needs_shell(r: StageRead) -> bool:
    for ins in (r.start.entrypoint, r.start.cmd):
        if ins is not None and not ins.json and r.start.argv is None:
            return True
    if r.healthcheck is not None or r.user_runs:
        return True
    return bool(r.start.argv and posixpath.basename(r.start.argv[0]) in ("sh", "bash"))


def _exec_start(r: StageRead, p: Plan) -> None:
    """A shell-form CMD as exec form (the runtime has no shell)."""
    for ins, attr in ((r.start.cmd, "cmd"), (r.start.entrypoint, "entrypoint")):
        if ins is None or ins.json:
            continue
        from dockeropt.model.runtime import launch_words

        argv, _ = launch_words(ins)
        if argv is None:
            raise Blocked("starts with a shell-form command that needs a shell", ins)
        setattr(p, attr, list(argv))


def _strip(r: StageRead, p: Plan, a, spec: dict) -> None:  # type: ignore[no-untyped-def]
    """``-ldflags="-s -w"`` after ``go build`` (unless the command sets -ldflags itself)."""
    f = r.m.run(a.ins)
    if f is None or f.editable is None or a.action.has_flag("-ldflags", "--ldflags"):
        return
    cmd = a.action.command
    eff = cmd.effective()
    build_word = next((w for w in eff[1:] if w.value == "build"), None)
    if build_word is None:
        return
    rng = f.editable.physical(build_word.end, build_word.end)
    text = r.m.doc.text
    ins = a.ins
    new = text[ins.range.start : rng.start] + " " + spec["strip_flags"] + text[rng.start : ins.range.end]
    p.replace[ins.index] = new
    if "debug information" not in " ".join(p.checks):
        p.checks.append("`go build` gets -ldflags=\"-s -w\": no symbol table and debug information in the binary")


def _writes(r: StageRead, rel: str | None) -> bool:
    ctx = r.context
    if ctx is None:
        return True
    rx = re.compile(r"os\.(Create|WriteFile|Mkdir|MkdirAll|OpenFile)\(|ioutil\.WriteFile\(")
    from dockeropt.model.runtime import source_files

    return any(rx.search(t) for _, t in source_files(ctx, rel or ".", (".go",)))


def _volumes(r: StageRead, p: Plan, nonroot: bool) -> None:
    """Folders declared VOLUME: owned by the user the runtime runs as (Docker copies the owner into a new volume)."""
    vols = list(r.m.runtime.volumes) if r.m.runtime is not None else []
    if not vols:
        return
    if nonroot:
        uid = "65532:65532"
        for v in vols:
            if "$" in v or not v.startswith("/"):
                raise Blocked(f"declares VOLUME {v}, a path dockeropt cannot prepare", None)
            p.append.append(f"RUN mkdir -p {v}")
            p.copies.append(f"COPY --from={{build}} --chown={uid} {v} {v}")
        p.checks.append(f"{', '.join(vols)} {'is' if len(vols) == 1 else 'are'} created owned by nonroot (65532), so the app can write there")
        return
    owner = r.m.owner(r.node.index, vols[0])
    who = "root" if r.user is None or r.user.is_root is not False else (r.user.spec or "the USER")
    state = f"owned by {owner.name or owner.spec}" if owner is not None and (owner.name or owner.spec) else "created by Docker as root"
    p.checks.append(f"{', '.join(vols)} {'is' if len(vols) == 1 else 'are'} {state}, and the app runs as {who}, as before")
