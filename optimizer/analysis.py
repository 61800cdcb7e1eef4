"""Two small helpers kept outside the image model: a text-only COPY/ADD reading and comment anchors."""

from __future__ import annotations

from dataclasses import dataclass

from dockeropt.syntax import Instruction


@dataclass(frozen=True)
class CopySpec:
    sources: tuple[str, ...]
    dest: str
    from_stage: str | None


def copy_spec(ins: Instruction) -> CopySpec | None:
    """Sources and destination of a COPY/ADD without heredocs, as written (``verify`` reads them
    from a file it does not model; passes use the model's :class:`~dockeropt.model.files.CopyFacts`)."""
    if ins.keyword not in ("COPY", "ADD") or ins.heredocs:
        return None
    words = ins.words
    if len(words) < 2:
        return None
    frm = ins.flag("from")
    return CopySpec(tuple(words[:-1]), words[-1], frm.value if frm else None)


def leading_comment_start(ins: Instruction) -> int:
    """Offset where the comments directly above ``ins`` begin (no blank line between)."""
    start = ins.full_range.start
    for t in reversed(ins.leading_trivia):
        if t.kind != "comment" or t.range.end != start:
            break
        start = t.range.start
    return start
