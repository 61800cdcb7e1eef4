"""Unified diffs of large files: worked out between anchors (report._AnchoredMatcher), still diffs git applies.

difflib's matcher takes time that grows with the square of the file when the changes are spread (every third
line of a 1 MiB file: 12 s); from report.ANCHORED_FROM lines on, it only works between the lines that occur
once on each side.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockeropt import report


def patched(a: list[str], diff: list[str]) -> list[str]:
    """``a`` with the hunks of ``diff`` (``_unified``'s lines) applied, checking every context and removed line."""
    out: list[str] = []
    at = 0
    k = 2 if diff else 0
    while k < len(diff):
        head = diff[k]
        assert head.startswith("@@ -"), head
        old = head.split()[1][1:]
        start, _, length = old.partition(",")
        first = int(start) - (1 if (length == "" or int(length)) else 0)
        out.extend(a[at:first])
        at = first
        k += 1
        while k < len(diff) and not diff[k].startswith("@@"):
            mark, line = diff[k][0], diff[k][1:]
            if mark in " -":
                assert a[at] == line, (at, a[at], line)
                at += 1
            if mark in " +":
                out.append(line)
            k += 1
    return out + a[at:]


lines = st.lists(st.sampled_from(["RUN a\n", "RUN b\n", "ENV X=1\n", "# note\n", "\n", "COPY . .\n"])
                 | st.integers(0, 40).map(lambda i: f"RUN step {i}\n"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(lines, lines)
def test_anchored_diff_turns_one_text_into_the_other(a: list[str], b: list[str]) -> None:
    got = list(report._unified(a, b, "a/Dockerfile", "b/Dockerfile", 3))
    assert patched(a, got) == b
    if not report._anchors(a, b):  # nothing to anchor on: difflib's own diff
        assert got == list(difflib.unified_diff(a, b, "a/Dockerfile", "b/Dockerfile", n=3))


@given(lines, lines)
def test_anchors_are_unique_lines_in_order(a: list[str], b: list[str]) -> None:
    chain = report._anchors(a, b)
    assert all(a[i] == b[j] and a.count(a[i]) == 1 and b.count(b[j]) == 1 for i, j in chain)
    assert all(x[0] < y[0] and x[1] < y[1] for x, y in zip(chain, chain[1:]))


def spread_change(n: int) -> tuple[str, str]:
    """A Dockerfile of ``n`` lines and the same with every third line changed (as the 1 MiB benchmark's fix does)."""
    old = ["FROM python:3.11\n"] + [f"RUN pip install package-{i}==1.0.{i}\n" if i % 3 == 0 else f"ENV VAR_{i}=v{i}\n"
                                    for i in range(n)]
    new = [line.replace("pip install", "pip install --no-cache-dir") for line in old]
    return "".join(old), "".join(new)


def test_a_large_diff_goes_through_the_anchors_and_equals_difflibs() -> None:
    old, new = spread_change(report.ANCHORED_FROM)
    a, b = report.split_lines(old), report.split_lines(new)
    assert len(a) + len(b) >= report.ANCHORED_FROM
    got = report.unified_diff(old, new, "Dockerfile")
    assert got == "".join(difflib.unified_diff(a, b, "a/Dockerfile", "b/Dockerfile", n=3))
    assert patched(a, got.splitlines(keepends=True)) == b


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_applies_a_large_diff(tmp_path: Path) -> None:
    old, new = spread_change(3 * report.ANCHORED_FROM)
    old = old.replace("ENV VAR_7=v7\n", "ENV VAR_7=v7\nENV VAR_7=v7\n")  # a line twice: no anchor there
    (tmp_path / "Dockerfile").write_text(old)
    (tmp_path / "fix.diff").write_text(report.unified_diff(old, new, "Dockerfile"))
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "fix.diff"], cwd=tmp_path, check=True)
    assert (tmp_path / "Dockerfile").read_text() == new
