"""Every corpus Dockerfile, fixed with every default rule: sound, idempotent, untouched lines kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockeropt.pipeline import InputError, load
from harness import ROOT, assert_sound, run_fix

FILES = sorted(p for p in (ROOT / "corpus").glob("*/*/Dockerfile") if p.is_file())


def _loadable(path: Path) -> bool:
    try:
        load(path.read_bytes().decode("utf-8"))
    except InputError:
        return False
    return True


@pytest.mark.parametrize("path", FILES, ids=[str(p.parent.relative_to(ROOT)) for p in FILES])
def test_corpus_fix_is_sound(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    if not _loadable(path):
        pytest.skip("input dockeropt refuses (e.g. an unknown instruction); covered by test_cli")
    result = run_fix(text, context=path.parent, path=path)
    assert_sound(result, context=path.parent)
    if result.changed:
        # the file's line-ending style and final newline survive
        assert ("\r\n" in result.fixed) == ("\r\n" in text)
        assert result.fixed.endswith("\n") == text.endswith("\n")
        assert result.fixed.startswith("\ufeff") == text.startswith("\ufeff")


def test_some_corpus_files_change_and_some_do_not() -> None:
    changed = unchanged = 0
    for path in FILES:
        if not _loadable(path):
            continue
        r = run_fix(path.read_bytes().decode("utf-8"), context=path.parent, path=path, select=["DO101"])
        if r.changed:
            changed += 1
        else:
            unchanged += 1
    assert changed >= 10 and unchanged >= 10
