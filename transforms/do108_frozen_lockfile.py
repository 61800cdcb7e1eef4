"""DO108 frozen-lockfile."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dockeropt.edits import Change, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import RunScript
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._hygiene import env_before, insert_after, script_sets, stage_runs
from dockeropt.transforms._node import NodeInstall, node_install, project_at, yarn_flavour

_YARN_LOCK_FLAGS = ("--frozen-lockfile", "--immutable", "--pure-lockfile", "--no-lockfile", "--immutable-cache",
                    "--mode", "--update-checksums", "--refresh-lockfile")
_PNPM_LOCK_FLAGS = ("--frozen-lockfile", "--no-frozen-lockfile", "--lockfile-only", "--fix-lockfile", "--no-lockfile",
                    "--resolution-only", "--prefer-frozen-lockfile", "--no-prefer-frozen-lockfile", "--filter", "-F",
                    "--prefix", "--dir", "-C", "--lockfile-dir", "--global", "-g")


@register
class FrozenLockfile(Pass):
    """Make yarn and pnpm installs fail on a stale lockfile instead of rewriting it.

    What it does:
        Adds `--frozen-lockfile` to yarn classic installs, `--immutable` to
        yarn berry (2+) installs and `--frozen-lockfile` to `pnpm install`,
        only when the lockfile (yarn.lock, pnpm-lock.yaml) is in the build
        context, not excluded by .dockerignore, and copied into the
        install's folder before the RUN. Yarn's flavour comes from the
        context: `.yarnrc.yml`, the `packageManager` field of package.json
        and the yarn.lock format must agree, otherwise nothing changes.
        Installs that already choose a lockfile mode, name packages, or are
        configured immutable (`YARN_ENABLE_IMMUTABLE_INSTALLS`,
        `enableImmutableInstalls`, pnpm's `frozen-lockfile` setting) are
        left alone.

    Why:
        Without the flag, yarn and pnpm quietly resolve new versions when
        the lockfile does not match package.json, so the image can contain
        dependency versions nobody reviewed or tested, and two builds of the
        same commit can differ.

    Example:
        # before
        COPY package.json yarn.lock ./
        RUN yarn install
        # after
        COPY package.json yarn.lock ./
        RUN yarn install --frozen-lockfile

    Fix safety:
        Review: the build now fails when the lockfile is stale (out of sync
        with package.json), which is the point, but a file that built before
        may stop building until the lockfile is regenerated and committed.
        A pnpm whose lockfile format differs from the lockfile's also fails
        instead of rewriting it.
    """

    id = "DO108"
    name = "frozen-lockfile"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if ctx.context is None:
            return
        for stage in doc.stages:
            for ins, rs in stage_runs(stage):
                for cmd in rs.script.commands:
                    inst = node_install(cmd)
                    if inst is None or inst.tool == "npm" or inst.positionals or inst.unknown:
                        continue
                    if inst.tool == "yarn":
                        yield from self._yarn(doc, stage, ins, rs, inst, ctx)
                    else:
                        yield from self._pnpm(doc, stage, ins, rs, inst, ctx)

    def _yarn(self, doc: Dockerfile, stage: Stage, ins: Instruction, rs: RunScript, inst: NodeInstall, ctx: PassContext) -> Iterable[Change]:
        if inst.has(*_YARN_LOCK_FLAGS) or inst.cmd.cwd == "?":
            return
        for key in ("YARN_ENABLE_IMMUTABLE_INSTALLS", "YARN_FROZEN_LOCKFILE"):
            if env_before(stage, ins, key)[0] or script_sets(rs, key):
                return
        proj = project_at(doc, stage, ins, inst.cmd, ctx)
        if proj is None or proj.package_json is None or "yarn.lock" not in proj.locks:
            return
        flavour = yarn_flavour(proj, ctx)
        if flavour is None:
            return
        assert ctx.context is not None
        if flavour == "berry":
            rc = ctx.context.read_text(proj.locks[".yarnrc.yml"]) if ".yarnrc.yml" in proj.locks else ""
            if rc is None or re.search(r"^\s*enableImmutableInstalls\s*:", rc, re.M):
                return
            flag = "--immutable"
        else:
            yarnrc = ctx.context.read_text(_sibling(proj.locks["yarn.lock"], ".yarnrc")) or ""
            if "frozen-lockfile" in yarnrc or "pure-lockfile" in yarnrc:
                return
            flag = "--frozen-lockfile"
        anchor = inst.sub if inst.sub is not None else inst.cmd.effective()[0]
        yield self.change(
            f"Add {flag} to yarn install",
            f"yarn.lock is copied before this RUN ({'yarn 2+' if flavour == 'berry' else 'yarn classic'}), so with "
            f"`{flag}` the install uses exactly the locked versions and fails if yarn.lock is out of date instead "
            "of silently resolving new ones. If the build now fails, run `yarn install` locally and commit yarn.lock.",
            ins,
            [insert_after(rs, anchor, flag)],
            Safety.REVIEW,
        )

    def _pnpm(self, doc: Dockerfile, stage: Stage, ins: Instruction, rs: RunScript, inst: NodeInstall, ctx: PassContext) -> Iterable[Change]:
        if inst.has(*_PNPM_LOCK_FLAGS) or inst.cmd.cwd == "?":
            return
        if env_before(stage, ins, "npm_config_frozen_lockfile")[0] or script_sets(rs, "npm_config_frozen_lockfile"):
            return
        proj = project_at(doc, stage, ins, inst.cmd, ctx)
        if proj is None or proj.package_json is None or "pnpm-lock.yaml" not in proj.locks:
            return
        assert ctx.context is not None
        npmrc = ctx.context.read_text(proj.locks[".npmrc"]) if ".npmrc" in proj.locks else ""
        if npmrc is None or "frozen-lockfile" in npmrc or "lockfile" in npmrc:
            return
        assert inst.sub is not None
        yield self.change(
            "Add --frozen-lockfile to pnpm install",
            "pnpm-lock.yaml is copied before this RUN, so with `--frozen-lockfile` the install uses exactly the "
            "locked versions and fails if the lockfile is out of date instead of rewriting it. If the build now "
            "fails, run `pnpm install` locally with the same pnpm version and commit pnpm-lock.yaml.",
            ins,
            [insert_after(rs, inst.sub, "--frozen-lockfile")],
            Safety.REVIEW,
        )


def _sibling(path: str, name: str) -> str:
    import posixpath

    return posixpath.join(posixpath.dirname(path), name)
