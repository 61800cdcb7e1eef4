"""DO108 frozen-lockfile."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel
from dockeropt.model.project import node_data, node_project, yarn_flavour
from dockeropt.model.runs import Action
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import RunScript
from dockeropt.syntax import Dockerfile, Instruction


def _lock_mode_set(a: Action, family: str) -> bool:
    names = node_data()["lock_mode_flags"][family]
    return any(f in names or f.split("=", 1)[0] in names for f in a.flags)


def _env_sets(a: Action, family: str) -> bool:
    return any(name in a.env for name in node_data()["frozen_env"][family])


def _insert_after(rs: RunScript, a: Action, text: str) -> Edit:
    inv = a.invocation
    word = inv.subcommand_end if inv is not None and inv.subcommand else a.command.effective()[0]
    return Edit.insert(rs.physical(word.start, word.end).end, " " + text)


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
        `enableImmutableInstalls`, pnpm's `frozen-lockfile` setting, in an
        ENV, ARG or the RUN itself) are left alone.

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
    messages = {
        "yarn": Message(
            "Add {flag} to yarn install",
            "yarn.lock is copied before this RUN ({flavour}), so with `{flag}` the install uses exactly the locked "
            "versions and fails if yarn.lock is out of date instead of silently resolving new ones. If the build now "
            "fails, run `yarn install` locally and commit yarn.lock.",
        ),
        "pnpm": Message(
            "Add --frozen-lockfile to pnpm install",
            "pnpm-lock.yaml is copied before this RUN, so with `--frozen-lockfile` the install uses exactly the "
            "locked versions and fails if the lockfile is out of date instead of rewriting it. If the build now "
            "fails, run `pnpm install` locally with the same pnpm version and commit pnpm-lock.yaml.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if ctx.context is None:
            return
        m = ctx.model(doc)
        for node in m.graph.nodes:
            for ins, facts in m.stage_runs(node.index):
                rs = facts.editable
                if rs is None:
                    continue
                for a in facts.actions:
                    mgr = a.manager
                    if mgr is None or a.ecosystem != "node" or a.verb != "install" or a.packages:
                        continue
                    if any(w.value is None for w in a.command.effective()[1:]) or a.command.cwd == "?":
                        continue
                    family = mgr.variant_of or mgr.id
                    if family == "yarn":
                        yield from self._yarn(m, ins, rs, a)
                    elif family in node_data()["lock_mode_flags"]:
                        yield from self._pnpm(m, ins, rs, a)

    def _yarn(self, m: ImageModel, ins: Instruction, rs: RunScript, a: Action) -> Iterable[Change]:
        if _lock_mode_set(a, "yarn") or _env_sets(a, "yarn"):
            return
        proj = node_project(m, ins, a)
        if proj is None or proj.package_json is None or "yarn.lock" not in proj.locks:
            return
        bc = m.context
        assert bc is not None
        flavour = yarn_flavour(proj, bc)
        if flavour is None:
            return
        if flavour == "berry":
            rc = bc.read_text(proj.locks[".yarnrc.yml"]) if ".yarnrc.yml" in proj.locks else ""
            if rc is None or re.search(r"^\s*enableImmutableInstalls\s*:", rc, re.M):
                return
            flag = "--immutable"
        else:
            yarnrc = bc.read_text(posixpath.join(posixpath.dirname(proj.locks["yarn.lock"]), ".yarnrc")) or ""
            if "frozen-lockfile" in yarnrc or "pure-lockfile" in yarnrc:
                return
            flag = "--frozen-lockfile"
        yield self.say("yarn", ins, [_insert_after(rs, a, flag)], Safety.REVIEW, flag=flag,
                       flavour="yarn 2+" if flavour == "berry" else "yarn classic")

    def _pnpm(self, m: ImageModel, ins: Instruction, rs: RunScript, a: Action) -> Iterable[Change]:
        if _lock_mode_set(a, "pnpm") or _env_sets(a, "pnpm"):
            return
        proj = node_project(m, ins, a)
        if proj is None or proj.package_json is None or "pnpm-lock.yaml" not in proj.locks:
            return
        bc = m.context
        assert bc is not None
        npmrc = bc.read_text(proj.locks[".npmrc"]) if ".npmrc" in proj.locks else ""
        if npmrc is None or "frozen-lockfile" in npmrc or "lockfile" in npmrc:
            return
        yield self.say("pnpm", ins, [_insert_after(rs, a, "--frozen-lockfile")], Safety.REVIEW)
