"""DO103 apt-update-merge."""

from __future__ import annotations

from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile

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
    messages = {
        "merge": Message(
            "Merge apt-get update into the install",
            "Moved `{update}` from its own RUN into the install on line {line}. Alone it is cached separately, so a "
            "changed install line would reuse stale package lists.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        for node in m.graph.nodes:
            body = node.stage.body
            for n, ins in enumerate(body):
                facts = m.run(ins)
                if facts is None or ins.flags or facts.editable is None:
                    continue
                rs = facts.editable
                apts = facts.by_tool("apt")
                if len(rs.script.items) != 1 or len(facts.actions) != 1 or len(apts) != 1 or apts[0].invocation is None:
                    continue
                if not apts[0].invocation.updates_index or not rs.script.items[0].simple:
                    continue
                target = None
                for k in range(n + 1, len(body)):  # no copy of the rest of the body per RUN
                    nxt = body[k]
                    if nxt.keyword in _BETWEEN:
                        continue
                    target = nxt if nxt.keyword == "RUN" else None
                    break
                if target is None:
                    continue
                tfacts = m.run(target)
                if tfacts is None or tfacts.editable is None:
                    continue
                trs = tfacts.editable
                tapts = [a for a in tfacts.by_tool("apt") if a.invocation is not None]
                if not tapts or tapts[0].invocation.updates_index or not tapts[0].invocation.installs:  # type: ignore[union-attr]
                    continue
                icmd = tapts[0].command
                item = trs.script.items[icmd.item]
                if not item.simple or not (item.op_before in (None, "&&") or trs.script.set_e):
                    continue
                cmd = apts[0].command
                update_text = rs.source(cmd.start, cmd.end, doc.text)
                if "\n" in update_text:
                    continue
                at = trs.physical(icmd.start, icmd.start + 1).start
                edits = [Edit.delete(ins.full_range.start, ins.full_range.end), Edit.insert(at, f"{update_text} && ")]
                yield self.say("merge", ins, edits, Safety.SAFE, update=update_text, line=target.start_line)
