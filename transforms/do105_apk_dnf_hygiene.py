"""DO105 apk-dnf-hygiene."""

from __future__ import annotations

from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import Command, RunScript
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._hygiene import (
    cache_mount_targets,
    do102_mounts,
    eff_args,
    has_flag,
    insert_after,
    mount_covers,
    stage_runs,
    subcommand,
    wrapper_prefix,
)
from dockeropt.transforms.do109_merge_installs import merges_with_next

# apk options that take no value and may come before the applet
_APK_VALUELESS = frozenset({
    "--no-cache", "-U", "--update-cache", "-q", "--quiet", "-v", "--verbose", "--no-progress",
    "--progress", "-i", "--interactive", "--force-overwrite", "--force-broken-world", "--no-network",
    "--allow-untrusted", "--purge", "--latest", "-l", "--update", "-u", "--upgrade", "--no-interactive",
})
_RPM_MANAGERS = ("dnf", "yum", "microdnf", "tdnf")
_RPM_VALUELESS = frozenset({
    "-y", "--assumeyes", "-q", "--quiet", "--nodocs", "--refresh", "--best", "--nobest",
    "--allowerasing", "--skip-broken", "--noplugins", "-C", "--cacheonly", "--setopt", "--noautoremove",
    "--disableplugin", "--enablerepo", "--disablerepo", "--installroot", "--releasever",
})
_RPM_INSTALLS = frozenset({
    "install", "in", "reinstall", "update", "upgrade", "up", "distro-sync", "groupinstall", "groupupdate",
    "group", "makecache", "localinstall", "builddep", "module",
})
_CACHE_DIRS = {"dnf": "/var/cache/dnf", "yum": "/var/cache/yum", "microdnf": "/var/cache/yum", "tdnf": "/var/cache/tdnf"}


@register
class ApkDnfHygiene(Pass):
    """Keep apk and dnf/yum/microdnf package caches out of the image.

    What it does:
        Adds `--no-cache` to `apk add` (dropping an `apk update` that runs
        directly before it in the same RUN, since `--no-cache` fetches a fresh
        index itself), and appends `<manager> clean all` after the last
        dnf, yum, microdnf or tdnf command that installs or updates packages
        in a RUN; for yum also `rm -rf /var/cache/yum`, which `yum clean all`
        leaves behind. RUNs that already clean up, that mount a cache over
        the package cache, or that the shell model cannot parse are left
        alone. When DO102 (cache-mounts) runs and mounts the manager's cache,
        DO102 handles that RUN instead.

    Why:
        apk keeps its package index under /var/cache/apk and dnf/yum keep
        repository metadata and packages under /var/cache; baked into a layer
        they add megabytes to every image and are never used at runtime.
        Cleaning in the same RUN is what keeps them out: a later RUN cannot
        shrink an earlier layer.

    Example:
        # before
        RUN apk update && apk add curl
        RUN dnf install -y git
        # after
        RUN apk add --no-cache curl
        RUN dnf install -y git && dnf clean all

    Fix safety:
        Safe: the same packages are installed from the same repositories;
        only the download caches are left out of the layer.
    """

    id = "DO105"
    name = "apk-dnf-hygiene"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for stage in doc.stages:
            for ins, rs in stage_runs(stage):
                yield from self._apk(ins, rs, ctx)
                yield from self._rpm(stage, ins, rs, ctx)

    # ---------------------------------------------------------------- apk
    def _apk(self, ins: Instruction, rs: RunScript, ctx: PassContext) -> Iterable[Change]:
        cmds = rs.script.commands
        adds = [c for c in cmds if c.name == "apk" and _applet(c) == "add"]
        if not adds:
            return
        if do102_mounts(ctx, "apk"):
            return
        targets = cache_mount_targets(ins)
        if mount_covers(targets, "/var/cache/apk") or mount_covers(targets, "/etc/apk/cache"):
            return
        if any(c.name == "ln" and any(a is not None and "/etc/apk/cache" in a for a in c.args) for c in cmds):
            return  # the RUN sets up a persistent apk cache on purpose
        edits: list[Edit] = []
        dropped_update = False
        for cmd in adds:
            if not has_flag(eff_args(cmd), "--no-cache"):
                sub = subcommand(cmd, _APK_VALUELESS)
                assert sub is not None
                edits.append(insert_after(rs, sub[1], "--no-cache"))
            upd = self._update_before(rs, cmd)
            if upd is not None:
                edits.append(upd)
                dropped_update = True
        if not edits:
            return
        n = len([e for e in edits if e.text])
        if n:
            title = "Add --no-cache to apk add" + (" and drop the apk update before it" if dropped_update else "")
            expl = (
                f"`apk add --no-cache` fetches the package index into memory and leaves nothing under /var/cache/apk, "
                f"so the layer no longer carries the index ({n} command{'s' if n > 1 else ''})."
                + (" The `apk update` right before it is dropped: `--no-cache` fetches a fresh index itself." if dropped_update else "")
            )
        else:
            title = "Drop the apk update before apk add --no-cache"
            expl = (
                "`apk add --no-cache` fetches a fresh package index itself, so the `apk update` right before it only "
                "left a copy of the index under /var/cache/apk in this layer; it is dropped."
            )
        yield self.change(title, expl, ins, edits, Safety.SAFE)

    def _update_before(self, rs: RunScript, add: Command) -> Edit | None:
        """Delete ``apk update && `` when it is the item right before ``add``, joined by ``&&``."""
        items = rs.script.items
        k = add.item
        if k == 0 or items[k].op_before != "&&" or not items[k].simple:
            return None
        prev = items[k - 1]
        if not prev.simple or len(prev.commands) != 1:
            return None
        upd = rs.script.commands[prev.commands[0]]
        if upd.name != "apk" or _applet(upd) != "update" or len(eff_args(upd)) != 1 or wrapper_prefix(rs, upd):
            return None
        if upd.assignments:
            return None
        # the deleted text runs from the update's start up to the add's start
        r = rs.physical(prev.start, items[k].start)
        return Edit.delete(r.start, r.end)

    # ---------------------------------------------------------------- dnf / yum
    def _rpm(self, stage: Stage, ins: Instruction, rs: RunScript, ctx: PassContext) -> Iterable[Change]:
        cmds = rs.script.commands
        installs = [c for c in cmds if c.name in _RPM_MANAGERS and _rpm_sub(c) in _RPM_INSTALLS]
        if not installs:
            return
        last = installs[-1]
        mgr = last.name
        assert mgr is not None
        if do102_mounts(ctx, "dnf"):
            return
        targets = cache_mount_targets(ins)
        if any(mount_covers(targets, d) for d in set(_CACHE_DIRS.values())) or mount_covers(targets, "/var/cache"):
            return
        last_at = cmds.index(last)
        if any(_cleans(c) for c in cmds[last_at + 1 :]):
            return
        if merges_with_next(stage, ins, ctx):
            return  # DO109 joins this RUN with the next; the clean goes at the end of the merged RUN
        if any(c.name in _RPM_MANAGERS and _rpm_sub(c) is None for c in cmds):
            return  # an option we do not know precedes the subcommand
        if any(has_flag(eff_args(c), "--installroot") for c in installs):
            return
        items = rs.script.items
        if any(it.op_before == "&" for it in items) or rs.script.text.rstrip().endswith("&"):
            return  # background jobs: appending would change what runs in the background
        item = items[last.item]
        # the clean goes right after the item holding the last install; keep the script's wrappers
        prefix = wrapper_prefix(rs, last)
        clean = f"{prefix}{mgr} clean all"
        if mgr == "yum":
            clean += f" && {prefix}rm -rf /var/cache/yum"
        at = rs.physical(item.start, item.end).end
        title = f"Clean the {mgr} cache in the same RUN"
        expl = (
            f"Appends `{clean}` after the {mgr} install, so repository metadata and downloaded packages under "
            f"{_CACHE_DIRS[mgr]} do not stay in this layer."
        )
        yield self.change(title, expl, ins, [Edit.insert(at, f" && {clean}")], Safety.SAFE)


def _applet(cmd: Command) -> str | None:
    sub = subcommand(cmd, _APK_VALUELESS)
    return sub[1].value if sub else None


def _rpm_sub(cmd: Command) -> str | None:
    """The dnf/yum subcommand; options with values are skipped when written as ``--opt=value``."""
    args = eff_args(cmd)
    i = 0
    while i < len(args):
        v = args[i].value
        if v is None:
            return None
        if v.startswith("-"):
            base = v.split("=", 1)[0]
            if "=" in v or base in _RPM_VALUELESS and base not in ("--setopt", "--disablerepo", "--enablerepo", "--disableplugin", "--installroot", "--releasever"):
                i += 1
                continue
            if base in ("--setopt", "--disablerepo", "--enablerepo", "--disableplugin", "--installroot", "--releasever"):
                i += 2
                continue
            return None
        return v
    return None


def _cleans(cmd: Command) -> bool:
    if cmd.name in _RPM_MANAGERS and _rpm_sub(cmd) == "clean":
        return True
    if cmd.name == "rm":
        return any(a is None or a.startswith("/var/cache") for a in cmd.args if a is None or not a.startswith("-"))
    return False
