"""``# dockeropt`` pragmas: the one parser every face uses (pipeline, passes, LSP).

Two forms, on a comment line of their own::

    # dockeropt ignore=DO101,DO2        the instruction below this comment (its leading comments)
    # dockeropt global ignore=DO301     the whole file; anywhere, the end of the file included

``dockeropt:`` with a colon is accepted too. Ids are rule ids or prefixes, separated by commas,
spaces or both (``ignore=DO101 DO102``). An id that matches no rule, or a ``# dockeropt``
comment that is neither form, is reported as a warning naming its line, never silently
accepted.

A change is suppressed when its rule is ignored for the whole file, or by a pragma of its
*anchor* instruction (where the change is reported), or by a pragma of *any instruction its fix
edits*: ``# dockeropt ignore=DO101`` above a RUN stops a DO101 change anchored on an earlier
COPY whose fix rewrites that RUN.

A fix must also leave every pragma where it is: :meth:`Pragmas.fix_moves_pragma` tells when an
edit would delete, rewrite or separate a pragma line from its instruction; the pipeline then holds
the fix back and reports it as not applied, saying why. A pure insertion right below a pragma, at the start of its
instruction, is moved above the pragma instead (:func:`Pragmas.keep_attached`), so that the
pragma stays with the instruction it was written for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockeropt.edits import Change, Edit
    from dockeropt.syntax import Dockerfile, Instruction, Trivia

_PREFIX = re.compile(r"^\s*#\s*dockeropt\b(?!-)", re.IGNORECASE)
_PRAGMA = re.compile(
    r"^(?P<head>\s*#\s*dockeropt\s*:?\s*(?P<global>global\s+)?ignore\s*=\s*)(?P<ids>[^#]*?)(?P<tail>\s*)$",
    re.IGNORECASE,
)
_ID = re.compile(r"^DO\d{0,3}$")


def split_ids(text: str) -> list[str]:
    """``"DO101, do2 DO3"`` -> ``["DO101", "DO2", "DO3"]`` (commas, spaces or both)."""
    return [x.upper() for x in re.split(r"[,\s]+", text.strip()) if x]


def _matches(rule_id: str, selectors: Iterable[str]) -> bool:
    return any(rule_id.startswith(s) for s in selectors if s)


@dataclass(frozen=True)
class PragmaLine:
    """One ``# dockeropt`` comment line."""

    line: int  # 1-based
    start: int  # offset of the line
    end: int  # offset after its terminator
    ids: tuple[str, ...]
    is_global: bool
    instruction: int | None  # index of the instruction it belongs to (None: trailing, after the last one)
    text: str  # the line without its terminator


@dataclass(frozen=True)
class Pragmas:
    """The pragmas of one document."""

    file_ignores: frozenset[str] = frozenset()
    instruction_ignores: dict[int, frozenset[str]] = field(default_factory=dict)  # instruction index -> ids
    lines: tuple[PragmaLine, ...] = ()
    warnings: tuple[tuple[int, str], ...] = ()  # (1-based line, message)

    # -------------------------------------------------------------- suppression

    def suppresses(self, change: Change, doc: Dockerfile) -> bool:
        """Is ``change`` switched off by a pragma (file-wide, its anchor, or an instruction its fix edits)?"""
        rid = change.rule_id
        if _matches(rid, self.file_ignores):
            return True
        if not self.instruction_ignores:
            return False
        for ins in self._anchor_and_edited(change, doc):
            sel = self.instruction_ignores.get(ins.index)
            if sel and _matches(rid, sel):
                return True
        return False

    def _anchor_and_edited(self, change: Change, doc: Dockerfile) -> list[Instruction]:
        out: list[Instruction] = []
        anchor = instruction_at(doc, change.range.start)
        if anchor is not None:
            out.append(anchor)
        if change.fix is not None:
            for a, b in fine_ranges(doc.text, change.fix.edits):
                out.extend(i for i in doc.instructions if _touches(a, b, i.full_range.start, i.full_range.end))
        return out

    # -------------------------------------------------------------- keeping pragmas in place

    def fix_moves_pragma(self, text: str, edits: Sequence[Edit], doc: Dockerfile | None = None) -> PragmaLine | None:
        """The first pragma line the edits would delete, rewrite or separate from its instruction.

        Edits are first reduced to what they really change (a rewrite that keeps a pragma line
        where it was does not move it).
        """
        if not self.lines:
            return None
        first_line: dict[int, int] = {}
        if doc is not None:
            for p in self.lines:
                if p.instruction is not None:
                    ins = doc.instructions[p.instruction]
                    first_line[p.instruction] = doc.lines.line_starts[doc.lines.line_of(ins.range.start)]
        for a, b in fine_ranges(text, edits):
            for p in self.lines:
                if a == b:
                    if p.start < a < p.end:
                        return p
                    if a == p.end and p.instruction is not None and first_line.get(p.instruction) == p.end:
                        return p  # text would come between the pragma and its instruction
                elif a < p.end and b > p.start:
                    return p
        return None

    def keep_attached(self, edits: Sequence[Edit], doc: Dockerfile) -> tuple[Edit, ...]:
        """Edits with a pure insertion between a pragma block and its instruction moved above the pragmas.

        Text a fix inserts "before the instruction" then goes before the instruction's pragma
        comments, which stay attached to the instruction they were written for.
        """
        if not self.instruction_ignores and not any(p.instruction is not None for p in self.lines):
            return tuple(edits)
        starts: dict[int, int] = {}  # instruction's first line offset -> start of the pragma block right above it
        by_ins: dict[int, list[PragmaLine]] = {}
        for p in self.lines:
            if p.instruction is not None:
                by_ins.setdefault(p.instruction, []).append(p)
        for idx, plines in by_ins.items():
            ins = doc.instructions[idx]
            line_start = doc.lines.line_starts[doc.lines.line_of(ins.range.start)]
            # the pragma lines directly above the instruction (contiguous), possibly several
            top = line_start
            ends = {p.end: p.start for p in plines}
            while top in ends:
                top = ends[top]
            if top != line_start:
                starts[line_start] = top
        if not starts:
            return tuple(edits)
        from dockeropt.edits import Edit

        out = []
        for e in edits:
            a = e.range.start
            if e.range.start == e.range.end and a in starts:
                out.append(Edit.insert(starts[a], e.text))
            else:
                out.append(e)
        return tuple(out)


def _touches(a: int, b: int, start: int, end: int) -> bool:
    if a == b:
        return start < a < end
    return a < end and b > start


def fine_ranges(text: str, edits: Sequence[Edit]) -> list[tuple[int, int]]:
    """The ranges ``edits`` really change in ``text`` (a coarse rewrite reduced to its differences)."""
    from dockeropt.attribution import minimal_edits

    out: list[tuple[int, int]] = []
    for e in edits:
        a, b = e.range.start, e.range.end
        if a == b or not e.text:
            out.append((a, b))
        else:
            out.extend((a + x, a + y) for x, y, _t in minimal_edits(text[a:b], e.text))
    return out


def instruction_at(doc: Dockerfile, offset: int) -> Instruction | None:
    """The instruction whose full range (its leading comments included) holds ``offset``."""
    for ins in doc.instructions:
        if ins.full_range.start <= offset < max(ins.full_range.end, ins.full_range.start + 1):
            return ins
    return None


def parse_line(text: str) -> tuple[bool, list[str]] | None:
    """``(is_global, ids)`` for a pragma line, or None when the line is no pragma."""
    m = _PRAGMA.match(text)
    if not m:
        return None
    return bool(m.group("global")), split_ids(m.group("ids"))


def pragma_edit_parts(text: str) -> tuple[str, list[str], str] | None:
    """``(head, ids, tail)`` of an instruction pragma line (not a global one), for editing its id list."""
    m = _PRAGMA.match(text)
    if not m or m.group("global"):
        return None
    return m.group("head"), split_ids(m.group("ids")), m.group("tail")


def _known_checker() -> Callable[[str], bool]:
    from dockeropt.rules import load_passes

    ids = list(load_passes())
    return lambda sel: any(i.startswith(sel) for i in ids)


def read_pragmas(doc: Dockerfile, known: Callable[[str], bool] | None = None) -> Pragmas:
    """Every ``# dockeropt`` comment of ``doc``: ignores per instruction, file-wide ignores, warnings.

    ``known(selector)`` says whether an id names a rule (default: the registered passes).
    """
    cached = _CACHE.get(id(doc))
    if cached is not None and cached[0] is doc and known is None:
        return cached[1]
    check = known or _known_checker()
    file_ignores: set[str] = set()
    per: dict[int, set[str]] = {}
    lines: list[PragmaLine] = []
    warnings: list[tuple[int, str]] = []

    def visit(t: Trivia, owner: int | None) -> None:
        if t.kind != "comment":
            return
        body = t.text.rstrip("\r\n")
        if not _PREFIX.match(body):
            return
        got = parse_line(body)
        if got is None:
            warnings.append((t.line, f"'{body.strip()}' is not a dockeropt pragma (expected "
                                     "'# dockeropt ignore=DO101' or '# dockeropt global ignore=DO101'); ignored"))
            return
        is_global, ids = got
        good: list[str] = []
        for x in ids:
            if not _ID.match(x) or not check(x):
                warnings.append((t.line, f"unknown rule {x!r} in '{body.strip()}' (see 'dockeropt rules'); ignored"))
            else:
                good.append(x)
        if not ids:
            warnings.append((t.line, f"'{body.strip()}' names no rule; ignored"))
        lines.append(PragmaLine(t.line, t.range.start, t.range.end, tuple(good), is_global, owner, body))
        if is_global or owner is None:
            if not is_global and good:
                warnings.append((t.line, f"'{body.strip()}' is after the last instruction, so it applies to "
                                         "nothing; use 'global ignore=' for the whole file"))
            elif is_global:
                file_ignores.update(good)
        elif good:
            per.setdefault(owner, set()).update(good)

    for ins in doc.instructions:
        for t in (*ins.leading_trivia, *ins.inner_trivia):
            visit(t, ins.index)
    for t in doc.trailing_trivia:
        visit(t, None)
    out = Pragmas(
        frozenset(file_ignores),
        {k: frozenset(v) for k, v in per.items()},
        tuple(sorted(lines, key=lambda p: p.start)),
        tuple(sorted(set(warnings))),
    )
    if known is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[id(doc)] = (doc, out)
    return out


_CACHE: dict[int, tuple[Dockerfile, Pragmas]] = {}
