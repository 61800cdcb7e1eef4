"""DO201 for .NET: ``dotnet publish`` output on the aspnet, runtime or runtime-deps image.

The runtime image is the SDK's sibling with the same tag: ``aspnet`` for a web
project (``Sdk="Microsoft.NET.Sdk.Web"``), ``runtime`` for a console app,
``runtime-deps`` for a self-contained publish. The build stage restores from
the project file alone before the sources arrive (the csproj restore split),
so a source edit does not download the NuGet packages again; DO102 puts the
NuGet folder on a cache mount.
"""

from __future__ import annotations

import posixpath
import re

from dockeropt.catalog.images import parse_image
from dockeropt.model import ecosystems as eco

from ._runtime_common import check_user, start_tools
from ._runtime_stage_analysis import Blocked, StageRead, under
from ._runtime_stage_edit import Plan


def plan(r: StageRead) -> Plan:
    spec = eco.spec("dotnet")
    pubs = [a for a in r.acts if a.action.tool == "dotnet" and a.action.verb == "publish"]
    if len(pubs) != 1:
        raise Blocked("has no single `dotnet publish`", pubs[1].ins if len(pubs) > 1 else r.stage.from_instruction,
                      "Publish the app with `dotnet publish -o <folder>`")
    pub = pubs[0]
    out = next((w.path for w in pub.action.writes if w.kind == "path" and w.path), None)
    if out is None:
        raise Blocked("runs `dotnet publish` without -o, so dockeropt cannot tell where the app goes", pub.ins, "Add -o /app/publish")
    others = [a for a in r.acts if a.action.tool == "dotnet" and a.action.verb not in ("publish", "fetch", "build", "test", "other")]
    if others:
        raise Blocked(f"runs `dotnet {others[0].action.verb}`, which dockeropt does not carry over", others[0].ins)
    ctx = r.context
    project = pub.action.project or r.workdir or "/"
    rel = r.context_dir(project, pub.ins.index)
    proj_files = _project_files(r, rel, spec)
    self_contained = pub.action.has_flag("--self-contained", "--sc") and pub.action.flag_value("--self-contained") != "false"
    kind = "self_contained" if self_contained else None
    if kind is None:
        if ctx is None or not proj_files:
            raise Blocked("publishes a project whose file dockeropt cannot read, so it cannot tell aspnet from runtime", pub.ins)
        sdks = set()
        for pf in proj_files:
            m = re.search(r'<Project\s+Sdk="([^"]+)"', ctx.read_text(pf) or "")
            if m:
                sdks.add(m.group(1))
        kind = "web" if sdks & set(spec["web_sdks_need_aspnet"]) else "console"
    ref = parse_image(r.base)
    if ref is None or r.info is None:
        raise Blocked(f"builds on {r.base}, which dockeropt cannot read", r.stage.from_instruction)
    repo = spec["runtime_repositories"][kind]
    prefix = ref.repository.rsplit("dotnet/", 1)[0]
    base = str(ref.with_repository(prefix + repo))
    p = Plan(base=base, shell=r.info.has_shell, pm=r.info.package_manager, safety=r.safety)
    p.leaves = ["the .NET SDK", "the NuGet packages", "the sources and obj/"]
    # the app: the publish folder, where the start command runs
    p.copies.append(f"COPY --from={{build}} {out} {out}")
    st = r.start
    argv = st.argv or ()
    if not argv:
        raise Blocked("starts with a command dockeropt cannot read", st.cmd or st.entrypoint)
    if argv[0] == "dotnet" and len(argv) > 1 and argv[1] in ("run", "watch"):
        raise Blocked(f"starts with `dotnet {argv[1]}`, which needs the SDK", st.cmd or st.entrypoint,
                      "Start the published app (`dotnet App.dll`) instead")
    target = argv[1] if argv[0] == "dotnet" and len(argv) > 1 else argv[0]
    path = target if target.startswith("/") else posixpath.normpath(posixpath.join(r.workdir or "/", target))
    if not under(path, out):
        raise Blocked(f"starts {target}, which is not in the published folder {out}", st.cmd or st.entrypoint)
    p.drop_env = eco.build_only_env("dotnet")
    _restore_split(r, p, pub, rel, proj_files, spec)
    p.checks.append(f"the runtime is `{base}` ({'ASP.NET Core' if kind == 'web' else 'self-contained' if kind == 'self_contained' else '.NET'} "
                    f"runtime) with only {out}; the app must not call the SDK at run time")
    start_tools(r, p, None)
    check_user(r, p)
    return p


def _project_files(r: StageRead, rel: str | None, spec: dict) -> list[str]:
    ctx = r.context
    if ctx is None or rel is None:
        return []
    exts = tuple(spec["project_files"])
    out = [posixpath.normpath(posixpath.join(rel, n)) for n in ctx.listdir(rel) if n.endswith(exts)]
    return out


def _restore_split(r: StageRead, p: Plan, pub, rel: str | None, proj_files: list[str], spec: dict) -> None:  # type: ignore[no-untyped-def]
    """``COPY App.csproj ./`` + ``RUN dotnet restore`` before the source copy, when the project file sits where the build runs."""
    ctx = r.context
    if ctx is None or rel is None or len(proj_files) != 1:
        return
    if any(a.action.tool == "dotnet" and a.action.verb == "fetch" and a.ins.index < pub.ins.index for a in r.acts):
        return  # already restores on its own
    first = next(((ins, cf) for ins, cf in r.copies if cf.whole_context and cf.folder == (pub.action.project or "")), None)
    if first is None or first[0].index > pub.ins.index or r.m.state(first[0]).workdir != pub.action.project:
        return
    extra = [posixpath.normpath(posixpath.join(rel, n)) for n in ("NuGet.Config", "nuget.config", "Directory.Build.props",
                                                                   "Directory.Packages.props", "global.json") if ctx.is_file(posixpath.join(rel, n))]
    restore = spec["restore"]
    rid = pub.action.flag_value("-r", "--runtime")
    if rid is not None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", rid):
            return
        restore += f" -r {rid}"  # the runtime packs a RID-specific publish needs, restored with the other packages
    p.before[first[0].index] = [f"COPY {' '.join([*proj_files, *extra])} ./", f"{restore.replace('dotnet', 'RUN dotnet', 1)}"]
    p.checks.append("the build stage restores the NuGet packages from the project file before the sources arrive, so a source edit "
                    "does not download them again")
