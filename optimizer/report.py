"""Rendering results: unified diffs that ``git apply`` accepts, and explanations."""

from __future__ import annotations

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
    for line in difflib.unified_diff(a, b, from_name, f"b/{path}", n=context):
        if line.startswith(("---", "+++")) and not line.endswith("\n"):
            line += "\n"
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n" + NO_NEWLINE)
    return "".join(out)


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
