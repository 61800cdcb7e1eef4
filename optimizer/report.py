"""Rendering results: unified diffs that ``git apply`` accepts, and explanations."""

from __future__ import annotations

import bisect
import difflib
import functools
import os
import textwrap
from collections.abc import Iterable
from pathlib import Path

from dockeropt.edits import Change, Safety

NO_NEWLINE = "\\ No newline at end of file\n"


def display_path(path: Path | str) -> str:
    """A path relative to the working directory when it lies below it, POSIX style."""
    p = Path(path)
    try:
        rel = os.path.relpath(p.resolve() if p.is_absolute() else p, Path.cwd())
    except ValueError:
        return p.as_posix()
    if rel.startswith(".."):
        return p.as_posix()
    return Path(rel).as_posix()


def unified_diff(old: str, new: str, path: str, *, new_file: bool = False, context: int = 3) -> str:
    """A unified diff with ``a/`` and ``b/`` prefixes, faithful to CRLF and missing final newlines."""
    if old == new:
        return ""
    # str.splitlines also splits on \r, \v, \f, \x1c...; git splits on \n only
    a = split_lines(old)
    b = split_lines(new)
    from_name = "/dev/null" if new_file else f"a/{path}"
    out: list[str] = []
    if new_file:
        out.append(f"diff --git a/{path} b/{path}\nnew file mode 100644\n")
    lines = (difflib.unified_diff(a, b, from_name, f"b/{path}", n=context) if len(a) + len(b) < ANCHORED_FROM
             else _unified(a, b, from_name, f"b/{path}", context))
    for line in lines:
        if line.startswith(("---", "+++")) and not line.endswith("\n"):
            line += "\n"
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n" + NO_NEWLINE)
    return "".join(out)


ANCHORED_FROM = 4000  # lines on both sides together: from here on the diff is worked out between anchors


class _AnchoredMatcher(difflib.SequenceMatcher):
    """difflib's matcher, run between anchors: the lines that occur once on each side, in the same order on both
    (the longest such chain, as patience diff takes them).

    difflib looks for the longest matching block in the whole of what is left, again for each block it finds, so a
    large file whose changes are spread over thousands of lines (every third line of a 1 MiB file) takes time that
    grows with the square of its length: 12 s for that file. Between two anchors difflib works as ever; a diff of a
    file with no such lines is difflib's own.
    """

    def get_matching_blocks(self) -> list[difflib.Match]:
        if self.matching_blocks is not None:
            return self.matching_blocks
        a, b = self.a, self.b
        blocks: list[tuple[int, int, int]] = []
        prev_i = prev_j = 0
        for i, j in [*_anchors(a, b), (len(a), len(b))]:
            if i > prev_i and j > prev_j:
                for x, y, n in difflib.SequenceMatcher(None, a[prev_i:i], b[prev_j:j]).get_matching_blocks():
                    if n:
                        blocks.append((prev_i + x, prev_j + y, n))
            if i < len(a):
                blocks.append((i, j, 1))
            prev_i, prev_j = i + 1, j + 1
        merged: list[tuple[int, int, int]] = []
        for x, y, n in blocks:
            if merged and merged[-1][0] + merged[-1][2] == x and merged[-1][1] + merged[-1][2] == y:
                merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + n)
            else:
                merged.append((x, y, n))
        merged.append((len(a), len(b), 0))
        self.matching_blocks = [difflib.Match(*m) for m in merged]
        return self.matching_blocks


def _anchors(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """(i, j) with ``a[i] == b[j]`` occurring once in each, increasing on both sides: the longest such chain."""
    count_a: dict[str, int] = {}
    for line in a:
        count_a[line] = count_a.get(line, 0) + 1
    where_b: dict[str, int] = {}
    count_b: dict[str, int] = {}
    for j, line in enumerate(b):
        count_b[line] = count_b.get(line, 0) + 1
        where_b[line] = j
    pairs = [(i, where_b[line]) for i, line in enumerate(a) if count_a[line] == 1 and count_b.get(line) == 1]
    # longest increasing run of j (patience sorting): tails[k] = index in pairs of the smallest tail of a chain of k+1
    tails: list[int] = []
    tail_js: list[int] = []
    back: list[int] = [-1] * len(pairs)
    for k, (_i, j) in enumerate(pairs):
        at = bisect.bisect_left(tail_js, j)
        back[k] = tails[at - 1] if at else -1
        if at == len(tails):
            tails.append(k)
            tail_js.append(j)
        else:
            tails[at] = k
            tail_js[at] = j
    chain: list[tuple[int, int]] = []
    k = tails[-1] if tails else -1
    while k >= 0:
        chain.append(pairs[k])
        k = back[k]
    chain.reverse()
    return chain


def _unified(a: list[str], b: list[str], from_name: str, to_name: str, n: int) -> Iterable[str]:
    """``difflib.unified_diff(a, b, from_name, to_name, n=n)`` with the anchored matcher."""
    started = False
    for group in _AnchoredMatcher(None, a, b).get_grouped_opcodes(n):
        if not started:
            started = True
            yield f"--- {from_name}\n"
            yield f"+++ {to_name}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for line in a[i1:i2]:
                    yield " " + line
                continue
            if tag in ("replace", "delete"):
                for line in a[i1:i2]:
                    yield "-" + line
            if tag in ("replace", "insert"):
                for line in b[j1:j2]:
                    yield "+" + line


def _range(start: int, stop: int) -> str:
    """A unified diff's line range, as difflib writes it."""
    beginning = start + 1  # lines start numbering with one
    length = stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1  # empty ranges begin at line just before the range
    return f"{beginning},{length}"


def split_lines(text: str) -> list[str]:
    """Lines as git sees them: split on \n only, each keeping its terminator (\r\n stays whole)."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


DEFAULT_WIDTH = 96  # explanation wrapping when the output is not a terminal (stable for goldens and logs)


@functools.lru_cache(maxsize=4096)
def wrap_explanation(text: str, width: int = DEFAULT_WIDTH, indent: str = "    ") -> tuple[str, ...]:
    """``text`` wrapped to ``width``, one paragraph per input line (memoised: a file with thousands of
    changes repeats the same few explanations, and ``textwrap`` is the slow part of the report)."""
    lines: list[str] = []
    width = max(width, len(indent) + 20)
    for para in text.strip().split("\n"):
        if not para.strip():
            continue
        lines.extend(textwrap.wrap(para.strip(), width=width, initial_indent=indent, subsequent_indent=indent))
    return tuple(lines)


def not_applied_reason(ch: Change) -> str | None:
    """Why a note with a fix was not applied (None for display-only notes)."""
    if ch.fix is None:
        return None
    if ch.notes:
        return ch.notes[-1]
    if ch.fix.safety == Safety.UNSAFE:
        return "unsafe fix; pass --unsafe-fixes to apply it"
    return f"{ch.fix.safety.label} fix held back by --safe-only"


def change_head(path: str, ch: Change) -> str:
    return f"{path}:{ch.line} {ch.rule_id} {ch.rule_name} ({ch.safety_label}): {ch.title}"


def change_block(path: str, ch: Change, width: int = DEFAULT_WIDTH) -> str:
    return "\n".join([change_head(path, ch), *wrap_explanation(ch.explanation, width)]) + "\n"


def note_block(path: str, ch: Change, width: int = DEFAULT_WIDTH) -> str:
    block = change_block(path, ch, width)
    reason = not_applied_reason(ch)
    if reason is not None:
        block += "\n".join(wrap_explanation(f"(not applied: {reason})", width)) + "\n"
    return block


def ordered(changes: Iterable[Change]) -> list[Change]:
    return sorted(changes, key=lambda c: (c.line, c.rule_id))


def explanations(path: str, applied: Iterable[Change], notes: Iterable[Change], width: int = DEFAULT_WIDTH) -> str:
    """One block per applied change, then one per note; a block is never printed twice."""
    out: list[str] = []
    seen: set[str] = set()
    for ch in ordered(applied):
        block = change_block(path, ch, width)
        if block not in seen:
            seen.add(block)
            out.append(block)
    for ch in ordered(notes):
        block = note_block(path, ch, width)
        if block not in seen:
            seen.add(block)
            out.append(block)
    return "".join(out)


def outcome_patch(display: str, original: str, fixed: str, files: dict[str, tuple[str | None, str]],
                  context_root: Path | None) -> str:
    """The Dockerfile's diff followed by the diffs of other files the fixes change or create."""
    parts = [unified_diff(original, fixed, display)]
    for rel, (old, new) in sorted(files.items()):
        shown = display_path(context_root / rel) if context_root is not None else rel
        parts.append(unified_diff(old or "", new, shown, new_file=old is None))
    return "".join(parts)
