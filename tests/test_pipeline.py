"""The fix loop and its guard, with deliberately misbehaving passes, plus properties."""

from __future__ import annotations

from collections.abc import Iterable

import dockerfile as buildkit
import pytest
from hypothesis import HealthCheck, given, settings

from dockeropt.config import Config
from dockeropt.edits import Change, Edit, Safety
from dockeropt.pipeline import InputError, fix_text, load
from dockeropt.rules import Pass, PassContext
from dockeropt.syntax import Dockerfile, parse
from strategies import dockerfiles

TEXT = "FROM alpine:3.19\n# keep me\nRUN echo one\nRUN echo two\nCMD [\"sh\"]\n"


class Breaker(Pass):
    """Turns the first RUN into an unterminated heredoc."""

    id = "DO901"
    name = "breaker"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        run = next(i for i in doc.instructions if i.keyword == "RUN")
        if "<<EOF" not in run.text:
            yield self.change("break", "x", run, [Edit.replace(run.range.start, run.range.end, "RUN <<EOF cat")])


class Swallower(Pass):
    """Appends a continuation to a RUN, which would merge the next instruction into it."""

    id = "DO902"
    name = "swallower"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        run = next(i for i in doc.instructions if i.keyword == "RUN")
        if not run.text.rstrip().endswith("\\"):
            yield self.change("swallow", "x", run, [Edit.insert(run.range.end, " \\")])


class Upper(Pass):
    """Upper-cases 'echo two' once."""

    id = "DO903"
    name = "upper"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        i = doc.text.find("echo two")
        if i >= 0:
            yield self.change("upper", "x", doc.instructions[0], [Edit.replace(i, i + 8, "ECHO TWO")])


class Forever(Pass):
    """Never satisfied: appends a character to the last comment each round."""

    id = "DO904"
    name = "forever"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        i = doc.text.find("# keep me")
        yield self.change("more", "x", doc.instructions[0], [Edit.insert(i + 9, "!")])


class Crasher(Pass):
    """Raises."""

    id = "DO905"
    name = "crasher"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        raise RuntimeError("boom")


class Risky(Pass):
    """An unsafe fix."""

    id = "DO906"
    name = "risky"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        i = doc.text.find("echo one")
        if i >= 0:
            yield self.change("risky", "x", doc.instructions[0], [Edit.replace(i, i + 8, "echo 1")], Safety.UNSAFE)


def test_a_fix_that_breaks_the_file_is_dropped_and_reported() -> None:
    r = fix_text(TEXT, passes=[Breaker(), Upper()])
    assert r.fixed == TEXT.replace("echo two", "ECHO TWO")
    assert any("DO901" in e and "dropped" in e for e in r.errors)


def test_a_fix_that_changes_an_untouched_instruction_is_dropped() -> None:
    r = fix_text(TEXT, passes=[Swallower()])
    assert r.fixed == TEXT
    assert any("DO902" in e for e in r.errors)


def test_non_convergence_is_reported_by_rule() -> None:
    r = fix_text(TEXT, PassContext(config=Config(max_iterations=4)), passes=[Forever()])
    assert not r.converged and r.nonconverged_rules == ["DO904"]
    assert r.fixed.count("!") == 4


def test_a_crashing_pass_does_not_stop_the_others() -> None:
    r = fix_text(TEXT, passes=[Crasher(), Upper()])
    assert "ECHO TWO" in r.fixed
    assert any("DO905" in e and "boom" in e for e in r.errors)


def test_safety_threshold() -> None:
    assert fix_text(TEXT, passes=[Risky()]).fixed == TEXT
    assert fix_text(TEXT, PassContext(config=Config(unsafe_fixes=True)), passes=[Risky()]).fixed == TEXT.replace("echo one", "echo 1")
    held = fix_text(TEXT, passes=[Risky()])
    assert [n.rule_id for n in held.notes] == ["DO906"]


def test_lines_reported_in_the_original_file() -> None:
    r = fix_text(TEXT, passes=[Upper()])
    assert [c.line for c in r.applied] == [1]


def test_load_rejects_what_docker_would_reject() -> None:
    for bad in ("", "# c\n", "FROM a\nFOO b\n", "RUN x\n"):
        try:
            load(bad)
        except InputError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def _all_rules_ignored(text: str) -> str:
    doc = parse(text)
    if not doc.instructions:
        return text
    first = doc.instructions[0]
    nl = doc.newline
    at = first.full_range.start
    return text[:at] + "# dockeropt global ignore=DO" + nl + text[at:]


def _loadable(text: str) -> bool:
    try:
        load(text)
    except InputError:
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(dockerfiles())
def test_generated_files_fix_soundly(text: str) -> None:
    if not _loadable(text):
        return
    r = fix_text(text)
    assert r.converged
    assert not r.errors, r.errors
    buildkit.parse_string(r.fixed)
    again = fix_text(r.fixed)
    assert again.fixed == r.fixed
    # fixes never overlap within a round, and every applied change has a fix
    assert all(c.fix is not None for c in r.applied)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfiles())
def test_global_ignore_leaves_the_file_alone(text: str) -> None:
    ignored = _all_rules_ignored(text)
    if not _loadable(ignored):
        return
    assert fix_text(ignored).fixed == ignored


def test_gc_pause_hands_survivors_to_the_permanent_generation() -> None:
    """After a run the collector is back on, and what survived it is frozen (not walked by the next
    collection) until the next run, which unfreezes it; objects someone else froze are left alone."""
    import gc

    from dockeropt import pipeline

    gc.unfreeze()
    pipeline._GC_FROZE = False
    pipeline._GC_RUNS = 0
    gc.enable()
    try:
        with pipeline.gc_paused():
            assert not gc.isenabled()
            with pipeline.gc_paused():  # nested runs share the pause
                pass
            assert not gc.isenabled()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0 and pipeline._GC_FROZE
        with pipeline.gc_paused():
            assert gc.get_freeze_count() == 0  # moved back: a later full collection sees them again
        gc.unfreeze()
        pipeline._GC_FROZE = False
        gc.freeze()  # someone else's frozen objects
        with pipeline.gc_paused():
            pass
        assert not pipeline._GC_FROZE
        with pipeline.gc_paused():
            assert gc.get_freeze_count() > 0  # theirs stay frozen
        gc.disable()
        with pipeline.gc_paused():
            pass
        assert not gc.isenabled()  # off before, off after
        gc.enable()
        gc.unfreeze()
        pipeline._GC_FROZE = False
        pipeline._GC_RUNS = pipeline._GC_FULL_EVERY - 1
        with pipeline.gc_paused():
            pass
        assert pipeline._GC_FROZE and pipeline._GC_RUNS == pipeline._GC_FULL_EVERY
        with pipeline.gc_paused():
            pass
        # every so many runs a full collection instead: nothing frozen, counter restarted
        assert gc.get_freeze_count() == 0 and not pipeline._GC_FROZE and pipeline._GC_RUNS == 0
    finally:
        gc.unfreeze()
        pipeline._GC_FROZE = False
        pipeline._GC_RUNS = 0
        gc.enable()


def test_change_evolve_is_replace() -> None:
    from dataclasses import replace

    from dockeropt.source import TextRange

    ch = Change("DO999", "demo", "t", "e", TextRange(0, 1), None, 3, ("n",))
    assert ch.evolve(line=7, title="u") == replace(ch, line=7, title="u")
    assert ch.line == 3 and ch.title == "t"  # the original is untouched
    with pytest.raises(TypeError):
        ch.evolve(lines=1)


def test_per_change_fixes_are_worked_out_on_first_use_and_survive_pickling() -> None:
    import pickle

    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN apt-get update && apt-get install -y curl\nCMD npm start\n"
    r = fix_text(text)
    assert r.applied and r._fixes is None  # a diff never pays for the attribution
    sent = pickle.loads(pickle.dumps(r))  # bulk workers send results to the parent: fixes go with them
    assert len(r.fixes) == len(r.applied) and sent.fixes == r.fixes and sent.applied == r.applied
    from dockeropt.edits import apply_edits

    assert apply_edits(text, [e for fx in r.fixes for e in fx.edits]) == r.fixed
