"""Facts about stages that several passes need: working folders, users, copies."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from dockeropt.syntax import Dockerfile, Instruction, Stage

BASE = "$BASE"  # the base image's own working folder, not known from the Dockerfile


def _join(cwd: str | None, path: str) -> str | None:
    if cwd is None or "$" in path:
        return None
    if path.startswith("/"):
        return posixpath.normpath(path)
    joined = posixpath.normpath(posixpath.join(cwd, path))
    if cwd.startswith(BASE) and not joined.startswith(BASE):
        return None
    return joined


def resolve(cwd: str | None, path: str) -> str | None:
    """``path`` resolved against ``cwd`` (which may be relative to the base's folder)."""
    return _join(cwd, path)


def workdirs(stage: Stage) -> dict[int, str | None]:
    """For each instruction index of the stage, the working folder in effect when it runs.

    ``None`` means unknown (variables); a value starting with ``$BASE`` is
    relative to the base image's own WORKDIR.
    """
    cwd: str | None = BASE
    out: dict[int, str | None] = {}
    for ins in stage.instructions:
        out[ins.index] = cwd
        if ins.keyword == "WORKDIR":
            arg = ins.args.strip()
            cwd = _join(cwd, arg) if arg else cwd
    return out


def users(stage: Stage) -> dict[int, str | None]:
    """For each instruction index, the USER in effect (None: the base image's default)."""
    user: str | None = None
    out: dict[int, str | None] = {}
    for ins in stage.instructions:
        out[ins.index] = user
        if ins.keyword == "USER":
            user = ins.args.strip() or user
    return out


@dataclass(frozen=True)
class CopySpec:
    sources: tuple[str, ...]
    dest: str
    from_stage: str | None


def copy_spec(ins: Instruction) -> CopySpec | None:
    """Sources and destination of a COPY/ADD without heredocs."""
    if ins.keyword not in ("COPY", "ADD") or ins.heredocs:
        return None
    words = ins.words
    if len(words) < 2:
        return None
    frm = ins.flag("from")
    return CopySpec(tuple(words[:-1]), words[-1], frm.value if frm else None)


def is_context_root(src: str) -> bool:
    return posixpath.normpath(src) == "."


def full_context_copy(ins: Instruction) -> CopySpec | None:
    """A COPY/ADD of the whole build context (``COPY . .``, ``ADD ./ /app``)."""
    spec = copy_spec(ins)
    if spec is None or spec.from_stage is not None:
        return None
    if any(is_context_root(s) for s in spec.sources):
        return spec
    return None


def stage_of(doc: Dockerfile, ins: Instruction) -> Stage | None:
    return doc.stages[ins.stage_index] if ins.stage_index >= 0 else None


def leading_comment_start(ins: Instruction) -> int:
    """Offset where the comments directly above ``ins`` begin (no blank line between)."""
    start = ins.full_range.start
    for t in reversed(ins.leading_trivia):
        if t.kind != "comment" or t.range.end != start:
            break
        start = t.range.start
    return start
