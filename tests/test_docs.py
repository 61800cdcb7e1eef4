"""Rule documentation comes from the passes' docstrings and stays in sync."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dockeropt.rules import load_passes, rule_reference_markdown
from harness import ROOT

PASSES = load_passes()
RULES_MD = ROOT / "docs" / "rules.md"  # the checkout's file, wherever the package is installed


@pytest.mark.parametrize("rule_id", sorted(PASSES))
def test_docstring_has_every_section(rule_id: str) -> None:
    doc = PASSES[rule_id].doc()
    assert doc.summary, f"{rule_id}: no one-line summary"
    assert not doc.missing_sections(), f"{rule_id}: missing {doc.missing_sections()}"


def test_rules_md_is_generated_from_docstrings() -> None:
    assert RULES_MD.read_text(encoding="utf-8") == rule_reference_markdown(), (
        "docs/rules.md is stale: run python -m dockeropt.docs"
    )


def test_rule_ids_follow_the_areas() -> None:
    for rid, cls in PASSES.items():
        assert rid[2] in "1234" and cls.name and cls.name == cls.name.lower()


def test_docs_command_finds_the_checkout_from_an_installed_package(tmp_path: Path) -> None:
    from dockeropt.docs import find_rules_md

    site = tmp_path / "site-packages" / "dockeropt"  # how a regular install looks: no docs/ beside it
    site.mkdir(parents=True)
    assert find_rules_md(ROOT / "tests", package_dir=site) == RULES_MD
    assert find_rules_md(tmp_path, package_dir=site) is None
    res = subprocess.run([sys.executable, "-m", "dockeropt.docs", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "rules.md"
    res = subprocess.run([sys.executable, "-m", "dockeropt.docs", "--path", str(out)], capture_output=True, text=True)
    assert res.returncode == 0 and out.read_text() == RULES_MD.read_text()


def test_readme_installs_into_a_venv_first_and_keeps_one_command() -> None:
    # stock Debian 12 / Ubuntu 24.04 refuse `pip install` into the system Python (externally-managed-environment)
    readme = (ROOT / "README.md").read_text()
    install = readme[readme.index("## Install"):]
    first_block = install[install.index("```sh") + 5: install.index("```", install.index("```sh") + 5)]
    commands = [ln for ln in first_block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert commands, first_block
    assert "venv" in commands[0] or commands[0].startswith("pipx"), commands[0]
    assert not any(c.startswith(("pip install", "python3 -m pip install", "pip3 install")) for c in commands)
    # one command that installs and runs the main job on the bundled example
    assert any("&&" in c and "dockeropt fix --diff examples/node-naive/Dockerfile" in c for c in commands), commands
