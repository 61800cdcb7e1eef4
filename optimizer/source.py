"""Source positions: offsets, ranges and offset <-> line/column conversion.

Offsets are indexes into the Python ``str`` (code points). Lines are 0-based
here; BuildKit-style 1-based line numbers are exposed on instructions as
``start_line``/``end_line``. Columns can be given in code points or, for the
language server, in UTF-16 code units.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

_set = object.__setattr__


@dataclass(frozen=True, slots=True, order=True)
class TextRange:
    """A half-open range ``[start, end)`` of offsets into a document's text."""

    start: int
    end: int

    def __init__(self, start: int, end: int) -> None:
        # written by hand (dataclass keeps it): the check inline, not in a __post_init__ call; ranges are made
        # by the hundred thousand per fix round
        if start > end or start < 0:
            raise ValueError(f"invalid range {start}..{end}")
        _set(self, "start", start)
        _set(self, "end", end)

    def __len__(self) -> int:
        return self.end - self.start

    def contains(self, offset: int) -> bool:
        return self.start <= offset < self.end

    def overlaps(self, other: TextRange) -> bool:
        """True when the ranges share text, or both are insertions at one point."""
        if self.start == self.end and other.start == other.end:
            return self.start == other.start
        if self.start == self.end:
            return other.start < self.start < other.end
        if other.start == other.end:
            return self.start < other.start < self.end
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 0-based
    column: int  # 0-based, code points


class LineIndex:
    """Maps offsets to (line, column) and back for one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self.line_starts = starts

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return Position(line, offset - self.line_starts[line])

    def line_of(self, offset: int) -> int:
        """0-based line number containing ``offset``."""
        return bisect.bisect_right(self.line_starts, offset) - 1

    def offset(self, line: int, column: int) -> int:
        if line >= len(self.line_starts):
            return len(self.text)
        return min(self.line_starts[line] + column, len(self.text))

    def utf16_position(self, offset: int) -> tuple[int, int]:
        """(line, character) with the character counted in UTF-16 code units (LSP)."""
        pos = self.position(offset)
        start = self.line_starts[pos.line]
        prefix = self.text[start:offset]
        return pos.line, len(prefix.encode("utf-16-le")) // 2

    def offset_from_utf16(self, line: int, character: int) -> int:
        if line >= len(self.line_starts):
            return len(self.text)
        start = self.line_starts[line]
        end = self.line_starts[line + 1] if line + 1 < len(self.line_starts) else len(self.text)
        units = 0
        for i in range(start, end):
            if units >= character:
                return i
            units += 2 if ord(self.text[i]) > 0xFFFF else 1
        return end
