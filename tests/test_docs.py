"""Rule documentation comes from the passes' docstrings and stays in sync."""

from __future__ import annotations

import pytest

from dockeropt.rules import docs_path, load_passes, rule_reference_markdown

PASSES = load_passes()


@pytest.mark.parametrize("rule_id", sorted(PASSES))
def test_docstring_has_every_section(rule_id: str) -> None:
    doc = PASSES[rule_id].doc()
    assert doc.summary, f"{rule_id}: no one-line summary"
    assert not doc.missing_sections(), f"{rule_id}: missing {doc.missing_sections()}"


def test_rules_md_is_generated_from_docstrings() -> None:
    assert docs_path().read_text(encoding="utf-8") == rule_reference_markdown(), (
        "docs/rules.md is stale: run python -m dockeropt.docs"
    )


def test_rule_ids_follow_the_areas() -> None:
    for rid, cls in PASSES.items():
        assert rid[2] in "1234" and cls.name and cls.name == cls.name.lower()
