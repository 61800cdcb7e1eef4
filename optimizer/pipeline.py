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

import collections
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from dockeropt.edits import Change, Edit, OffsetMap, Safety, apply_edits, select_fixes
from dockeropt.rules import Pass, PassContext, read_pragmas, selected_passes
from dockeropt.source import LineIndex
from dockeropt.syntax import Dockerfile, ParseError, parse


class InputError(ValueError):
    """The input is not something dockeropt can fix (one-line message)."""


@dataclass
class FixResult:
    original: str
    fixed: str
    applied: list[Change] = field(default_factory=list)  # lines refer to the original text
    notes: list[Change] = field(default_factory=list)  # display-only findings and fixes held back by safety
    errors: list[str] = field(default_factory=list)  # internal errors: a pass crashed or a fix was dropped
    files: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # other files: path -> (old, new)
    converged: bool = True
    nonconverged_rules: list[str] = field(default_factory=list)
    iterations: int = 0

    @property
    def changed(self) -> bool:
        return self.fixed != self.original or any(old != new for old, new in self.files.values())


_BK_CACHE: collections.OrderedDict[str, tuple | str] = collections.OrderedDict()


def _buildkit_parse(text: str) -> tuple | str:
    """BuildKit's commands for ``text``, or its one-line error (memoised: the Go parser is the hot path)."""
    import dockerfile as buildkit  # imported on first use: a process that forks workers must not load Go first

    got = _BK_CACHE.get(text)
    if got is not None:
        _BK_CACHE.move_to_end(text)  # least recently used goes first: the text being fixed stays
    else:
        try:
            got = tuple(buildkit.parse_string(text))
        except buildkit.GoParseError as exc:
            got = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        _BK_CACHE[text] = got
        if len(_BK_CACHE) > 16:
            _BK_CACHE.popitem(last=False)
    return got


def buildkit_error(text: str) -> str | None:
    """BuildKit's parse error for ``text``, or None when it parses."""
    got = _buildkit_parse(text)
    return got if isinstance(got, str) else None


def load(text: str) -> Dockerfile:
    """Parse input text, with BuildKit as the judge of validity. Raises InputError."""
    if not text.strip("\ufeff \t\r\n"):
        raise InputError("empty file")
    err = buildkit_error(text)
    if err is not None:
        raise InputError(f"not a valid Dockerfile: {err}")
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


def _untouched_survive(old: str, new: str, edits: Sequence[Edit]) -> bool:
    """Every BuildKit instruction of ``old`` that no edit touches is still in ``new``."""
    idx = LineIndex(old)
    touched: list[tuple[int, int]] = []
    for e in edits:
        a = idx.line_of(e.range.start) + 1
        b = idx.line_of(max(e.range.end - 1, e.range.start)) + 1
        touched.append((a, b))
    old_cmds = _buildkit_parse(old)
    new_parsed = _buildkit_parse(new)
    if isinstance(old_cmds, str) or isinstance(new_parsed, str):
        return False
    new_cmds = collections.Counter(c.original for c in new_parsed)
    for c in old_cmds:
        if any(not (c.end_line < a or c.start_line > b) for a, b in touched):
            continue
        if new_cmds[c.original] <= 0:
            return False
        new_cmds[c.original] -= 1
    return True


def fix_is_sound(old: str, new: str, edits: Sequence[Edit]) -> bool:
    """The guard: ``new`` parses with BuildKit and keeps every instruction ``edits`` did not touch."""
    return buildkit_error(new) is None and _untouched_survive(old, new, edits)


def _fix_key(ch: Change) -> tuple[str, tuple[tuple[int, int, str], ...]]:
    assert ch.fix is not None
    return ch.rule_id, tuple((e.range.start, e.range.end, e.text) for e in ch.fix.edits)


def run_passes(doc: Dockerfile, ctx: PassContext, passes: Sequence[Pass]) -> tuple[list[Change], list[str]]:
    """All changes the passes propose for ``doc`` (pragmas applied), plus crash reports."""
    pragmas = read_pragmas(doc)
    changes: list[Change] = []
    errors: list[str] = []
    for p in passes:
        if ctx.per_file_ignored(p.id):
            continue
        try:
            found = list(p.check(doc, ctx))
        except Exception as exc:  # a pass bug must never lose the user's file
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            errors.append(f"internal error in {p.id} {p.name}: {type(exc).__name__}: {exc} ({tb.filename.rsplit('/', 1)[-1]}:{tb.lineno})")
            continue
        for ch in found:
            if pragmas.suppresses(ch, doc):
                continue
            changes.append(replace(ch, line=doc.lines.line_of(ch.range.start) + 1))
    return changes, errors


def _stages_of(doc: Dockerfile, ch: Change) -> set[int]:
    """Stages a change concerns: its anchor's and every stage its fix edits."""
    starts = [ch.range.start]
    if ch.fix is not None:
        starts.extend(e.range.start for e in ch.fix.edits)
        starts.extend(max(e.range.end - 1, e.range.start) for e in ch.fix.edits)
    out: set[int] = set()
    bounds = [(st.from_instruction.full_range.start, st.instructions[-1].full_range.end, st.index) for st in doc.stages]
    for off in starts:
        for a, b, i in bounds:
            if a <= off < b or (off == b and i == len(bounds) - 1):
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
    if not after:
        return changes, []
    pending: dict[str, set[int]] = {}
    for ch in changes:
        if ch.fix is not None and ch.fix.safety >= min_safety and _fix_key(ch) not in banned:
            pending.setdefault(ch.rule_id, set()).update(_stages_of(doc, ch))
    out: list[Change] = []
    held: list[str] = []
    for ch in changes:
        first = after.get(ch.rule_id)
        if first and any(pending.get(r, set()) & _stages_of(doc, ch) for r in first):
            if ch.rule_id not in held:
                held.append(ch.rule_id)
            continue
        out.append(ch)
    return out, held


def fix_text(text: str, ctx: PassContext | None = None, passes: Sequence[Pass] | None = None) -> FixResult:
    """Fix ``text`` to a fixpoint. Raises :class:`InputError` for input it cannot handle."""
    ctx = ctx or PassContext()
    first_doc: Dockerfile | None = load(text)
    if passes is None:
        passes = selected_passes(ctx.config)
    ctx.enabled_rules = frozenset(p.id for p in passes)
    result = FixResult(original=text, fixed=text)
    maps: list[OffsetMap] = []
    banned: set[tuple[str, tuple[tuple[int, int, str], ...]]] = set()
    seen_notes: set[tuple[str, str]] = set()
    current = text
    min_safety = ctx.config.min_safety

    def to_original(offset: int) -> int:
        for m in reversed(maps):
            offset = m.to_old(offset)
        return offset

    orig_lines = LineIndex(text)

    def in_original(ch: Change) -> Change:
        return replace(ch, line=orig_lines.line_of(to_original(ch.range.start)) + 1)

    for iteration in range(ctx.config.max_iterations + 1):
        doc = first_doc if first_doc is not None else parse(current)
        first_doc = None
        changes, errors = run_passes(doc, ctx, passes)
        result.errors.extend(e for e in errors if e not in result.errors)
        everything = changes
        changes, held = hold_dependents(doc, changes, passes, min_safety, banned)
        candidates = [c for c in changes if c.fix is not None and _fix_key(c) not in banned]
        applied, _deferred = select_fixes(candidates, min_safety)
        if not applied and held:
            # what the held passes waited for cannot be applied after all: let them go ahead
            changes = everything
            candidates = [c for c in changes if c.fix is not None and _fix_key(c) not in banned]
            applied, _deferred = select_fixes(candidates, min_safety)
        for ch in changes:
            if ch.fix is None or ch.fix.safety < min_safety:
                key = (ch.rule_id, ch.title)
                if key not in seen_notes:
                    seen_notes.add(key)
                    result.notes.append(in_original(ch))
        if not applied:
            result.iterations = iteration
            break
        if iteration == ctx.config.max_iterations:
            result.converged = False
            result.nonconverged_rules = sorted({c.rule_id for c in applied})
            result.iterations = iteration
            break
        edits = [e for c in applied for e in c.fix.edits]  # type: ignore[union-attr]
        new = apply_edits(current, edits)
        if not fix_is_sound(current, new, edits):
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
        for c in applied:
            for fc in c.fix.files:  # type: ignore[union-attr]
                old_text = result.files[fc.path][0] if fc.path in result.files else (
                    None if fc.created or ctx.context is None else ctx.context.read_raw(fc.path)
                )
                result.files[fc.path] = (old_text, fc.text)
                if ctx.context is not None:
                    ctx.context.set_overlay(fc.path, fc.text)
        result.applied.extend(in_original(c) for c in applied)
        maps.append(OffsetMap(edits, current))
        current = new
    result.fixed = current
    return result
