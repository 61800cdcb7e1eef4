"""Which change made which part of the fixed text: per-change edits against the ORIGINAL text.

The fix loop applies fixes in rounds, each round's edits against the text the previous round
left. Reports (JSON, SARIF, the LSP's quick fixes) want each change's own edits against the
file as the user has it. :class:`Tracker` follows every character through the rounds:

* the text is a sequence of segments: original text still there, original text a change deleted
  (a zero-width tombstone that remembers who deleted it), and text a change inserted;
* a pass's edit is often coarse (a whole stage replaced by its restructured version); it is first
  reduced to the parts that really differ (lines, then characters, with difflib), so text a
  rewrite keeps keeps its provenance;
* a change whose edit deletes or rewrites text another change inserted is *entangled* with it
  (their edits cannot be told apart against the original); entangled changes form one group.

:meth:`Tracker.groups` then turns the final segments into one set of edits per group against the
original text; applying every group's edits gives the fixed text exactly (checked after every
round: on any mismatch the tracker gives up and reports one group holding every change).
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dockeropt.edits import Edit, apply_edits

_ORIG, _TOMB, _INS = 0, 1, 2
_CHAR_DIFF_LIMIT = 400_000  # old x new characters: above it a replaced block stays one replacement


@dataclass(frozen=True)
class Group:
    """Changes whose edits belong together, and those edits against the original text."""

    members: tuple[int, ...]  # change ids, ascending
    edits: tuple[Edit, ...]  # against the original text, sorted, non-overlapping


class _Seg:
    __slots__ = ("kind", "a", "b", "owner", "text")

    def __init__(self, kind: int, a: int = 0, b: int = 0, owner: int = -1, text: str = "") -> None:
        self.kind, self.a, self.b, self.owner, self.text = kind, a, b, owner, text

    @property
    def length(self) -> int:
        if self.kind == _ORIG:
            return self.b - self.a
        if self.kind == _INS:
            return len(self.text)
        return 0


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def minimal_edits(old: str, new: str) -> list[tuple[int, int, str]]:
    """``old -> new`` as small replacements (relative offsets): changed lines, refined to characters."""
    if old == new:
        return []
    if not old or not new:
        return [(0, len(old), new)]
    a, b = _split_lines(old), _split_lines(new)
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line))
    out: list[tuple[int, int, str]] = []
    # one line each (most edits): they differ, so the line diff is that one replacement
    ops = (("replace", 0, 1, 0, 1),) if len(a) == 1 and len(b) == 1 else (
        difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes())
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            continue
        o1, o2 = starts[i1], starts[i2]
        t = "".join(b[j1:j2])
        if tag == "replace" and (o2 - o1) * len(t) <= _CHAR_DIFF_LIMIT:
            old_block = old[o1:o2]
            for ctag, c1, c2, d1, d2 in difflib.SequenceMatcher(None, old_block, t, autojunk=False).get_opcodes():
                if ctag != "equal":
                    out.append((o1 + c1, o1 + c2, t[d1:d2]))
        else:
            out.append((o1, o2, t))
    return out


class Tracker:
    """Provenance of every character of the text being fixed (see the module docstring)."""

    def __init__(self, original: str) -> None:
        self.original = original
        self.segs: list[_Seg] = [_Seg(_ORIG, 0, len(original))] if original else []
        self._parent: dict[int, int] = {}
        self.ok = True
        self._ids: set[int] = set()
        self._starts: tuple[list[int], list[_Seg]] | None = None  # for origin(): starts of non-empty segments

    # -------------------------------------------------------------- union-find

    def _find(self, x: int) -> int:
        p = self._parent.setdefault(x, x)
        while p != self._parent.setdefault(p, p):
            self._parent[p] = self._parent[self._parent[p]]
            p = self._parent[p]
        self._parent[x] = p
        return p

    def _union(self, x: int, y: int) -> None:
        rx, ry = self._find(x), self._find(y)
        if rx != ry:
            self._parent[max(rx, ry)] = min(rx, ry)

    def entangle(self, ids: Sequence[int]) -> None:
        """Put these changes into one group (e.g. they rewrite the same other file)."""
        for x in ids[1:]:
            self._union(ids[0], x)

    # -------------------------------------------------------------- state

    def text(self) -> str:
        orig = self.original
        return "".join(orig[s.a : s.b] if s.kind == _ORIG else s.text for s in self.segs if s.kind != _TOMB)

    def origin(self, offset: int) -> int | None:
        """The original offset of the character at ``offset`` of the current text; None if a change inserted it."""
        if not self.ok:
            return None
        if self._starts is None:
            starts: list[int] = []
            keep: list[_Seg] = []
            pos = 0
            for seg in self.segs:
                n = seg.length
                if n:
                    starts.append(pos)
                    keep.append(seg)
                    pos += n
            self._starts = (starts, keep)
        starts, keep = self._starts
        k = bisect.bisect_right(starts, offset) - 1
        if k < 0:
            return None
        seg = keep[k]
        if offset >= starts[k] + seg.length:
            return None
        return seg.a + (offset - starts[k]) if seg.kind == _ORIG else None

    # -------------------------------------------------------------- applying a round

    def apply(self, current: str, changes: Sequence[tuple[int, Sequence[Edit]]], result: str) -> None:
        """Record one round: ``changes`` are (change id, its edits against ``current``); ``result`` the new text."""
        for cid, _ in changes:
            self._find(cid)
            self._ids.add(cid)
        if not self.ok:
            return
        fine: list[tuple[int, int, str, int]] = []
        for cid, edits in changes:
            for e in edits:
                a, b = e.range.start, e.range.end
                fine.extend((a + x, a + y, t, cid) for x, y, t in minimal_edits(current[a:b], e.text))
        fine.sort(key=lambda f: (f[0], f[1]))
        try:
            self._sweep(fine)
        except Exception:  # never lose a fix result to bookkeeping
            self.ok = False
            return
        self._starts = None
        if self.text() != result:
            self.ok = False

    def _sweep(self, fine: list[tuple[int, int, str, int]]) -> None:
        """Apply one round's sorted, non-overlapping edits in a single pass over the segments.

        Same rules as :meth:`_edit` (which applies one edit): tombstones at an edit's start stay
        before it, an insertion goes after them, original text an edit covers becomes its
        tombstones, and cutting into or covering another change's insertion entangles the two.
        """
        segs = self.segs
        out: list[_Seg] = []
        i = 0
        cur: _Seg | None = segs[0] if segs else None
        pos = 0  # where ``cur`` starts in the current text

        def split(seg: _Seg, k: int, cid: int) -> tuple[_Seg, _Seg]:
            if seg.kind == _ORIG:
                return _Seg(_ORIG, seg.a, seg.a + k), _Seg(_ORIG, seg.a + k, seg.b)
            self._union(cid, seg.owner)
            return (_Seg(_INS, owner=seg.owner, text=seg.text[:k]), _Seg(_INS, owner=seg.owner, text=seg.text[k:]))

        def consume(seg: _Seg, cid: int) -> None:
            if seg.kind == _ORIG:
                out.append(_Seg(_TOMB, seg.a, seg.b, owner=cid))
            elif seg.kind == _INS:
                self._union(cid, seg.owner)
            else:
                out.append(seg)  # another change's deletion inside this range: still its own

        for a, b, t, cid in fine:
            while cur is not None and pos + cur.length <= a:
                pos += cur.length
                out.append(cur)
                i += 1
                cur = segs[i] if i < len(segs) else None
            if cur is not None and pos < a:
                left, cur = split(cur, a - pos, cid)
                out.append(left)
                pos = a
            if a < b:
                while cur is not None and pos < b:
                    n = cur.length
                    if n and pos + n > b:
                        left, cur = split(cur, b - pos, cid)
                        consume(left, cid)
                        pos = b
                        break
                    consume(cur, cid)
                    pos += n
                    i += 1
                    cur = segs[i] if i < len(segs) else None
            if t:
                out.append(_Seg(_INS, owner=cid, text=t))
        while cur is not None:
            out.append(cur)
            i += 1
            cur = segs[i] if i < len(segs) else None
        self.segs = out

    def _split_at(self, offset: int, cid: int) -> None:
        """Make ``offset`` a segment boundary; cutting into another change's insertion entangles ``cid`` with it."""
        pos = 0
        for i, s in enumerate(self.segs):
            n = s.length
            if pos < offset < pos + n:
                k = offset - pos
                if s.kind == _ORIG:
                    self.segs[i : i + 1] = [_Seg(_ORIG, s.a, s.a + k), _Seg(_ORIG, s.a + k, s.b)]
                else:
                    self._union(cid, s.owner)
                    self.segs[i : i + 1] = [_Seg(_INS, owner=s.owner, text=s.text[:k]),
                                            _Seg(_INS, owner=s.owner, text=s.text[k:])]
                return
            pos += n
            if pos > offset:
                return

    def _first_at(self, offset: int) -> int:
        """Index of the first segment at or after ``offset``, past the tombstones sitting at it."""
        pos = 0
        for i, s in enumerate(self.segs):
            if pos > offset or (pos == offset and s.kind != _TOMB):
                return i
            pos += s.length
        return len(self.segs)

    def _edit(self, a: int, b: int, t: str, cid: int) -> None:
        self._split_at(a, cid)
        if a == b:
            self.segs.insert(self._first_at(a), _Seg(_INS, owner=cid, text=t))
            return
        self._split_at(b, cid)
        i = self._first_at(a)
        j, pos = i, a
        replaced: list[_Seg] = []
        while j < len(self.segs) and pos < b:
            s = self.segs[j]
            if s.kind == _ORIG:
                replaced.append(_Seg(_TOMB, s.a, s.b, owner=cid))
            elif s.kind == _INS:
                self._union(cid, s.owner)
            else:
                replaced.append(s)  # another change's deletion inside this range: still its own
            pos += s.length
            j += 1
        if t:
            replaced.append(_Seg(_INS, owner=cid, text=t))
        self.segs[i:j] = replaced

    # -------------------------------------------------------------- the result

    def groups(self, fixed: str) -> list[Group]:
        """One group per set of entangled changes, with its edits against the original text.

        ``fixed`` is the final text; should the bookkeeping ever disagree with it, every change
        forms one group whose edit replaces the whole text.
        """
        ids = sorted(self._ids)
        if not ids:
            return []
        if not self.ok or self.text() != fixed:
            edits = (Edit.replace(0, len(self.original), fixed),) if fixed != self.original else ()
            return [Group(tuple(ids), edits)]
        hunks = self._merge_touching(self._resolve_collisions(self._hunks()))
        hunks = self._line_granular(hunks)
        by_root: dict[int, list[Edit]] = {}
        for a, b, t, g in hunks:
            by_root.setdefault(self._find(g), []).append(Edit.replace(a, b, t))
        try:
            rebuilt = apply_edits(self.original, [e for es in by_root.values() for e in es])
        except ValueError:
            rebuilt = None
        if rebuilt != fixed:  # bookkeeping went wrong somewhere: one group, never a wrong edit
            edits = (Edit.replace(0, len(self.original), fixed),) if fixed != self.original else ()
            return [Group(tuple(ids), edits)]
        members: dict[int, list[int]] = {}
        for cid in ids:
            members.setdefault(self._find(cid), []).append(cid)
        out = [Group(tuple(ms), tuple(by_root.get(root, ()))) for root, ms in members.items()]
        return sorted(out, key=lambda g: g.members[0])

    def _resolve_collisions(self, hunks: list[tuple[int, int, str, int]]) -> list[tuple[int, int, str, int]]:
        """Two groups inserting at one point cannot be applied apart: widen one over a kept character, or merge."""
        orig = self.original
        while True:
            hs = [(a, b, t, self._find(g)) for a, b, t, g in hunks]
            for i in range(len(hs) - 1):
                (a1, b1, t1, g1), (a2, b2, t2, g2) = hs[i], hs[i + 1]
                if g1 == g2 or not (a1 == b1 == a2 == b2):
                    continue
                p = a1
                before_free = p > 0 and (i == 0 or hs[i - 1][1] < p) and orig[p - 1] not in "\r\n"
                after_free = p < len(orig) and (i + 2 == len(hs) or hs[i + 2][0] > p) and orig[p] not in "\r\n"
                if before_free:
                    hs[i] = (p - 1, p, orig[p - 1] + t1, g1)
                elif after_free:
                    hs[i + 1] = (p, p + 1, t2 + orig[p], g2)
                else:
                    self._union(g1, g2)
                break
            else:
                return hs
            hunks = hs

    def _merge_touching(self, hunks: list[tuple[int, int, str, int]]) -> list[tuple[int, int, str, int]]:
        """Consecutive hunks of one group that touch become one (after collisions merged groups)."""
        out: list[tuple[int, int, str, int]] = []
        for a, b, t, g in hunks:
            g = self._find(g)
            if out and out[-1][3] == g and out[-1][1] == a:
                pa, _pb, pt, _ = out[-1]
                out[-1] = (pa, b, pt + t, g)
            else:
                out.append((a, b, t, g))
        return out

    def _line_granular(self, hunks: list[tuple[int, int, str, int]]) -> list[tuple[int, int, str, int]]:
        """Widen each group's edits to whole original lines where no other group edits those lines."""
        orig = self.original
        if not hunks:
            return hunks

        def line_start(o: int) -> int:
            return orig.rfind("\n", 0, o) + 1

        def line_end(o: int) -> int:
            i = orig.find("\n", o)
            return len(orig) if i < 0 else i + 1

        spans: list[tuple[int, int, int]] = []  # (start, end, group) of the widened hunks, in order
        for a, b, _t, g in hunks:
            aligned = a == line_start(a) and (b == len(orig) or b == line_start(b))
            if aligned:
                spans.append((a, b, g))
                continue
            s, e = line_start(a), line_end(max(a, b - 1) if b > a else a)
            spans.append((s, e, g))
        # a widened span may not reach into another group's edits
        out: list[tuple[int, int, str, int]] = []
        i = 0
        n = len(hunks)
        while i < n:
            s, e, g = spans[i]
            j = i
            # the same group's later hunks inside this span join it
            while j + 1 < n and hunks[j + 1][3] == g and hunks[j + 1][0] < e:
                j += 1
                e = max(e, spans[j][1])
            # hunks are in order and do not overlap: only neighbours can reach into [s, e)
            clash = False
            k = i - 1
            while k >= 0 and (hunks[k][1] > s or hunks[k][0] > s):
                if hunks[k][3] != g and (hunks[k][0] < e and hunks[k][1] > s or s < hunks[k][0] < e):
                    clash = True
                    break
                k -= 1
            k = j + 1
            while not clash and k < n and hunks[k][0] < e:
                if hunks[k][3] != g and (hunks[k][1] > s or s < hunks[k][0]):
                    clash = True
                k += 1
            if clash or (s, e) == (hunks[i][0], hunks[j][1]):
                out.extend(hunks[i : j + 1])
            else:
                pieces, pos = [], s
                for a, b, t, _g in hunks[i : j + 1]:
                    pieces.append(orig[pos:a])
                    pieces.append(t)
                    pos = b
                pieces.append(orig[pos:e])
                out.append((s, e, "".join(pieces), g))
            i = j + 1
        return out

    def _hunks(self) -> list[tuple[int, int, str, int]]:
        """(start, end, text, group root) against the original, in order."""
        out: list[tuple[int, int, str, int]] = []
        pos = 0
        cur: list = []  # [start, end, [texts], root]
        for s in self.segs:
            if s.kind == _ORIG:
                if cur:
                    out.append((cur[0], cur[1], "".join(cur[2]), cur[3]))
                    cur = []
                pos = s.b
                continue
            root = self._find(s.owner)
            if cur and cur[3] != root:
                out.append((cur[0], cur[1], "".join(cur[2]), cur[3]))
                cur = []
            if not cur:
                cur = [pos, pos, [], root]
            if s.kind == _TOMB:
                pos = s.b
                cur[1] = pos
            else:
                cur[2].append(s.text)
        if cur:
            out.append((cur[0], cur[1], "".join(cur[2]), cur[3]))
        return out


# ----------------------------------------------------------------------------- line citations

# "line 12", "lines 3, 4 and 9": what cite_original_lines rewrites
LINE_CITATION = re.compile(r"\b([Ll]ines?) (\d+(?:(?:, ?| and )\d+)*)\b")


def cite_original_lines(text: str, line_starts: Sequence[int], current: str, origin, original_line) -> str:
    """Rewrite ``line N`` / ``lines N, M`` of ``text`` (numbers of ``current``) to the original's numbering.

    ``origin(offset)`` gives the original offset of a character of ``current`` (None when a change
    inserted it), ``original_line(offset)`` the 1-based original line. A line that exists only in
    dockeropt's output is not cited by number (its number means nothing in the user's file): it
    becomes "a line dockeropt adds".
    """

    if "line" not in text and "Line" not in text:
        return text

    def orig_of(n: int) -> int | None:
        if not 1 <= n <= len(line_starts):
            return None
        start = line_starts[n - 1]
        end = line_starts[n] if n < len(line_starts) else len(current)
        i = start
        while i < end and current[i] in " \t":
            i += 1
        if i >= end or current[i] in "\r\n":
            i = start
        o = origin(i)
        return None if o is None else original_line(o)

    def sub(m: re.Match[str]) -> str:
        out = _sub(m)
        return out[:1].upper() + out[1:] if m.group(1)[0] == "L" else out  # "Line 6 ..." opens a sentence

    def _sub(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.findall(r"\d+", m.group(2))]
        mapped: list[int] = []
        new = 0
        for n in nums:
            o = orig_of(n)
            if o is None:
                new += 1
            elif o not in mapped:
                mapped.append(o)
        if not new and len(mapped) == len(nums) and mapped == nums:
            return m.group(0)
        added = "" if not new else ("a line dockeropt adds" if new == 1 else f"{new} lines dockeropt adds")
        if not mapped:
            return added
        head = ("line " if len(mapped) == 1 else "lines ") + ", ".join(map(str, mapped))
        return head + (f" and {added}" if added else "")

    return LINE_CITATION.sub(sub, text)


@dataclass(frozen=True)
class ChangeFix:
    """What one reported change did, against the original text (``FixResult.fixes``, parallel to ``applied``).

    ``combined`` names the rules whose edits are part of these edits because they cannot be told
    apart (they edit text this change inserted, or the other way round); ``carried_by`` gives the
    indexes of the changes whose fixes hold this change's edits instead.
    """

    edits: tuple[Edit, ...]
    files: tuple[str, ...]  # other files of the build context (FixResult.files keys) this fix writes
    combined: tuple[str, ...] = ()
    carried_by: tuple[int, ...] = ()
    round: int = 0  # the fix loop's round that first made it (0: found on the text as it is)
