"""Golden before/after fixtures, one folder per rule: tests/fixtures/<RULE>/.

For each ``<case>.Dockerfile``:

* ``<case>.fixed.Dockerfile``: the expected output; absent for a no-change case;
* ``<case>.changes.txt``: the expected explanation blocks (applied changes and notes);
* ``<case>.context/``: the build context, when the case has one (otherwise none is known);
* ``<case>.config.json``: Config overrides (e.g. ``{"unsafe_fixes": true}``);
* ``<case>.files.json``: other context files the fix creates or changes (path -> new text).

Each case runs with only its own rule selected, and must also be sound:
it converges, the output parses with BuildKit's parser and fixing it again
changes nothing. ``pytest --update-goldens`` rewrites the expectations.
"""

from __future__ import annotations

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


def load_config(case: Path) -> Config:
    cfg_path = case.with_name(case.name[: -len(".Dockerfile")] + ".config.json")
    cfg = Config(select=[case.parent.name])
    if cfg_path.exists():
        for k, v in json.loads(cfg_path.read_text()).items():
            setattr(cfg, k, v)
    return cfg


@pytest.mark.parametrize("case", CASES, ids=[_case_id(p) for p in CASES])
def test_golden(case: Path, update_goldens: bool) -> None:
    stem = case.name[: -len(".Dockerfile")]
    fixed_path = case.with_name(stem + ".fixed.Dockerfile")
    changes_path = case.with_name(stem + ".changes.txt")
    context = case.with_name(stem + ".context")
    context = context if context.is_dir() else None
    cfg = load_config(case)
    original = case.read_bytes().decode("utf-8")
    result = run_fix(original, config=cfg, context=context, path=(context / "Dockerfile") if context else None)
    rendered = explanations("Dockerfile", result.applied, result.notes)
    files_path = case.with_name(stem + ".files.json")
    files = {rel: new for rel, (_old, new) in sorted(result.files.items())}
    if update_goldens:
        if files:
            files_path.write_text(json.dumps(files, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        elif files_path.exists():
            files_path.unlink()
        if result.fixed != original:
            fixed_path.write_bytes(result.fixed.encode("utf-8"))
        elif fixed_path.exists():
            fixed_path.unlink()
        changes_path.write_text(rendered, encoding="utf-8")
    expected = fixed_path.read_bytes().decode("utf-8") if fixed_path.exists() else original
    assert result.fixed == expected
    assert changes_path.exists(), f"missing {changes_path.name}; run pytest --update-goldens"
    assert rendered == changes_path.read_text(encoding="utf-8")
    expected_files = json.loads(files_path.read_text(encoding="utf-8")) if files_path.exists() else {}
    assert files == expected_files
    assert_sound(result, config=cfg, context=context, path=(context / "Dockerfile") if context else None)


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
