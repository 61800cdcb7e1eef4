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
            config: Config | None = None, files: dict[str, str] | None = None) -> FixResult:
    """Fix ``text``; ``files`` are context files as earlier fixes left them (path -> text)."""
    cfg = config or Config()
    if select is not None:
        cfg.select = select
    bc = BuildContext(context, dockerfile=path) if context else None
    if bc is not None:
        for rel, content in (files or {}).items():
            bc.set_overlay(rel, content)
    ctx = PassContext(config=cfg, path=path, context=bc)
    return fix_text(text, ctx)


def assert_sound(result: FixResult, *, select: list[str] | None = None, context: Path | None = None,
                 config: Config | None = None, path: Path | None = None) -> None:
    """Converges, parses with BuildKit, no internal errors, and a second run changes nothing.

    The second run sees the other context files (``.dockerignore``, …) as the first run left them.
    """
    assert result.converged, f"did not converge: {result.nonconverged_rules}"
    assert not result.errors, result.errors
    buildkit.parse_string(result.fixed)
    files = {rel: new for rel, (_old, new) in result.files.items()}
    again = run_fix(result.fixed, select=select, context=context, config=config, path=path, files=files)
    assert again.fixed == result.fixed, "fixing is not idempotent"
    assert not again.applied, [c.rule_id for c in again.applied]
    assert not again.files, f"a second run changes other files again: {sorted(again.files)}"


def read_all(fd: int) -> str:
    """Everything written to a pseudo-terminal until its other end closes (then closes ``fd``)."""
    import os

    chunks = []
    try:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def count_classifications(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """A list that grows by one for every RUN the image model classifies from scratch."""
    import dockeropt.model as model

    calls: list[int] = []
    real = model.classify_run

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(model, "classify_run", counted)
    return calls
