"""The helper process that works out BuildKit's verdicts beside the fix loop (dockeropt.oracle.Helper).

The loop goes ahead without waiting for them; whatever comes back, the result must be the one the
in-process guard gives: the same text, changes, notes, errors and rounds, and the same error for
input BuildKit rejects.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from test_pipeline import TEXT, Breaker, Swallower, Upper

from dockeropt import oracle
from dockeropt.config import Config
from dockeropt.edits import Change, FileChange, Fix, Safety
from dockeropt.pipeline import FixResult, InputError, fix_text
from dockeropt.rules import Pass, PassContext
from dockeropt.syntax import Dockerfile
from strategies import dockerfiles

PAD = "".join(f"RUN apt-get update && apt-get install -y pkg{i}\n" for i in range(1600))
BIG = TEXT + PAD  # over oracle.HELPER_MIN_CHARS
assert len(BIG) > oracle.HELPER_MIN_CHARS


class Writer(Pass):
    """Writes notes.txt in the build context once (a fix with a file and no edit)."""

    id = "DO906"
    name = "writer"

    def check(self, doc: Dockerfile, ctx: PassContext) -> list[Change]:
        if ctx.context is None or ctx.context.read_raw("notes.txt") is not None:
            return []
        fix = Fix((), Safety.SAFE, (FileChange("notes.txt", "written\n", created=True),))
        return [Change(self.id, self.name, "write", "x", doc.instructions[0].range, fix)]


def outcome(r: FixResult) -> tuple[object, ...]:
    return (
        r.fixed, [(c.rule_id, c.line, c.title, c.explanation) for c in r.applied],
        [(c.rule_id, c.line, c.title, c.explanation) for c in r.notes], r.errors, r.warnings, r.files,
        [repr(f) for f in r.fixes], r.iterations, r.converged,
    )


def fixed(monkeypatch: pytest.MonkeyPatch, helper: bool, text: str, passes: list[Pass] | None = None) -> tuple[object, ...]:
    monkeypatch.setenv("DOCKEROPT_HELPER", "1" if helper else "0")
    return outcome(fix_text(text, PassContext(config=Config()), passes))


one_core = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the helper is for machines with two cores or more")


@one_core
def test_large_file_uses_the_helper_and_gets_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKEROPT_HELPER", raising=False)
    h = oracle.helper_for(len(BIG))
    assert h is not None, "a 2-core machine starts a helper for a large file"
    asked = h._next
    with_helper = fixed(monkeypatch, True, BIG)
    assert h._next > asked + 1, "the input and every round's output went to the helper"
    assert with_helper == fixed(monkeypatch, False, BIG)


def test_small_file_does_not_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKEROPT_HELPER", raising=False)
    assert oracle.helper_for(len(TEXT)) is None
    monkeypatch.setenv("DOCKEROPT_HELPER", "0")
    assert oracle.helper_for(len(BIG)) is None


@pytest.mark.parametrize("passes", [[Breaker(), Upper()], [Swallower()]], ids=["heredoc", "continuation"])
def test_a_broken_fix_is_dropped_as_in_process(monkeypatch: pytest.MonkeyPatch, passes: list[Pass]) -> None:
    with_helper = fixed(monkeypatch, True, BIG, passes)
    assert with_helper == fixed(monkeypatch, False, BIG, passes)
    assert any("would break the Dockerfile" in e for e in with_helper[3])  # type: ignore[union-attr]


@pytest.mark.parametrize("tail, message", [
    ("ENV a\n", "not a valid Dockerfile: ENV must have two arguments"),  # our parser reads it, BuildKit does not
    ("RUN <<EOF\necho\n", "not a valid Dockerfile: unterminated heredoc"),  # neither does
])
def test_input_buildkit_rejects_gives_its_error(monkeypatch: pytest.MonkeyPatch, tail: str, message: str) -> None:
    for helper in (True, False):
        monkeypatch.setenv("DOCKEROPT_HELPER", "1" if helper else "0")
        with pytest.raises(InputError) as err:
            fix_text(BIG + tail, PassContext(config=Config()))
        assert str(err.value) == message


def test_overlay_is_put_back_before_a_redone_run(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A run redone in-process starts from the context as the caller gave it (files earlier rounds wrote go)."""
    from dockeropt.runner import make_context

    (tmp_path / "Dockerfile").write_text(BIG)
    monkeypatch.setenv("DOCKEROPT_HELPER", "1")
    ctx = PassContext(config=Config(), path=tmp_path / "Dockerfile", context=make_context(tmp_path / "Dockerfile", None))
    assert ctx.context is not None
    ctx.context.set_overlay("given.txt", "from the caller")
    passes: list[Pass] = [Writer(), Breaker(), Upper()]
    r = fix_text(BIG, ctx, passes)  # Writer's file lands in round 0, Breaker's fix fails the guard: redone
    assert ctx.context.overlay == {"given.txt": "from the caller", "notes.txt": "written\n"}
    assert r.files == {"notes.txt": (None, "written\n")}
    monkeypatch.setenv("DOCKEROPT_HELPER", "0")
    ctx0 = PassContext(config=Config(), path=tmp_path / "Dockerfile", context=make_context(tmp_path / "Dockerfile", None))
    assert ctx0.context is not None
    ctx0.context.set_overlay("given.txt", "from the caller")
    assert outcome(r) == outcome(fix_text(BIG, ctx0, passes))
    assert ctx0.context.overlay == ctx.context.overlay


def test_a_dead_helper_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKEROPT_HELPER", "1")
    h = oracle.helper_for(len(BIG))
    assert h is not None
    h.proc.kill()
    h.proc.wait()
    assert fixed(monkeypatch, True, BIG) == fixed(monkeypatch, False, BIG)
    assert oracle.helper_for(len(BIG)) is None or oracle.helper_for(len(BIG)) is not h
    oracle._HELPERS.pop(os.getpid(), None)  # later tests start a new one


@one_core
def test_the_language_server_uses_it_for_smaller_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-lived process pays the helper's start once: the language server asks for it from a few KiB."""
    monkeypatch.delenv("DOCKEROPT_HELPER", raising=False)
    monkeypatch.setattr(oracle, "_min_chars", oracle.HELPER_MIN_CHARS)
    page = 8 * 1024
    assert oracle.helper_for(page) is None
    oracle.long_lived()
    assert oracle.helper_for(page) is not None
    assert oracle.helper_for(oracle.SERVER_MIN_CHARS - 1) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(dockerfiles())
def test_generated_files_fix_the_same_with_the_helper(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Whatever the input (valid, rejected by BuildKit, rejected by dockeropt), the helper changes nothing."""
    got = []
    for helper in ("1", "0"):
        monkeypatch.setenv("DOCKEROPT_HELPER", helper)
        try:
            got.append(outcome(fix_text(text, PassContext(config=Config()))))
        except InputError as exc:
            got.append(("InputError", str(exc)))
    assert got[0] == got[1]
