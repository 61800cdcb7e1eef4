"""Shared checks every fixed Dockerfile must pass."""

from __future__ import annotations

from pathlib import Path

import dockerfile as buildkit

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.pipeline import FixResult, fix_text
from dockeropt.rules import PassContext

ROOT = Path(__file__).resolve().parent.parent


def run_fix(text: str, *, select: list[str] | None = None, context: Path | None = None, path: Path | None = None,
            config: Config | None = None) -> FixResult:
    cfg = config or Config()
    if select is not None:
        cfg.select = select
    ctx = PassContext(config=cfg, path=path, context=BuildContext(context, dockerfile=path) if context else None)
    return fix_text(text, ctx)


def assert_sound(result: FixResult, *, select: list[str] | None = None, context: Path | None = None,
                 config: Config | None = None) -> None:
    """Converges, parses with BuildKit, no internal errors, and a second run changes nothing."""
    assert result.converged, f"did not converge: {result.nonconverged_rules}"
    assert not result.errors, result.errors
    buildkit.parse_string(result.fixed)
    again = run_fix(result.fixed, select=select, context=context, config=config)
    assert again.fixed == result.fixed, "fixing is not idempotent"
    assert not again.applied
