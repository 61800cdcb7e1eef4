"""DO103 apt-update-merge."""

from __future__ import annotations

from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import run_script
from dockeropt.syntax import Dockerfile
from dockeropt.transforms._apt_edit import apt_invocations, editable

# instructions that may sit between the update and the install without changing what apt sees
_BETWEEN = {"ENV", "ARG", "LABEL"}


@register
class AptUpdateMerge(Pass):
    """Merge an `apt-get update` alone in its RUN into the next install's RUN.

    What it does:
        When a RUN does nothing but `apt-get update` and the next RUN of the
        stage installs with apt, the update moves to the start of the
        install (`apt-get update && apt-get install …`) and its own RUN
        goes away.
    Why:
        Each RUN is cached on its own. When the install line changes, the
        build reuses the cached update layer with its old package lists, and
        the install fails with 404s or installs stale versions. In one RUN
        the lists are always fresh for the install that uses them.
    Example:
        RUN apt-get update
        RUN apt-get install -y curl
        # becomes
        RUN apt-get update && apt-get install -y curl
    Fix safety:
        Safe: the same commands run in the same order; the install only ever
        sees current package lists, as a build without cache would.
    """

    id = "DO103"
    name = "apt-update-merge"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for stage in doc.stages:
            body = stage.body
            for n, ins in enumerate(body):
                if ins.keyword != "RUN" or ins.flags:
                    continue
                rs = run_script(ins)
                if rs is None or not editable(rs):
                    continue
                cmds = rs.script.commands
                apts = apt_invocations(rs)
                if len(rs.script.items) != 1 or len(cmds) != 1 or len(apts) != 1 or not apts[0][1].updates_index:
                    continue
                if not rs.script.items[0].simple:
                    continue
                target = None
                for nxt in body[n + 1 :]:
                    if nxt.keyword in _BETWEEN:
                        continue
                    target = nxt if nxt.keyword == "RUN" else None
                    break
                if target is None:
                    continue
                trs = run_script(target)
                if trs is None or not editable(trs):
                    continue
                tapts = apt_invocations(trs)
                if not tapts or tapts[0][1].updates_index or not tapts[0][1].installs:
                    continue
                icmd = trs.script.commands[tapts[0][0]]
                item = trs.script.items[icmd.item]
                if not item.simple or not (item.op_before in (None, "&&") or trs.script.set_e):
                    continue
                update_text = rs.source(cmds[0].start, cmds[0].end, doc.text)
                if "\n" in update_text:
                    continue
                at = trs.physical(icmd.start, icmd.start + 1).start
                edits = [
                    Edit.delete(ins.full_range.start, ins.full_range.end),
                    Edit.insert(at, f"{update_text} && "),
                ]
                yield self.change(
                    "merge apt-get update into the install",
                    f"Moved `{update_text}` from its own RUN into the install on line {target.start_line}. "
                    "Alone it is cached separately, so a changed install line would reuse stale package lists.",
                    ins,
                    edits,
                    Safety.SAFE,
                )
