"""DO201 for PHP with composer: vendor/ from the composer (build) stage, on the same php-fpm/-apache base.

The php image is already the runtime; what a split removes is composer, the
tools only composer needs (git, unzip: catalog ``build_only_packages``) and
composer's cache. The runtime repeats the stage's system setup (packages,
``docker-php-ext-*``) without those, then takes the app folder with vendor/
from the build stage, where composer's scripts may also have written.
"""

from __future__ import annotations

from dockeropt.catalog import catalog
from dockeropt.model import ecosystems as eco

from ._runtime_common import check_user, owner_flag, start_tools, without_packages
from ._runtime_stage_analysis import Blocked, StageRead
from ._runtime_stage_edit import Plan


def plan(r: StageRead) -> Plan:
    spec = eco.spec("php")
    installs = [a for a in r.acts if a.action.tool == "composer" and a.action.installs]
    if not installs:
        raise Blocked("installs nothing with composer", r.stage.from_instruction)
    build_only = set(spec["build_only_packages"])
    p = Plan(base=r.base, shell=True, pm=r.pm, safety=r.safety)
    p.leaves = ["composer and its cache"]
    kept: list[str] = []
    for p_name, ins in r.packages:
        if p_name in build_only:
            if p_name not in p.leaves:
                p.leaves.append(p_name)
        elif p_name not in kept and ins in r.system_runs:
            kept.append(p_name)
    p.packages = kept
    # system setup the runtime repeats: RUNs with no composer in them
    for ins in r.body:
        if ins.keyword != "RUN" or ins in r.system_runs or ins in r.user_runs:
            continue
        f = r.m.run(ins)
        if f is None:
            continue
        if any(a.action is x for a in r.acts for x in f.actions if a.action.tool == "composer"):
            continue
        if all(a.tool in catalog().runtime_stage_managers or a.verb in ("noop", "system", "fs", "chmod", "chown") for a in f.actions):
            if any(a.verb in ("fs", "chown", "chmod") for a in f.actions) and r.app_dirs and any(
                    w.path and any(w.path.startswith(d) for d in r.app_dirs) for a in f.actions for w in a.writes):
                continue  # it changes the app folder, which comes from the build stage with that change
            p.runs.append(without_packages(r, ins, build_only))
    for d in r.app_dirs:
        p.copies.append(f"COPY --from={{build}}{owner_flag(r, d)} {d} {d}")
    p.drop_env = eco.build_only_env("php")
    p.checks.append("the app folder with vendor/ comes from the build stage, where composer ran")
    if any(x in spec.get("composer_paths", ()) for ins, cf in r.image_copies for x in (cf.dest.rstrip("/"),)):
        p.leaves.append("the composer binary")
    start_tools(r, p, None)
    check_user(r, p)
    if not p.runs and not p.packages and len(p.leaves) <= 1:
        raise Blocked("installs nothing but the dependencies; the image would only lose composer", installs[0].ins)
    return p
