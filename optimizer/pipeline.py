"""The fix loop: run passes, apply non-overlapping fixes, re-parse, repeat.

Guarantees:

* text outside the applied edits is never touched (edits are applied to the
  text, not re-printed from a tree);
* the result parses with BuildKit's own parser (the ``dockerfile`` package)
  and every instruction that no fix touched is still there, unchanged;
  a fix that breaks either is dropped and reported as an internal error;
* the loop stops when no pass has anything left to apply, or after
  ``config.max_iterations`` rounds, in which case the rules still changing
  the file are reported as not converging.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dockeropt.edits import Change, Edit, OffsetMap, Safety, apply_edits, select_fixes
from dockeropt.oracle import Helper, buildkit_error, helper_for, sound, touched_lines
from dockeropt.pragmas import Pragmas, read_pragmas
from dockeropt.rules import Pass, PassContext, selected_passes
from dockeropt.source import LineIndex, TextRange
from dockeropt.syntax import Dockerfile, ParseError, parse

if TYPE_CHECKING:
    from dockeropt.attribution import ChangeFix, Tracker


class InputError(ValueError):
    """The input is not something dockeropt can fix (one-line message)."""


@dataclass
class FixResult:
    original: str
    fixed: str
    applied: list[Change] = field(default_factory=list)  # distinct changes made; lines and ranges in the original
    notes: list[Change] = field(default_factory=list)  # about the final text: display-only findings, fixes held back
    errors: list[str] = field(default_factory=list)  # internal errors: a pass crashed or a fix was dropped
    warnings: list[tuple[int, str]] = field(default_factory=list)  # about the input: (line, message), e.g. pragmas
    files: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # other files: path -> (old, new)
    converged: bool = True
    nonconverged_rules: list[str] = field(default_factory=list)
    iterations: int = 0

    # per applied change, its own edits against the original (``fixes``): worked out on first use, since only
    # quick fixes and the JSON/SARIF reports read them (a diff does not)
    _fixes: list[ChangeFix] | None = field(default=None, repr=False, compare=False)
    _make_fixes: Callable[[], list[ChangeFix]] | None = field(default=None, repr=False, compare=False)
    _fixes_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original or any(old != new for old, new in self.files.values())

    @property
    def fixes(self) -> list[ChangeFix]:
        """Per applied change (parallel to ``applied``): its own edits against the original text."""
        if self._fixes is None:
            with self._fixes_lock:
                if self._fixes is None:
                    make, self._make_fixes = self._make_fixes, None
                    self._fixes = make() if make is not None else []
        return self._fixes

    @fixes.setter
    def fixes(self, value: list[ChangeFix]) -> None:
        self._fixes, self._make_fixes = value, None

    def __getstate__(self) -> dict[str, object]:  # bulk workers send results to the parent process
        state = dict(self.__dict__)
        state["_fixes"] = self.fixes
        state["_make_fixes"] = None
        del state["_fixes_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._fixes_lock = threading.Lock()


_LAST_LOADED: tuple[str, Dockerfile] | None = None  # the LSP loads each version twice (fix loop, then its own tree)


def load(text: str) -> Dockerfile:
    """Parse input text, with BuildKit as the judge of validity. Raises InputError."""
    global _LAST_LOADED
    last = _LAST_LOADED
    if last is not None and last[0] == text:
        return last[1]  # trees are immutable: the same text gives an equal tree
    doc = _load(text)
    _LAST_LOADED = (text, doc)
    return doc


def _load(text: str) -> Dockerfile:
    if not text.strip("\ufeff \t\r\n"):
        raise InputError("empty file")
    err = buildkit_error(text)
    if err is not None:
        raise InputError(f"not a valid Dockerfile: {err}")
    return _our_load(text)


def _our_load(text: str) -> Dockerfile:
    """What ``_load`` checks after BuildKit accepted the text."""
    try:
        doc = parse(text)
    except ParseError as exc:  # pragma: no cover - BuildKit accepted it; our parser must too
        raise InputError(f"dockeropt could not parse this Dockerfile: {exc}") from None
    if not doc.instructions:
        raise InputError("no instructions (only comments or blank lines)")
    for ins in doc.instructions:
        if not ins.known:
            raise InputError(f"line {ins.start_line}: unknown instruction {ins.keyword_raw!r}")
    if not doc.stages:
        raise InputError("no FROM instruction")
    return doc


class _Unconfirmed(Exception):
    """A verdict the fix loop went ahead without came back against it (or never came): redo the run in-process."""


_GC_LOCK = threading.Lock()
_GC_HOLDERS = 0  # fix runs (threads) inside gc_paused
_GC_RESTORE = False  # re-enable the collector when the last one leaves
_GC_FROZE = False  # the objects alive when the last run left are in the collector's permanent generation
_GC_RUNS = 0  # runs that froze their survivors since the last full collection
_GC_FULL_EVERY = 32  # then one run ends with a full collection (cycles evicted from the memo caches go)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the duration (reference counting still frees almost everything).

    A fix run allocates millions of small, short-lived objects (trees, model facts, changes) while the
    document's tree and model stay alive; the collector would scan that live heap again and again (a fifth
    of the time on a 2,000-RUN file, most of it on a 1 MiB one). Nothing the loop builds relies on cycle
    collection. Nested and concurrent runs share one pause: the collector comes back when the last one
    leaves, and only if it was on.

    When it comes back, everything still alive (the result, the memo caches) has never been looked at by
    the collector, so its next collection would walk all of it at once (0.16 s after a 2,000-RUN fix,
    0.7 s after a 1 MiB one). Those objects go to the collector's permanent generation instead
    (``gc.freeze()``, only when nothing else froze objects); the next run moves them back
    (``gc.unfreeze()``), and every ``_GC_FULL_EVERY``-th run ends with a full collection instead, so
    cycles among them (memo entries the bounded caches dropped) are still freed in a long-lived process
    (the LSP server, a bulk worker). A one-file CLI run never pays for a collection.
    """
    global _GC_HOLDERS, _GC_RESTORE, _GC_FROZE, _GC_RUNS
    with _GC_LOCK:
        if _GC_HOLDERS == 0:
            _GC_RESTORE = gc.isenabled()
            gc.disable()
            if _GC_FROZE:
                gc.unfreeze()
                _GC_FROZE = False
        _GC_HOLDERS += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_HOLDERS -= 1
            if _GC_HOLDERS == 0 and _GC_RESTORE:
                if _GC_RUNS >= _GC_FULL_EVERY:
                    _GC_RUNS = 0
                    gc.enable()
                    gc.collect()
                else:
                    if gc.get_freeze_count() == 0:
                        gc.freeze()
                        _GC_FROZE = True
                        _GC_RUNS += 1
                    gc.enable()


def fix_is_sound(old: str, new: str, edits: Sequence[Edit]) -> bool:
    """The guard: ``new`` parses with BuildKit and keeps every instruction ``edits`` did not touch."""
    return sound(old, new, touched_lines(LineIndex(old), edits))


def _fix_key(ch: Change) -> tuple[str, tuple[tuple[int, int, str], ...]]:
    assert ch.fix is not None
    return ch.rule_id, tuple((e.range.start, e.range.end, e.text) for e in ch.fix.edits)


def run_passes(
    doc: Dockerfile, ctx: PassContext, passes: Sequence[Pass], held: list[Change] | None = None
) -> tuple[list[Change], list[str]]:
    """All changes the passes propose for ``doc`` (pragmas applied), plus crash reports.

    A fix that would move or delete a ``# dockeropt`` pragma line is not offered: with ``held``
    given, such changes go there (with the reason in ``Change.notes``), otherwise they are
    returned as they are.
    """
    pragmas = read_pragmas(doc)
    changes: list[Change] = []
    errors: list[str] = []
    for p in passes:
        if ctx.per_file_ignored(p.id):
            continue
        try:
            found = list(p.check(doc, ctx))
        except Exception as exc:  # a pass bug must never lose the user's file
            import traceback

            tb = traceback.extract_tb(exc.__traceback__)[-1]
            errors.append(f"internal error in {p.id} {p.name}: {type(exc).__name__}: {exc} ({tb.filename.rsplit('/', 1)[-1]}:{tb.lineno})")
            continue
        for ch in found:
            if pragmas.suppresses(ch, doc):
                continue
            ch = ch.evolve(line=doc.lines.line_of(ch.range.start) + 1)
            if ch.fix is not None and pragmas.lines:
                ch = _keep_pragmas_in_place(ch, doc, pragmas)
                if held is not None and ch.notes and ch.notes[-1].startswith(_PRAGMA_HOLD):
                    held.append(ch)
                    continue
            changes.append(ch)
    return changes, errors


_PRAGMA_HOLD = "its fix would move"


def _keep_pragmas_in_place(ch: Change, doc: Dockerfile, pragmas: Pragmas) -> Change:
    """Insertions right below a pragma go above it; a fix that still moves a pragma is marked held."""
    assert ch.fix is not None
    edits = pragmas.keep_attached(ch.fix.edits, doc)
    if edits != ch.fix.edits:
        try:
            ch = replace(ch, fix=replace(ch.fix, edits=edits))
        except ValueError:
            pass
    assert ch.fix is not None
    moved = pragmas.fix_moves_pragma(doc.text, ch.fix.edits, doc)
    if moved is not None:
        reason = f"{_PRAGMA_HOLD} or delete the pragma `{moved.text.strip()}`, which stays where it was written"
        ch = replace(ch, notes=(*ch.notes, reason))
    return ch


def _dedupe(changes: Sequence[Change]) -> tuple[list[Change], list[int]]:
    """One entry per distinct change as the user sees it (rule, line, title, explanation); index map."""
    out: list[Change] = []
    index: dict[tuple[str, int, str, str], int] = {}
    where: list[int] = []
    for c in changes:
        key = (c.rule_id, c.line, c.title, c.explanation)
        if key not in index:
            index[key] = len(out)
            out.append(c)
        where.append(index[key])
    return out, where


def _stage_bounds(doc: Dockerfile) -> list[tuple[int, int, int]]:
    return [(st.from_instruction.full_range.start, st.instructions[-1].full_range.end, st.index) for st in doc.stages]


def _stages_of(doc: Dockerfile, ch: Change, bounds: list[tuple[int, int, int]] | None = None) -> set[int]:
    """Stages a change concerns: its anchor's and every stage its fix edits (``bounds``: ``_stage_bounds(doc)``)."""
    starts = [ch.range.start]
    if ch.fix is not None:
        starts.extend(e.range.start for e in ch.fix.edits)
        starts.extend(max(e.range.end - 1, e.range.start) for e in ch.fix.edits)
    out: set[int] = set()
    if bounds is None:
        bounds = _stage_bounds(doc)
    if not bounds:
        return out
    firsts = [a for a, _b, _i in bounds]
    last = len(bounds) - 1
    for off in starts:
        # stages do not overlap and come in order: only the last one starting at or before ``off`` can hold it
        k = bisect.bisect_right(firsts, off) - 1
        if k >= 0:
            a, b, i = bounds[k]
            if a <= off < b or (off == b and i == last):
                out.add(i)
    return out


def hold_dependents(
    doc: Dockerfile, changes: list[Change], passes: Sequence[Pass], min_safety: Safety, banned: set[tuple[str, tuple[tuple[int, int, str], ...]]],
) -> tuple[list[Change], list[str]]:
    """Changes of passes that declare ``after`` wait while a rule they follow has a fix to apply on the same stage.

    Returns (changes that may go ahead, rule ids that waited). A rule's fix that the
    guard dropped is banned and no longer pending, so its dependents go ahead on the
    next round, on the text as it really is.
    """
    after = {p.id: set(p.after) for p in passes if p.after}
    if not after and not any(ch.waits_for for ch in changes):
        return changes, []
    bounds = _stage_bounds(doc)
    # only the rules someone waits for can hold anything back
    followed = {r for rs in after.values() for r in rs} | {r for ch in changes if ch.waits_for for r in ch.waits_for}
    pending: dict[str, set[int]] = {}
    for ch in changes:
        if ch.rule_id in followed and ch.fix is not None and ch.fix.safety >= min_safety and _fix_key(ch) not in banned:
            pending.setdefault(ch.rule_id, set()).update(_stages_of(doc, ch, bounds))
    out: list[Change] = []
    held: list[str] = []
    for ch in changes:
        first = after.get(ch.rule_id) if ch.waits_for is None else set(ch.waits_for)
        if first and any(r in pending for r in first) and any(
                pending.get(r, set()) & _stages_of(doc, ch, bounds) for r in first):
            if ch.rule_id not in held:
                held.append(ch.rule_id)
            continue
        out.append(ch)
    return out, held


def fix_text(text: str, ctx: PassContext | None = None, passes: Sequence[Pass] | None = None) -> FixResult:
    """Fix ``text`` to a fixpoint. Raises :class:`InputError` for input it cannot handle.

    What the result reports:

    * ``applied``: every distinct change made, with lines (and ranges) in the original text;
      a change made twice in the same words at the same original line (on two stages, say)
      is reported once;
    * ``fixes``: per applied change, its own edits against the original text
      (:mod:`dockeropt.attribution`); changes whose edits cannot be separated share one;
    * ``notes``: what the passes still say about the FINAL text (display-only findings and
      fixes held back), so a note an earlier round made stale is never reported;
    * line numbers quoted in titles and explanations refer to the original file; a line that
      exists only in the output is not quoted by number.
    """
    with gc_paused():
        helper = helper_for(len(text)) if text.strip("\ufeff \t\r\n") else None
        if helper is not None and helper.lock.acquire(blocking=False):
            # BuildKit's verdicts come from the helper process while the loop goes on; should one go against
            # it (a pass's broken fix, an input BuildKit rejects) the run is redone here, the same way as ever
            cx = ctx.context if ctx is not None else None
            saved = dict(cx.overlay) if cx is not None else None
            try:
                return _fix_text(text, ctx, passes, helper)
            except Exception:  # _Unconfirmed, oracle.HelperError, or whatever the input makes the loop raise
                if cx is not None and saved is not None:
                    cx.restore_overlay(saved)
            finally:
                helper.lock.release()
        return _fix_text(text, ctx, passes)


def _fix_text(text: str, ctx: PassContext | None, passes: Sequence[Pass] | None,
              helper: Helper | None = None) -> FixResult:
    from dockeropt.attribution import LINE_CITATION, ChangeFix, Tracker, cite_original_lines

    ctx = ctx or PassContext()
    asked: list[tuple[int, object]] = []  # (helper request, the answer the loop went ahead with)
    if helper is None:
        first_doc: Dockerfile | None = load(text)
    else:
        current_rid = helper.check(text)
        asked.append((current_rid, None))
        first_doc = _our_load(text)  # an InputError here: the run is redone in-process, which raises BuildKit's first
    loaded = first_doc
    if passes is None:
        passes = selected_passes(ctx.config)
    ctx.enabled_rules = frozenset(p.id for p in passes)
    result = FixResult(original=text, fixed=text)
    maps: list[OffsetMap] = []
    banned: set[tuple[str, tuple[tuple[int, int, str], ...]]] = set()
    current = text
    min_safety = ctx.config.min_safety
    tracker = Tracker(text)
    # each applied round (text before, (change id, edits), text after), given to the tracker only when
    # someone needs provenance: a title citing line numbers, or the per-change fixes
    untracked: list[tuple[str, list[tuple[int, tuple]], str]] = []

    def tracked() -> Tracker:
        while untracked:
            tracker.apply(*untracked.pop(0))
        return tracker
    raw: list[Change] = []  # every applied change, lines in the original
    raw_round: list[int] = []
    raw_files: list[tuple[str, ...]] = []
    raw_edits: list[tuple[Edit, ...]] = []  # each applied change's edits, against the text of its round
    final_notes: list[Change] = []

    def to_original(offset: int) -> int:
        for m in reversed(maps):
            offset = m.to_old(offset)
        return offset

    orig_lines = LineIndex(text)

    def in_original(ch: Change, doc: Dockerfile) -> Change:
        start = to_original(ch.range.start)
        end = max(start, to_original(ch.range.end)) if ch.range.end > ch.range.start else start
        title, expl = ch.title, ch.explanation
        if maps and (("ine" in title and LINE_CITATION.search(title)) or ("ine" in expl and LINE_CITATION.search(expl))):
            cite = lambda s: cite_original_lines(  # noqa: E731
                s, doc.lines.line_starts, doc.text, tracked().origin, lambda o: orig_lines.line_of(o) + 1)
            title, expl = cite(title), cite(expl)
        return ch.evolve(line=orig_lines.line_of(start) + 1, range=TextRange(start, end), title=title,
                         explanation=expl)

    for iteration in range(ctx.config.max_iterations + 1):
        doc = first_doc if first_doc is not None else parse(current)
        if first_doc is not None:
            result.warnings = list(read_pragmas(doc).warnings)
        first_doc = None
        pragma_held: list[Change] = []
        changes, errors = run_passes(doc, ctx, passes, pragma_held)
        result.errors.extend(e for e in errors if e not in result.errors)
        everything = changes
        changes, waiting = hold_dependents(doc, changes, passes, min_safety, banned)
        candidates = [c for c in changes if c.fix is not None and _fix_key(c) not in banned]
        applied, _deferred = select_fixes(candidates, min_safety)
        if not applied and waiting:
            # what the held passes waited for cannot be applied after all: let them go ahead
            changes = everything
            candidates = [c for c in changes if c.fix is not None and _fix_key(c) not in banned]
            applied, _deferred = select_fixes(candidates, min_safety)
        notes_now = [c for c in changes if c.fix is None or c.fix.safety < min_safety] + pragma_held
        if not applied:
            result.iterations = iteration
            final_notes = [in_original(c, doc) for c in notes_now]
            break
        if iteration == ctx.config.max_iterations:
            result.converged = False
            result.nonconverged_rules = sorted({c.rule_id for c in applied})
            result.iterations = iteration
            final_notes = [in_original(c, doc) for c in notes_now]
            break
        edits = [e for c in applied for e in c.fix.edits]  # type: ignore[union-attr]
        new = apply_edits(current, edits)
        if helper is not None:
            current_rid = helper.check_sound(current_rid, new, touched_lines(doc.lines, edits))
            asked.append((current_rid, True))
        elif not fix_is_sound(current, new, edits):
            good: list[Change] = []
            for c in applied:
                assert c.fix is not None
                if fix_is_sound(current, apply_edits(current, c.fix.edits), c.fix.edits):
                    good.append(c)
                else:
                    banned.add(_fix_key(c))
                    result.errors.append(
                        f"internal error in {c.rule_id} {c.rule_name}: its fix would break the Dockerfile; dropped"
                    )
            edits = [e for c in good for e in c.fix.edits]  # type: ignore[union-attr]
            new = apply_edits(current, edits)
            if good and not fix_is_sound(current, new, edits):
                for c in good:
                    banned.add(_fix_key(c))
                result.errors.append("internal error: fixes are valid alone but not together; dropped this round")
                good = []
                new = current
            applied = good
            if not applied:
                continue
        round_ids: list[tuple[int, tuple]] = []
        for c in applied:
            assert c.fix is not None
            round_ids.append((len(raw), c.fix.edits))
            raw.append(in_original(c, doc))
            raw_round.append(iteration)
            raw_files.append(tuple(fc.path for fc in c.fix.files))
            raw_edits.append(c.fix.edits)
            for fc in c.fix.files:
                old_text = result.files[fc.path][0] if fc.path in result.files else (
                    None if fc.created or ctx.context is None else ctx.context.read_raw(fc.path)
                )
                result.files[fc.path] = (old_text, fc.text)
                if ctx.context is not None:
                    ctx.context.set_overlay(fc.path, fc.text)
        untracked.append((current, round_ids, new))
        maps.append(OffsetMap(edits, current))
        current = new
    for rid, expected in asked:  # every verdict the loop went ahead without
        if helper is None or helper.answer(rid) != expected:
            raise _Unconfirmed
    if helper is not None:
        global _LAST_LOADED
        _LAST_LOADED = (text, loaded)
    result.fixed = current
    result.applied, where = _dedupe(raw)
    result.notes, _ = _dedupe(final_notes)
    applied_now, fixed_now = list(result.applied), current
    result._make_fixes = lambda: _reported_fixes(applied_now, where, raw_round, raw_files, raw_edits, tracked(),
                                                 fixed_now, ChangeFix)
    return result


def _reported_fixes(applied: list[Change], where: list[int], rounds: list[int], files: list[tuple[str, ...]],
                    raw_edits: list[tuple[Edit, ...]], tracker: Tracker, fixed: str,
                    make: type[ChangeFix]) -> list[ChangeFix]:
    """Each reported change's own edits against the original (see dockeropt.attribution)."""
    by_path: dict[str, list[int]] = {}
    for cid, paths in enumerate(files):
        for path in paths:
            by_path.setdefault(path, []).append(cid)
    for ids in by_path.values():
        tracker.entangle(ids)
    edits: list[list[Edit]] = [[] for _ in applied]
    paths: list[set[str]] = [set() for _ in applied]
    combined: list[set[str]] = [set() for _ in applied]
    carried_by: list[set[int]] = [set() for _ in applied]
    first: dict[int, int] = {}
    for c, j in enumerate(where):
        first[j] = min(first.get(j, rounds[c]), rounds[c])
    first_round = [first.get(j, 0) for j in range(len(applied))]
    groups = tracker.groups(fixed)
    # every group's edits, sorted, to find the ones near a range without scanning them all
    all_edits = sorted(((e.range.start, e.range.end, gi) for gi, g in enumerate(groups) for e in g.edits))
    all_starts = [x[0] for x in all_edits]

    def reaches_other(e: Edit, gi: int) -> bool:
        lo = bisect.bisect_left(all_starts, e.range.start) - 1
        for k in range(max(lo, 0), len(all_edits)):  # by index: a slice would copy the rest of the list
            a, b, h = all_edits[k]
            if a > e.range.end:
                break
            if h != gi and (TextRange(a, b).overlaps(e.range) or a == e.range.start):
                return True
        # an earlier edit reaching far into this one
        k = lo
        while k >= 0 and all_edits[k][1] > e.range.start:
            a, b, h = all_edits[k]
            if h != gi and TextRange(a, b).overlaps(e.range):
                return True
            k -= 1
        return False

    for gi, g in enumerate(groups):
        # the earliest change carries the group: the later ones edited the text it inserted
        if len(g.members) == 1:
            reported = [where[g.members[0]]]
        else:
            reported = sorted({where[m] for m in g.members},
                              key=lambda j: (first_round[j], applied[j].line, applied[j].rule_id, j))
        carrier = reported[0]
        own: tuple[Edit, ...] = g.edits
        if tracker.ok and all(rounds[m] == 0 for m in g.members):
            # made on the text as it is: the pass's own edits are exact (and read better than a diff),
            # unless they reach into another group's edits
            exact = tuple(e for m in g.members for e in raw_edits[m])
            if not any(reaches_other(e, gi) for e in exact):
                own = exact
        edits[carrier].extend(own)
        for m in g.members:
            paths[carrier].update(files[m])
        for j in reported[1:]:
            combined[carrier].add(applied[j].rule_id)
            carried_by[j].add(carrier)
    return [
        make(tuple(sorted(edits[j], key=lambda e: (e.range.start, e.range.end))), tuple(sorted(paths[j])),
             tuple(sorted(combined[j] - {applied[j].rule_id})), tuple(sorted(carried_by[j] - {j})), first_round[j])
        for j in range(len(applied))
    ]
