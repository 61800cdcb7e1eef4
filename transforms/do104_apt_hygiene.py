"""DO104 apt-hygiene."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dockeropt.catalog import Invocation
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel, RunFacts
from dockeropt.model.runs import Action
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import RunScript
from dockeropt.syntax import Dockerfile, Instruction

_YES = re.compile(r"^-[a-zA-Z]*y[a-zA-Z]*$")
LISTS = "/var/lib/apt/lists/*"


def _has_yes(inv: Invocation) -> bool:
    for w in inv.command.effective()[1:]:
        v = w.value
        if v is None:
            continue
        if v in ("--yes", "--assume-yes", "--force-yes") or (not v.startswith("--") and _YES.match(v)):
            return True
        if "assume-yes" in v.lower():
            return True
    return False


def _recommends_set(inv: Invocation) -> bool:
    for w in inv.command.effective()[1:]:  # a plain loop, not any(): every apt install of every round
        v = w.value
        if v is not None and "recommends" in v.lower():
            return True
    return False


def _packages(inv: Invocation) -> list[str | None]:
    """Package words after the subcommand (None: an expansion)."""
    out: list[str | None] = []
    skip = False
    for w in inv.rest:
        v = w.value
        if skip:
            skip = False
            continue
        if v is not None and v.startswith("-"):
            if v in inv.manager.flags_with_value:
                skip = True
            continue
        out.append(v)
    return out


def _cleans_lists(rs: RunScript) -> bool:
    for cmd in rs.script.commands:
        if cmd.name == "rm":
            for w in cmd.effective()[1:]:
                if (w.pattern or "").rstrip("/*").rstrip("/") in ("/var/lib/apt/lists", "/var/lib/apt"):
                    return True
    return False


class _CaFirst:
    """Where each stage's chain first installs the CA certificates (computed on first use, once per check)."""

    def __init__(self, m: ImageModel) -> None:
        self.m = m
        self.first: dict[int, int | None] | None = None

    def before(self, ins: Instruction, ca: str) -> bool:
        if self.first is None:
            self.first = self._compute(ca)
        got = self.first.get(ins.stage_index)
        return got is not None and got < ins.index

    def _compute(self, ca: str) -> dict[int, int | None]:
        m = self.m
        first: dict[int, int | None] = {}
        for node in m.graph.nodes:
            own = next((i.index for i, f in m.stage_runs(node.index)
                        if ca in i.text or any(ca in a.packages for a in f.actions)), None)
            inherited = first.get(node.parent) if node.parent is not None else None
            first[node.index] = inherited if inherited is not None else own
        return first


@register
class AptHygiene(Pass):
    """Make apt-get installs non-interactive, lean and clean.

    What it does:
        Adds `-y` to `apt-get install` lines that lack it, adds
        `--no-install-recommends` (and `ca-certificates` when a tool that
        talks https, such as curl, wget or git, would lose it as a
        recommended package), and ends the RUN with
        `rm -rf /var/lib/apt/lists/*` when the RUN has no cache mount over
        apt's lists. It runs after DO102 (cache-mounts): while DO102 has a
        fix for the stage, this rule waits a round and then sees whether
        the mount is really there.
    Why:
        Without `-y` apt stops at its prompt and the build aborts.
        Recommended packages are often hundreds of megabytes the app never
        uses. Package lists left in a layer add tens of megabytes to the
        image and go stale anyway.
    Example:
        RUN apt-get update && apt-get install curl
        # becomes
        RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates && rm -rf /var/lib/apt/lists/*
    Fix safety:
        `-y` is safe. `--no-install-recommends` needs review: a package the
        app needs may have come only as a recommendation (fonts,
        ca-certificates, locales); run the app's tests. Removing the lists
        needs review: images built FROM this one must run `apt-get update`
        before installing; it is never added when a later RUN here installs
        without its own update.
    """

    id = "DO104"
    name = "apt-hygiene"
    after = ("DO102",)
    messages = {
        "yes": Message(
            "Add -y to apt-get install",
            "Added `-y`: without it apt-get waits for a confirmation no one can give during a build, and the install aborts.",
            after=(),  # a flag beside DO102's mount: it does not wait for it
        ),
        "recommends": Message(
            "Add --no-install-recommends",
            "Added `--no-install-recommends` so apt installs only required dependencies, often saving tens of "
            "megabytes.{ca} Check that the app does not rely on a package that came only as a recommendation.",
            after=(),
        ),
        "lists": Message(
            "Remove apt lists",
            "Added `rm -rf {lists}` at the end of the RUN so the package lists downloaded by apt-get update do not "
            "stay in the layer. Images built FROM this one must run apt-get update before installing.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        ca_first = _CaFirst(m)
        for node in m.graph.nodes:
            for ins, facts in m.stage_runs(node.index):
                rs = facts.editable
                apts = [a for a in facts.actions if a.tool == "apt" and a.invocation is not None]  # by_tool("apt"), one list
                if rs is None or not apts:
                    continue
                yield from self._flags(m, ins, rs, apts, ca_first)
                ch = self._lists(m, ins, rs, facts, apts)
                if ch is not None:
                    yield ch

    def _flags(self, m: ImageModel, ins: Instruction, rs: RunScript, apts: list[Action], ca_first: _CaFirst) -> Iterable[Change]:
        for a in apts:
            inv = a.invocation
            assert inv is not None
            if inv.subcommand != "install":
                continue
            # they read the command's words only: kept with the classification, which the model reuses across
            # rounds for the same content
            flags = a.derived.get("DO104.flags")
            if flags is None:
                flags = a.derived["DO104.flags"] = (_has_yes(inv), _recommends_set(inv))
            has_yes, recommends_set = flags
            if has_yes and recommends_set:
                continue  # the usual case once fixed: nothing to add, no ranges to compute
            anchor = inv.subcommand_end
            at: int | None = None  # document ranges (pure) only when an edit or a change needs them
            where = None
            if not has_yes:
                at = rs.physical(anchor.start, anchor.end).end
                where = rs.physical(inv.command.start, inv.command.end)
                yield self.say("yes", where, [Edit.insert(at, " -y")], Safety.SAFE)
            if recommends_set:
                continue
            pkgs = _packages(inv)
            if not pkgs or any(p is None for p in pkgs):
                continue
            yes = [w for w in inv.rest if w.value is not None and (w.value in ("-y", "--yes", "--assume-yes") or _YES.match(w.value))]
            contiguous = yes and ins.logical.is_contiguous(rs.base + anchor.start, rs.base + yes[0].end)
            if contiguous:
                nir_at = rs.physical(yes[0].start, yes[0].end).end
            else:
                nir_at = at if at is not None else rs.physical(anchor.start, anchor.end).end
            edits = [Edit.insert(nir_at, " --no-install-recommends")]
            ca = ""
            mgr = inv.manager
            needs_ca = sorted(set(pkgs) & set(mgr.https_packages))  # type: ignore[arg-type]
            if needs_ca and mgr.ca_package and mgr.ca_package not in pkgs and not ca_first.before(ins, mgr.ca_package):
                last = [w for w in inv.rest if w.value in pkgs][-1]
                edits.append(Edit.insert(rs.physical(last.start, last.end).end, f" {mgr.ca_package}"))
                ca = f" Added `{mgr.ca_package}`, which {', '.join(needs_ca)} only recommends, so https keeps working."
            if where is None:
                where = rs.physical(inv.command.start, inv.command.end)
            yield self.say("recommends", where, edits, Safety.REVIEW, ca=ca)

    def _lists(self, m: ImageModel, ins: Instruction, rs: RunScript, facts: RunFacts, apts: list[Action]) -> Change | None:
        # plain loops: every apt RUN, every round
        for a in apts:
            if a.invocation is not None and a.invocation.updates_index:
                break
        else:
            return None  # lists came from an earlier RUN (or none were downloaded); its layer keeps them anyway
        for mt in facts.mounts:
            if mt.type == "cache" and mt.covers("/var/lib/apt/lists"):
                return None
        if _cleans_lists(rs):
            return None
        items = rs.script.items
        last = items[-1]
        if last.op_before == "&" or rs.script.text.rstrip().endswith("&"):
            return None
        if m.later_apt_needs_lists(ins) is not None:
            return None
        at = rs.physical(last.start, last.end).end
        return self.say("lists", ins, [Edit.insert(at, f" && rm -rf {LISTS}")], Safety.REVIEW, lists=LISTS)
