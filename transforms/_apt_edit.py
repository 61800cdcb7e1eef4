"""apt helpers shared by DO103 and DO104 (not a pass)."""

from __future__ import annotations

from dockeropt.catalog import Invocation, catalog
from dockeropt.shell import RunScript


def apt_invocations(rs: RunScript) -> list[tuple[int, Invocation]]:
    out = []
    for i, cmd in enumerate(rs.script.commands):
        for inv in catalog().match(cmd):
            if inv.manager.id == "apt":
                out.append((i, inv))
    return out


def editable(rs: RunScript | None) -> bool:
    return rs is not None and rs.script.ok and not rs.heredoc and not rs.instruction.heredocs
