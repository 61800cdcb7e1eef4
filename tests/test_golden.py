"""Golden before/after fixtures, one folder per rule: tests/fixtures/<RULE>/.

For each ``<case>.Dockerfile``:

* ``<case>.fixed.Dockerfile``: the expected output; absent for a no-change case;
* ``<case>.changes.txt``: the expected explanation blocks (applied changes and notes);
* ``<case>.context/``: the build context, when the case has one (otherwise none is known);
* ``<case>.config.json``: Config overrides (e.g. ``{"unsafe_fixes": true}``);
* ``<case>.files.json``: other context files the fix creates or changes (path -> new text).

Each case runs with only its own rule selected, and must also be sound:
it converges, the output parses with BuildKit's parser and fixing it again
changes nothing.

``pytest --update-goldens`` never overwrites an expectation: it writes the
new output beside it as ``<file>.new`` and the test fails with the diff.
Review the diffs, then ``python tests/accept_goldens.py`` moves the
``.new`` files into place (or deletes an expectation whose ``.new`` file
says ``<deleted>``).

``test_golden_fails_without_its_pass`` runs every case that expects a change
or a note with its rule's ``check`` stubbed out: the case must then fail, so
no golden can pass without the pass it is meant to prove.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path

import pytest

from dockeropt.config import Config
from dockeropt.report import explanations
from harness import ROOT, assert_sound, run_fix

FIXTURES = ROOT / "tests" / "fixtures"
CASES = sorted(p for p in FIXTURES.glob("*/*.Dockerfile") if not p.name.endswith(".fixed.Dockerfile"))


def _case_id(p: Path) -> str:
    return f"{p.parent.name}/{p.name[: -len('.Dockerfile')]}"


_CONFIG_KEYS = frozenset(f.name for f in dataclasses.fields(Config))
DELETED = "<deleted>\n"


def load_config(case: Path) -> Config:
    cfg_path = case.with_name(case.name[: -len(".Dockerfile")] + ".config.json")
    cfg = Config(select=[case.parent.name])
    if cfg_path.exists():
        overrides = json.loads(cfg_path.read_text())
        unknown = sorted(set(overrides) - _CONFIG_KEYS)
        assert not unknown, f"{cfg_path.name}: unknown config keys {unknown} (known: {sorted(_CONFIG_KEYS)})"
        for k, v in overrides.items():
            setattr(cfg, k, v)
    return cfg


def _stage_new(path: Path, new: str | None, pending: list[str]) -> None:
    """Write ``path.new`` when ``new`` differs from what ``path`` holds (None: the file should not exist)."""
    old = path.read_bytes().decode("utf-8") if path.exists() else None
    side = path.with_name(path.name + ".new")
    if old == new:
        if side.exists():
            side.unlink()
        return
    side.write_bytes((DELETED if new is None else new).encode("utf-8"))
    diff = difflib.unified_diff((old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
                                f"{path.name}", f"{path.name}.new")
    pending.append("".join(diff) or f"{path.name}: {'delete' if new is None else 'create'}\n")


def _expected(case: Path) -> tuple[str, str | None, dict[str, str]]:
    stem = case.name[: -len(".Dockerfile")]
    fixed_path = case.with_name(stem + ".fixed.Dockerfile")
    changes_path = case.with_name(stem + ".changes.txt")
    files_path = case.with_name(stem + ".files.json")
    original = case.read_bytes().decode("utf-8")
    fixed = fixed_path.read_bytes().decode("utf-8") if fixed_path.exists() else original
    changes = changes_path.read_text(encoding="utf-8") if changes_path.exists() else None
    files = json.loads(files_path.read_text(encoding="utf-8")) if files_path.exists() else {}
    return fixed, changes, files


def _run_case(case: Path) -> tuple[object, str, dict[str, str], Config, Path | None]:
    stem = case.name[: -len(".Dockerfile")]
    context = case.with_name(stem + ".context")
    context = context if context.is_dir() else None
    cfg = load_config(case)
    original = case.read_bytes().decode("utf-8")
    result = run_fix(original, config=cfg, context=context, path=(context / "Dockerfile") if context else None)
    rendered = explanations("Dockerfile", result.applied, result.notes)
    files = {rel: new for rel, (_old, new) in sorted(result.files.items())}
    return result, rendered, files, cfg, context


@pytest.mark.parametrize("case", CASES, ids=[_case_id(p) for p in CASES])
def test_golden(case: Path, update_goldens: bool) -> None:
    stem = case.name[: -len(".Dockerfile")]
    result, rendered, files, cfg, context = _run_case(case)
    original = case.read_bytes().decode("utf-8")
    if update_goldens:
        pending: list[str] = []
        _stage_new(case.with_name(stem + ".fixed.Dockerfile"), result.fixed if result.fixed != original else None, pending)  # type: ignore[attr-defined]
        _stage_new(case.with_name(stem + ".changes.txt"), rendered, pending)
        _stage_new(case.with_name(stem + ".files.json"), json.dumps(files, indent=2, sort_keys=True) + "\n" if files else None, pending)
        if pending:
            pytest.fail("new output written beside the goldens as .new files; review, then run "
                        "`python tests/accept_goldens.py`:\n" + "".join(pending), pytrace=False)
    expected_fixed, expected_changes, expected_files = _expected(case)
    assert result.fixed == expected_fixed  # type: ignore[attr-defined]
    assert expected_changes is not None, f"missing {stem}.changes.txt; run pytest --update-goldens"
    assert rendered == expected_changes
    assert files == expected_files
    assert_sound(result, config=cfg, context=context, path=(context / "Dockerfile") if context else None)  # type: ignore[arg-type]


# cases that expect something of their own pass: an explanation block of the folder's rule (every
# applied change and note has one; a case that selects other rules too may expect only theirs)
_ACTIVE = [c for c in CASES if f" {c.parent.name} " in (_expected(c)[1] or "")]


@pytest.mark.parametrize("case", _ACTIVE, ids=[_case_id(p) for p in _ACTIVE])
def test_golden_fails_without_its_pass(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the rule's check stubbed out, the golden must not hold: it proves the pass, not the harness."""
    from dockeropt.rules import load_passes

    cls = load_passes()[case.parent.name]
    monkeypatch.setattr(cls, "check", lambda self, doc, ctx: iter(()))
    result, rendered, files, _cfg, _context = _run_case(case)
    expected_fixed, expected_changes, expected_files = _expected(case)
    same = result.fixed == expected_fixed and rendered == expected_changes and files == expected_files  # type: ignore[attr-defined]
    assert not same, f"{_case_id(case)} still passes with {cls.id}'s check stubbed out: it tests nothing"


def test_every_rule_has_fixtures() -> None:
    from dockeropt.rules import load_passes

    missing = [rid for rid in load_passes() if not any(p.parent.name == rid for p in CASES)]
    assert not missing, f"rules without golden fixtures: {missing}"


def test_every_rule_has_a_no_change_case() -> None:
    from dockeropt.rules import load_passes

    for rid in load_passes():
        cases = [p for p in CASES if p.parent.name == rid]
        unchanged = [p for p in cases if not p.with_name(p.name[: -len(".Dockerfile")] + ".fixed.Dockerfile").exists()]
        assert unchanged, f"{rid} has no no-change fixture"
