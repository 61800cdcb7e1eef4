"""DO105 apk-dnf-hygiene."""

from __future__ import annotations

from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel, RunFacts
from dockeropt.model.runs import Action
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import RunScript
from dockeropt.syntax import Dockerfile, Instruction

_CHANGES_PACKAGES = ("install", "upgrade", "update-index")


def _wrapper_prefix(rs: RunScript, a: Action) -> str:
    """The script text before the command's effective name (``sudo -E ``), or ''."""
    cmd = a.command
    eff = cmd.effective()
    if not eff or not cmd.argv or eff[0] is cmd.argv[0]:
        return ""
    return rs.script.text[cmd.argv[0].start : eff[0].start]


def _mounted(facts: RunFacts, a: Action) -> bool:
    """A cache mount over the manager's cache folders (or its cache links)."""
    mgr = a.manager
    assert mgr is not None
    paths = [c.template for c in mgr.caches] + list((mgr.hygiene or {}).get("cache_links", ()))
    return any(mt.covers(p) for mt in facts.cache_mounts() for p in paths)


def _cleans(a: Action) -> bool:
    """``a``'s manager has a clean command to run after installs (dnf, yum: catalog ``hygiene.clean``)."""
    mgr = a.manager
    return mgr is not None and bool((mgr.hygiene or {}).get("clean"))


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
        alone. It runs after DO109 (merge-installs), so a clean goes once at
        the end of the merged RUN, and after DO102 (cache-mounts), so it
        never cleans a cache DO102 mounts.

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
    after = ("DO102", "DO109")
    messages = {
        "apk": Message(
            "Add --no-cache to apk add{and_update}",
            "`apk add --no-cache` fetches the package index into memory and leaves nothing under /var/cache/apk, "
            "so the layer no longer carries the index ({count}).{update}",
        ),
        "apk_update": Message(
            "Drop the apk update before apk add --no-cache",
            "`apk add --no-cache` fetches a fresh package index itself, so the `apk update` right before it only "
            "left a copy of the index under /var/cache/apk in this layer; it is dropped.",
        ),
        "rpm": Message(
            "Clean the {manager} cache in the same RUN",
            "Appends `{clean}` after the {manager} install, so repository metadata and downloaded packages under "
            "{folder} do not stay in this layer.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        for node in m.graph.nodes:
            for ins, facts in m.stage_runs(node.index):
                if facts.editable is None:
                    continue
                # most RUNs use neither: no generators for them (the same tests _apk and _rpm start with)
                apk = rpm = False
                for a in facts.actions:
                    if a.tool == "apk":
                        apk = True
                    if not rpm and a.verb in _CHANGES_PACKAGES and _cleans(a):
                        rpm = True
                if apk:
                    yield from self._apk(ins, facts.editable, facts)
                if rpm:
                    yield from self._rpm(m, ins, facts.editable, facts)

    # ---------------------------------------------------------------- apk
    def _apk(self, ins: Instruction, rs: RunScript, facts: RunFacts) -> Iterable[Change]:
        adds = [a for a in facts.by_tool("apk") if a.verb == "install" and a.invocation is not None]
        if not adds or any(_mounted(facts, a) for a in adds):
            return
        mgr = adds[0].manager
        assert mgr is not None
        links = (mgr.hygiene or {}).get("cache_links", ())
        if any(a.verb == "fs" and any(w.value is not None and any(x in w.value for x in links) for w in a.command.effective())
               for a in facts.actions):
            return  # the RUN sets up a persistent apk cache on purpose
        flag = mgr.no_cache_flags[0]
        edits: list[Edit] = []
        dropped_update = False
        for a in adds:
            inv = a.invocation
            assert inv is not None
            if not inv.has_flag(flag):
                word = inv.subcommand_end
                edits.append(Edit.insert(rs.physical(word.start, word.end).end, " " + flag))
            upd = self._update_before(rs, facts, a)
            if upd is not None:
                edits.append(upd)
                dropped_update = True
        if not edits:
            return
        n = len([e for e in edits if e.text])
        if n:
            yield self.say(
                "apk", ins, edits, Safety.SAFE, and_update=" and drop the apk update before it" if dropped_update else "",
                count=f"{n} command{'s' if n > 1 else ''}",
                update=" The `apk update` right before it is dropped: `--no-cache` fetches a fresh index itself." if dropped_update else "",
            )
        else:
            yield self.say("apk_update", ins, edits, Safety.SAFE)

    def _update_before(self, rs: RunScript, facts: RunFacts, add: Action) -> Edit | None:
        """Delete ``apk update && `` when it is the item right before ``add``, joined by ``&&``."""
        items = rs.script.items
        k = add.command.item
        if k == 0 or items[k].op_before != "&&" or not items[k].simple:
            return None
        prev = items[k - 1]
        if not prev.simple or len(prev.commands) != 1:
            return None
        upd = next((a for a in facts.actions if a.index == prev.commands[0]), None)
        if upd is None or upd.tool != add.tool or upd.verb != "update-index" or upd.invocation is None:
            return None
        if len(upd.command.effective()) != 2 or _wrapper_prefix(rs, upd) or upd.command.assignments:
            return None
        # the deleted text runs from the update's start up to the add's start
        r = rs.physical(prev.start, items[k].start)
        return Edit.delete(r.start, r.end)

    # ---------------------------------------------------------------- dnf / yum
    def _rpm(self, m: ImageModel, ins: Instruction, rs: RunScript, facts: RunFacts) -> Iterable[Change]:
        rpm = [a for a in facts.actions if _cleans(a)]
        installs = [a for a in rpm if a.verb in _CHANGES_PACKAGES]
        if not installs:
            return
        last = installs[-1]
        mgr = last.manager
        assert mgr is not None and last.invocation is not None
        hyg = mgr.hygiene or {}
        program = last.command.name or mgr.id
        if any(_mounted(facts, a) for a in installs):
            return
        if any(a.index > last.index and (a.verb == "clean" or (a.verb == "fs" and self._removes_cache(a))) for a in facts.actions):
            return
        if any(a.invocation is None or a.invocation.subcommand is None for a in rpm):
            return  # an expansion where the subcommand should be
        if any(a.invocation is not None and a.invocation.has_flag(*hyg.get("no_clean_flags", ())) for a in installs):
            return
        items = rs.script.items
        if any(it.op_before == "&" for it in items) or rs.script.text.rstrip().endswith("&"):
            return  # background jobs: appending would change what runs in the background
        item = items[last.command.item]
        # the clean goes right after the item holding the last install; keep the script's wrappers
        prefix = _wrapper_prefix(rs, last)
        clean = prefix + " ".join(w.replace("{program}", program) for w in hyg["clean"])
        also = hyg.get("clean_also", {}).get(program)
        if also:
            clean += f" && {prefix}{' '.join(also)}"
        at = rs.physical(item.start, item.end).end
        folder = hyg.get("cache_dir", {}).get(program, mgr.caches[0].template if mgr.caches else "/var/cache")
        yield self.say("rpm", ins, [Edit.insert(at, f" && {clean}")], Safety.SAFE, manager=program, clean=clean, folder=folder)

    @staticmethod
    def _removes_cache(a: Action) -> bool:
        if a.command.name != "rm":
            return False
        return any(w.value is None or w.value.startswith("/var/cache") for w in a.command.effective()[1:]
                   if w.value is None or not w.value.startswith("-"))
