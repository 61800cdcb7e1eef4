"""DO201 for Ruby with bundler: the gems (``/usr/local/bundle``) on ``ruby:X-slim``.

Native gems compile in the build stage on the full image; the runtime gets
the libraries they link (``pg`` -> libpq5) from the catalog. ``bundle exec``
stays in the start command: bundler ships with Ruby in the slim image and
sets up the gems of Gemfile.lock. A build step that writes into the app
(``rails assets:precompile``) makes the runtime copy the app folder from the
build stage instead of the build context.
"""

from __future__ import annotations

from dockeropt.catalog.images import slim_variant
from dockeropt.model import ecosystems as eco
from dockeropt.model.native import ruby_dependencies

from ._runtime_common import add, check_user, native_packages, owner_flag, runtime_packages, start_tools
from ._runtime_stage_analysis import Blocked, StageRead, under
from ._runtime_stage_edit import Plan


def plan(r: StageRead) -> Plan:
    spec = eco.spec("ruby")
    installs = [a for a in r.acts if a.action.ecosystem == "ruby" and a.action.installs]
    if not installs:
        raise Blocked("installs no gems with bundler or gem", r.stage.from_instruction)
    dirs: list[str] = []
    for a in installs:
        for w in a.action.writes:
            if w.path is None:
                raise Blocked(f"installs gems with {a.action.tool} into a folder dockeropt cannot resolve (set GEM_HOME or BUNDLE_PATH)", a.ins)
            add(dirs, w.path)
    slim = slim_variant(r.base) if r.info is not None and r.info.is_full else r.base
    if slim is None:
        raise Blocked(f"builds on {r.base}, and dockeropt knows no slim variant of it", r.stage.from_instruction)
    p = Plan(base=slim, shell=True, pm=r.pm, safety=r.safety)
    p.leaves = ["the full image's compilers, headers and extra tools", "the gem build files"]
    runtime_packages(r, p)
    rel = r.project_dir(installs[0])
    if r.context is not None and rel is not None:
        deps = ruby_dependencies(r.context, rel, package_manager=r.pm)
        for d in deps.native:
            if d.runtime:
                native_packages(p, list(d.runtime), f"the gem {d.name}")
        if deps.unknown:
            p.checks.append(deps.unknown[0])
    gem_home = spec["gem_home"]
    for d in dirs:
        project_dir = any(under(d, a) for a in r.app_dirs)
        if not project_dir:
            p.copies.append(f"COPY --from={{build}}{owner_flag(r, d)} {d} {d}")
    builds = [a for a in r.acts if a.action.ecosystem == "ruby" and a.action.verb in ("run", "build")]
    if builds or r.app_changed or any(any(under(d, a) for a in r.app_dirs) for d in dirs):
        for d in r.app_dirs:
            p.after_copies.append(f"COPY --from={{build}}{owner_flag(r, d)} {d} {d}")
        p.checks.append("the app folder comes from the build stage, because the build writes into it"
                        + (f" (line {builds[0].ins.start_line})" if builds else ""))
    else:
        p.context_copies = True
    if r.start.launcher == "bundle":
        p.checks.append(f"`bundle exec` stays: {spec['launchers']['bundle']['why']}")
    p.checks.append(f"the gems come from {', '.join(dirs) or gem_home}; the app must not compile gems at start")
    start_tools(r, p, r.info.family if r.info else None)
    check_user(r, p)
    return p
