"""Deferring to another pass: does rule X have a fix pending for this text?

DO202 and DO301 step aside while DO201 (add-runtime-stage) is about to
restructure a stage: swapping its base or adding a USER first would stop DO201
(it refuses stages with a USER its runtime base lacks) or pick the wrong base.
"""

from __future__ import annotations

from dockeropt.rules import PassContext, load_passes, read_pragmas
from dockeropt.source import TextRange
from dockeropt.syntax import Dockerfile


def pending_fix_ranges(rule_id: str, doc: Dockerfile, ctx: PassContext) -> list[TextRange]:
    """Ranges of the fixes ``rule_id`` proposes for ``doc`` that the pipeline would apply (empty when not running)."""
    if not ctx.enabled(rule_id) or ctx.per_file_ignored(rule_id):
        return []
    cls = load_passes().get(rule_id)
    if cls is None:
        return []

    def compute() -> list[TextRange]:
        try:
            changes = list(cls().check(doc, ctx))
        except Exception:  # the other pass reports its own crash
            return []
        pragmas = read_pragmas(doc)
        return [
            c.fix.range
            for c in changes
            if c.fix is not None and c.fix.safety >= ctx.config.min_safety and not pragmas.suppresses(c, doc)
        ]

    return ctx.memo(("pending-fix-ranges", rule_id), doc, compute)


def overlaps(ranges: list[TextRange], start: int, end: int) -> bool:
    return any(r.start < end and start < r.end or r.start == start for r in ranges)
