"""DO104 apt-hygiene."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dockeropt.catalog import Invocation
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import RunScript, run_script
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._apt_edit import apt_invocations, editable
from dockeropt.transforms._runinfo import later_apt_needs_lists
from dockeropt.transforms.do102_cache_mounts import existing_cache_targets

_YES = re.compile(r"^-[a-zA-Z]*y[a-zA-Z]*$")
# packages that reach https servers and only get CA certificates through Recommends
_NEEDS_CA = {"curl", "wget", "git", "openssl", "gnupg", "gnupg2", "python3-pip", "python3-requests", "libcurl4"}
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
    return any(w.value is not None and ("recommends" in w.value.lower()) for w in inv.command.effective()[1:])


def _packages(inv: Invocation) -> list[str | None]:
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
        if cmd.name == "rm" and any(
            (w.pattern or "").rstrip("/*").rstrip("/") in ("/var/lib/apt/lists", "/var/lib/apt") for w in cmd.effective()[1:]
        ):
            return True
    return False


def _ca_installed_before(stage: Stage, ins: Instruction) -> bool:
    return any("ca-certificates" in i.text for i in stage.body if i.index < ins.index)


@register
class AptHygiene(Pass):
    """Make apt-get installs non-interactive, lean and clean.

    What it does:
        Adds `-y` to `apt-get install` lines that lack it, adds
        `--no-install-recommends` (and `ca-certificates` when a tool that
        talks https, such as curl, wget or git, would lose it as a
        recommended package), and ends the RUN with
        `rm -rf /var/lib/apt/lists/*` when the RUN has no cache mount for
        apt and DO102 (cache-mounts) is not running.
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

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for stage in doc.stages:
            for ins in stage.body:
                if ins.keyword != "RUN":
                    continue
                rs = run_script(ins)
                if rs is None or not editable(rs):
                    continue
                apts = apt_invocations(rs)
                if not apts:
                    continue
                yield from self._flags(doc, stage, ins, rs, apts)
                ch = self._lists(doc, stage, ins, rs, apts, ctx)
                if ch is not None:
                    yield ch

    def _flags(
        self, doc: Dockerfile, stage: Stage, ins: Instruction, rs: RunScript, apts: list[tuple[int, Invocation]]
    ) -> Iterable[Change]:
        for _, inv in apts:
            if inv.subcommand != "install":
                continue
            anchor = inv.subcommand_end
            at = rs.physical(anchor.start, anchor.end).end
            if not _has_yes(inv):
                yield self.change(
                    "add -y to apt-get install",
                    "Added `-y`: without it apt-get waits for a confirmation no one can give during a build, and the install aborts.",
                    rs.physical(inv.command.start, inv.command.end),
                    [Edit.insert(at, " -y")],
                    Safety.SAFE,
                )
            if not _recommends_set(inv):
                pkgs = _packages(inv)
                if not pkgs or any(p is None for p in pkgs):
                    continue
                yes = [w for w in inv.rest if w.value is not None and (w.value in ("-y", "--yes", "--assume-yes") or _YES.match(w.value))]
                nir_at = rs.physical(yes[0].start, yes[0].end).end if yes and ins.logical.is_contiguous(rs.base + anchor.start, rs.base + yes[0].end) else at
                edits = [Edit.insert(nir_at, " --no-install-recommends")]
                expl = "Added `--no-install-recommends` so apt installs only required dependencies, often saving tens of megabytes."
                needs_ca = sorted(set(pkgs) & _NEEDS_CA)  # type: ignore[arg-type]
                if needs_ca and "ca-certificates" not in pkgs and not _ca_installed_before(stage, ins):
                    last = [w for w in inv.rest if w.value in pkgs][-1]
                    edits.append(Edit.insert(rs.physical(last.start, last.end).end, " ca-certificates"))
                    expl += f" Added `ca-certificates`, which {', '.join(needs_ca)} only recommends, so https keeps working."
                expl += " Check that the app does not rely on a package that came only as a recommendation."
                yield self.change(
                    "add --no-install-recommends",
                    expl,
                    rs.physical(inv.command.start, inv.command.end),
                    edits,
                    Safety.REVIEW,
                )

    def _lists(
        self,
        doc: Dockerfile,
        stage: Stage,
        ins: Instruction,
        rs: RunScript,
        apts: list[tuple[int, Invocation]],
        ctx: PassContext,
    ) -> Change | None:
        if ctx.enabled("DO102"):
            return None
        if not any(inv.installs or inv.updates_index for _, inv in apts):
            return None
        if any(t == "/var/lib/apt" or t.startswith("/var/lib/apt/") for t in existing_cache_targets(ins)):
            return None
        if _cleans_lists(rs):
            return None
        items = rs.script.items
        last = items[-1]
        if last.op_before == "&" or rs.script.text.rstrip().endswith("&"):
            return None
        if not any(inv.updates_index for _, inv in apts):
            return None  # lists came from an earlier RUN; its layer keeps them anyway
        later = later_apt_needs_lists(doc, stage, ins)
        if later is not None:
            return None
        at = rs.physical(last.start, last.end).end
        return self.change(
            "remove apt lists",
            f"Added `rm -rf {LISTS}` at the end of the RUN so the package lists downloaded by apt-get update "
            "do not stay in the layer. Images built FROM this one must run apt-get update before installing.",
            ins,
            [Edit.insert(at, f" && rm -rf {LISTS}")],
            Safety.REVIEW,
        )
