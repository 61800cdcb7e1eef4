"""A big build context costs one bounded walk per set of visible files, not one per pass and round (issue 10).

Before: DO203 ran one regular-expression search over the whole source text per top-level name, on
every round, and the model read the app's source once per round; a Dockerfile beside 7,300 files
took 3 min 44 s to fix (28,000 files: 5 min 20 s). The time figures are in benchmarks/bench_context.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.pipeline import fix_text
from dockeropt.rules import PassContext, selected_passes
from dockeropt.transforms.do203_dockerignore import _mentioned, _source_words

_ALPHABET = "ab.-_/ \n'\"é1"


def _words_of(blob: str, *names: str) -> frozenset[str]:
    rules = {"manifest_globs": [], "manifests": []}

    class _Blob(BuildContext):
        pass

    bc = _Blob(Path("/nonexistent"))
    import dockeropt.transforms.do203_dockerignore as m

    saved = m.source_files
    m.source_files = lambda *_a, **_k: iter([("x.js", blob)])  # type: ignore[assignment]
    try:
        got, words = _source_words(bc, ".", list(names), rules)
    finally:
        m.source_files = saved  # type: ignore[assignment]
    assert got == blob
    return words


@given(st.text(_ALPHABET, max_size=16), st.text(_ALPHABET.replace("\n", ""), min_size=1, max_size=5))
def test_a_name_is_mentioned_exactly_when_the_old_search_found_it(blob: str, name: str) -> None:
    old = re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", blob) is not None
    assert _mentioned(name, blob, _words_of(blob, name)) is old


def test_mentions_read_as_a_user_would() -> None:
    blob = "see README.md.bak, ./docs/ and docs-old; load('config.yml')\nnot xREADME.md"
    words = _words_of(blob, "README.md", "docs", "config.yml", "docs-ol", "old")
    assert _mentioned("README.md", blob, words)  # followed by a dot: still a mention
    assert _mentioned("docs", blob, words)
    assert _mentioned("config.yml", blob, words)
    assert not _mentioned("docs-ol", blob, words)  # part of a longer name
    assert not _mentioned("old", blob, words)  # after a dash
    assert _mentioned("my file.txt", "open('my file.txt')", _words_of("open('my file.txt')", "my file.txt"))  # searched


def _big_context(root: Path, files: int) -> None:
    (root / "package.json").write_text('{"name": "app", "scripts": {"start": "node server.js"}, "dependencies": {"express": "4"}}\n')
    (root / "server.js").write_text("const express = require('express');\nexpress().listen(3000);\n")
    (root / "README.md").write_text("# app\n")
    for i in range(40):
        (root / f"top{i}.txt").write_text("x")
    for d in range(files // 20):
        sub = root / "lib" / f"m{d}"
        sub.mkdir(parents=True)
        for f in range(20):
            (sub / f"f{f}.js").write_text("module.exports = require('./other');\n" * 20)


class _Counting(BuildContext):
    reads: dict[str, int]
    states: set[tuple[tuple[str, str], ...]]

    def listdir(self, rel: str = ".") -> list[str]:
        self.reads["listdir " + rel] = self.reads.get("listdir " + rel, 0) + 1
        return super().listdir(rel)

    def _read_disk(self, rel: str, limit: int) -> str | None:
        self.reads[rel] = self.reads.get(rel, 0) + 1
        return super()._read_disk(rel, limit)

    def set_overlay(self, rel: str, text: str) -> None:
        super().set_overlay(rel, text)
        self.states.add(tuple(sorted(self.overlay.items())))


def test_the_source_is_read_once_per_set_of_visible_files(tmp_path: Path) -> None:
    _big_context(tmp_path, 400)
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm install\nEXPOSE 3000\nCMD node server.js\n"
    bc = _Counting(tmp_path, tmp_path / "Dockerfile")
    bc.reads, bc.states = {}, set()
    cfg = Config()
    result = fix_text(text, PassContext(config=cfg, context=bc), selected_passes(cfg))
    assert ".dockerignore" in result.files and result.iterations >= 3
    source_reads = [n for rel, n in bc.reads.items() if rel.startswith("lib/")]
    assert len(source_reads) == 400
    # each file read from disk once per set of visible files (none written yet, then each .dockerignore
    # DO203 wrote), whatever the number of passes, rounds and extension lists asking
    assert max(source_reads) == len(bc.states) + 1
    # and each folder listed once per such set (it was once per pass, round and extension list)
    assert bc.reads["listdir lib/m7"] == len(bc.states) + 1


def _age(root: Path) -> None:
    """Folders changed long ago (a walk of a folder changed in the last seconds is not kept)."""
    import os
    import time

    old = time.time() - 100
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        os.utime(d, (old, old))


def test_the_next_context_of_a_folder_reuses_its_walk_until_a_folder_changes(tmp_path: Path) -> None:
    from dockeropt.model.runtime import source_facts, source_files

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.js").write_text("require('express')().listen(3000)\n")
    _age(tmp_path)
    first = _Counting(tmp_path)
    first.reads, first.states = {}, set()
    assert [p for p, _ in source_files(first, ".", (".js",))] == ["src/a.js"]
    assert first.reads["listdir src"] == 1
    again = _Counting(tmp_path)  # the language server's next version: a new context of the same folder
    again.reads, again.states = {}, set()
    assert [p for p, _ in source_files(again, ".", (".js",))] == ["src/a.js"]
    assert "listdir src" not in again.reads  # the walk was reused
    assert again.reads["src/a.js"] == 1  # but the file is read afresh
    # a file's new text is seen (its facts are computed again), and so is a new file
    (tmp_path / "src" / "a.js").write_text("const port = process.env.PORT || 8123;\n")
    _age(tmp_path)
    assert source_facts(BuildContext(tmp_path), ".", ["node"])[1] == [("PORT", 8123, "src/a.js")]
    (tmp_path / "src" / "b.js").write_text("x\n")
    later = _Counting(tmp_path)
    later.reads, later.states = {}, set()
    assert [p for p, _ in source_files(later, ".", (".js",))] == ["src/b.js", "src/a.js"]
    assert later.reads["listdir src"] == 1
