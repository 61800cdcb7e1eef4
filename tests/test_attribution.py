"""The provenance tracker behind per-change edits (dockeropt.attribution).

Properties: applying every group's edits to the original gives the fixed text; the one-pass
sweep the fix loop uses records exactly what applying the same edits one at a time records;
``origin`` agrees with a linear walk.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockeropt.attribution import Tracker, _Seg
from dockeropt.edits import Edit, apply_edits


@st.composite
def rounds(draw: st.DrawFn) -> tuple[str, list[list[tuple[int, list[Edit]]]]]:
    text = draw(st.text(alphabet="ab\n ", min_size=0, max_size=40))
    out = []
    current = text
    cid = 0
    for _ in range(draw(st.integers(1, 4))):
        cuts = sorted(draw(st.lists(st.integers(0, len(current)), min_size=0, max_size=6)))
        edits: list[tuple[int, list[Edit]]] = []
        pairs = list(zip(cuts[::2], cuts[1::2]))
        last_end = -1
        for a, b in pairs:
            if a <= last_end:  # keep edits apart (the fix loop never applies touching insertions)
                continue
            edits.append((cid, [Edit.replace(a, b, draw(st.text(alphabet="xyz\n", max_size=5)))]))
            cid += 1
            last_end = b
        out.append(edits)
        current = apply_edits(current, [e for _, es in edits for e in es])
    return text, out


def _one_at_a_time(t: Tracker, current: str, changes: list[tuple[int, list[Edit]]], result: str) -> None:
    from dockeropt.attribution import minimal_edits

    for cid, _ in changes:
        t._find(cid)
        t._ids.add(cid)
    fine = []
    for cid, edits in changes:
        for e in edits:
            a, b = e.range.start, e.range.end
            fine.extend((a + x, a + y, tx, cid) for x, y, tx in minimal_edits(current[a:b], e.text))
    fine.sort(key=lambda f: (f[0], f[1]))
    for a, b, tx, cid in reversed(fine):
        t._edit(a, b, tx, cid)
    t._starts = None


def _segs(t: Tracker) -> list[tuple[int, int, int, int, str]]:
    def key(s: _Seg) -> tuple[int, int, int, int, str]:
        return (s.kind, s.a, s.b, t._find(s.owner) if s.owner >= 0 else -1, s.text)
    return [key(s) for s in t.segs if not (s.kind == 2 and not s.text)]


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_sweep_matches_edits_one_at_a_time_and_groups_rebuild_the_text(case) -> None:  # type: ignore[no-untyped-def]
    text, all_rounds = case
    fast, slow = Tracker(text), Tracker(text)
    current = text
    for changes in all_rounds:
        new = apply_edits(current, [e for _, es in changes for e in es])
        fast.apply(current, changes, new)
        _one_at_a_time(slow, current, changes, new)
        current = new
    assert fast.ok
    assert fast.text() == current == slow.text()
    assert _segs(fast) == _segs(slow)
    assert sorted(fast._find(i) for i in fast._ids) == sorted(slow._find(i) for i in slow._ids)
    groups = fast.groups(current)
    assert apply_edits(text, [e for g in groups for e in g.edits]) == current
    for off in range(len(current)):
        pos = 0
        want = None
        for s in fast.segs:
            n = s.length
            if n and pos <= off < pos + n:
                want = s.a + (off - pos) if s.kind == 0 else None
                break
            pos += n
        assert fast.origin(off) == want


def test_cited_lines_follow_the_original_numbering_in_any_case() -> None:
    from dockeropt.attribution import cite_original_lines

    original = "FROM a\nCOPY . .\nRUN x\n"
    current = "FROM a\nCOPY m ./\nRUN x\nCOPY . .\n"  # line 2 inserted; the original lines 2, 3 are now 4, 3
    starts = [0, 7, 17, 23]
    inserted = range(7, 17)
    where = {**{i: i for i in range(7)}, **{17 + k: 16 + k for k in range(6)}, **{23 + k: 7 + k for k in range(9)}}

    def origin(i: int) -> int | None:
        return None if i in inserted else where[i]

    def line_of(o: int) -> int:
        return original[:o].count("\n") + 1

    def cite(text: str) -> str:
        return cite_original_lines(text, starts, current, origin, line_of)

    assert cite("line 3 runs x; line 4 copies") == "line 3 runs x; line 2 copies"
    assert cite("Line 4 copies the source. Line 2 copies manifests") == "Line 2 copies the source. A line dockeropt adds copies manifests"
    assert cite("lines 2 and 4") == "line 2 and a line dockeropt adds"
