"""Settings that change what dockeropt reports and applies."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockeropt.edits import Safety


@dataclass
class Config:
    select: list[str] = field(default_factory=list)  # rule ids or prefixes; empty = all default rules
    ignore: list[str] = field(default_factory=list)
    safe_only: bool = False
    unsafe_fixes: bool = False
    buildkit: str | None = None  # target engine's BuildKit version, e.g. "0.8" (no heredocs)
    syntax_directive: bool = False  # may passes add "# syntax=docker/dockerfile:1"?
    default_uid: int = 10001
    registry_mirror: dict[str, str] = field(default_factory=dict)
    bind_mount_style: bool = False
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    max_iterations: int = 10

    @property
    def min_safety(self) -> Safety:
        if self.unsafe_fixes:
            return Safety.UNSAFE
        if self.safe_only:
            return Safety.SAFE
        return Safety.REVIEW
