"""Edits, fixes and their safety, and applying non-overlapping fixes to text."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from enum import IntEnum

from dockeropt.source import TextRange


class Safety(IntEnum):
    """How much a fix may change what the image does. Ordered: a higher value is safer.

    * ``SAFE``: cannot change what the image does.
    * ``REVIEW``: changes the runtime environment, after dockeropt's own
      compatibility analysis; applied by default, worth a look.
    * ``UNSAFE``: needs a human decision; applied only with ``--unsafe-fixes``.
    """

    UNSAFE = 0
    REVIEW = 1
    SAFE = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Edit:
    range: TextRange
    text: str

    @classmethod
    def insert(cls, offset: int, text: str) -> Edit:
        return cls(TextRange(offset, offset), text)

    @classmethod
    def replace(cls, start: int, end: int, text: str) -> Edit:
        return cls(TextRange(start, end), text)

    @classmethod
    def delete(cls, start: int, end: int) -> Edit:
        return cls(TextRange(start, end), "")


@dataclass(frozen=True, slots=True)
class FileChange:
    """A whole-file change to another file of the build context (``.dockerignore``, a compose file).

    ``path`` is relative to the build context root, POSIX style; ``text`` is the
    file's complete new content; ``created`` says the file does not exist yet.
    """

    path: str
    text: str
    created: bool = False


@dataclass(frozen=True, slots=True)
class Fix:
    edits: tuple[Edit, ...]
    safety: Safety
    files: tuple[FileChange, ...] = ()

    def __post_init__(self) -> None:
        if not self.edits and not self.files:
            raise ValueError("a fix changes nothing")
        if len(self.edits) == 1 and type(self.edits) is tuple:  # most fixes: nothing to order or check
            return
        ordered = sorted(self.edits, key=lambda e: (e.range.start, e.range.end))
        for a, b in zip(ordered, ordered[1:]):
            if a.range.end > b.range.start:
                raise ValueError("a fix's own edits overlap")
        object.__setattr__(self, "edits", tuple(ordered))

    @property
    def range(self) -> TextRange:
        if not self.edits:
            return TextRange(0, 0)
        return TextRange(self.edits[0].range.start, max(e.range.end for e in self.edits))


@dataclass(frozen=True)
class Change:
    """One finding of one pass: what, why, where, and (optionally) how to fix it.

    A change without a fix is a display-only note.
    """

    rule_id: str
    rule_name: str
    title: str
    explanation: str
    range: TextRange
    fix: Fix | None = None
    line: int = 0  # 1-based line of ``range.start`` in the text the pass saw; set by the pipeline
    notes: tuple[str, ...] = field(default=())
    waits_for: tuple[str, ...] | None = None  # rules whose fixes land first (None: the pass's own ``after``)

    def evolve(self, **fields: object) -> Change:
        """A copy with ``fields`` changed: ``dataclasses.replace`` without re-running ``__init__`` (the
        pipeline re-positions every change of every round; nothing here needs validating)."""
        unknown = set(fields) - _CHANGE_FIELDS
        if unknown:
            raise TypeError(f"Change has no field {sorted(unknown)[0]!r}")
        new = object.__new__(Change)
        d = new.__dict__
        d.update(self.__dict__)
        d.update(fields)
        return new

    @property
    def safety(self) -> Safety | None:
        return self.fix.safety if self.fix else None

    @property
    def safety_label(self) -> str:
        return self.fix.safety.label if self.fix else "display-only"


_CHANGE_FIELDS = frozenset(f.name for f in fields(Change))


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``."""
    ordered = sorted(edits, key=lambda e: (e.range.start, e.range.end))
    out: list[str] = []
    pos = 0
    for e in ordered:
        if e.range.start < pos:
            raise ValueError("overlapping edits")
        out.append(text[pos : e.range.start])
        out.append(e.text)
        pos = e.range.end
    out.append(text[pos:])
    return "".join(out)


def _conflicts(edit: Edit, taken: list[Edit]) -> bool:
    for t in taken:
        if edit.range.overlaps(t.range):
            return True
        # touching replacements are fine; an insertion at a replaced range's edge is ambiguous
        if (edit.range.start == edit.range.end or t.range.start == t.range.end) and (
            edit.range.start == t.range.end or edit.range.end == t.range.start
        ):
            return True
    return False


class _Regions:
    """Edits already taken or reserved, bucketed by offset so a conflict check looks at neighbours only."""

    _SIZE = 256

    def __init__(self) -> None:
        self._buckets: dict[int, list[Edit]] = {}

    def _keys(self, start: int, end: int) -> range:
        return range(max(start - 1, 0) // self._SIZE, (end + 1) // self._SIZE + 1)

    def add(self, edit: Edit) -> None:
        for k in self._keys(edit.range.start, edit.range.end):
            self._buckets.setdefault(k, []).append(edit)

    def conflicts(self, edit: Edit) -> bool:
        # an edit spanning several buckets may be looked at twice: harmless for a yes/no answer
        for k in self._keys(edit.range.start, edit.range.end):
            near = self._buckets.get(k)
            if near and _conflicts(edit, near):
                return True
        return False


def select_fixes(changes: Sequence[Change], min_safety: Safety) -> tuple[list[Change], list[Change]]:
    """Pick fixes to apply now: allowed safety, no overlap with an earlier pick.

    Returns ``(applied, deferred)``; deferred fixes may apply on a later round.
    """
    taken = _Regions()
    taken_files: set[str] = set()
    reserved = _Regions()
    applied: list[Change] = []
    deferred: list[Change] = []
    # lower rule ids first: fine-grained build-speed fixes land before stage restructuring,
    # which then works on the already-reordered stage in the next round
    for ch in sorted((c for c in changes if c.fix is not None), key=lambda c: (c.rule_id, c.fix.range.start)):  # type: ignore[union-attr]
        assert ch.fix is not None
        if ch.fix.safety < min_safety:
            continue
        if any(taken.conflicts(e) for e in ch.fix.edits):
            deferred.append(ch)
            # a deferred fix keeps its region: a higher rule id must not rewrite it first
            # (a stage restructuring waits for the build-speed fixes, then applies before later rules)
            for e in ch.fix.edits:
                reserved.add(e)
            continue
        if any(reserved.conflicts(e) for e in ch.fix.edits) or any(f.path in taken_files for f in ch.fix.files):
            deferred.append(ch)
            continue
        for e in ch.fix.edits:
            taken.add(e)
        taken_files.update(f.path for f in ch.fix.files)
        applied.append(ch)
    return applied, deferred


class OffsetMap:
    """Maps offsets in edited text back to offsets in the text before the edits.

    Inside a replaced region, lines that the replacement kept (found with
    difflib) map to their old place; anything else maps to the region's start.
    """

    def __init__(self, edits: Iterable[Edit], old_text: str = "") -> None:
        self._new_starts: list[int] = []
        self._segments: list[tuple[int, int, int, int, str]] = []  # new_start, new_end, old_start, old_end, new text
        self._old_text = old_text
        # per segment (old start, new text): where each kept new line starts in the old text, from difflib once
        self._kept: dict[tuple[int, str], dict[int, int]] = {}
        delta = 0
        for e in sorted(edits, key=lambda e: (e.range.start, e.range.end)):
            new_start = e.range.start + delta
            new_end = new_start + len(e.text)
            self._new_starts.append(new_start)
            self._segments.append((new_start, new_end, e.range.start, e.range.end, e.text))
            delta += len(e.text) - len(e.range)

    def to_old(self, offset: int) -> int:
        i = bisect.bisect_right(self._new_starts, offset) - 1
        if i < 0:
            return offset
        new_start, new_end, old_start, old_end, new_text = self._segments[i]
        if offset < new_end:
            return self._inside(offset - new_start, old_start, old_end, new_text)
        return old_end + (offset - new_end)

    def _inside(self, rel: int, old_start: int, old_end: int, new_text: str) -> int:
        if not self._old_text:
            return old_start
        line = new_text.count("\n", 0, rel)
        col = rel - (new_text.rfind("\n", 0, rel) + 1)
        kept = self._kept_lines(old_start, old_end, new_text)
        return kept[line] + col if line in kept else old_start

    def _kept_lines(self, old_start: int, old_end: int, new_text: str) -> dict[int, int]:
        """Line number in ``new_text`` -> old offset of that line, for the lines difflib finds kept (first match wins)."""
        key = (old_start, new_text)
        got = self._kept.get(key)
        if got is None:
            import difflib

            old_lines = self._old_text[old_start:old_end].splitlines(keepends=True)
            new_lines = new_text.splitlines(keepends=True)
            line_at = [old_start]
            for x in old_lines:
                line_at.append(line_at[-1] + len(x))
            got = {}
            for tag, i1, _i2, j1, j2 in difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes():
                if tag == "equal":
                    for j in range(j1, j2):
                        got.setdefault(j, line_at[i1 + (j - j1)])
            self._kept[key] = got
        return got
