"""The parser takes an instruction node as it is when the same lines sit at the same place (``syntax._PLACED``)."""

from __future__ import annotations

import pytest

from dockeropt import syntax


def _check(text: str) -> syntax.Dockerfile:
    got = syntax.parse(text)
    assert got == syntax.parse(text, reuse=False)
    assert [(i.index, i.stage_index) for i in got.instructions] == list(
        (k, i.stage_index) for k, i in enumerate(syntax.parse(text, reuse=False).instructions)
    )
    return got


def test_unchanged_text_gives_the_same_nodes() -> None:
    text = "FROM a AS b\n# c\nRUN x \\\n  y\nENV A=1 \\\n  B=2\nEXPOSE 3000\nCMD [\"a\"]\n"
    first = _check(text)
    again = _check(text)
    assert all(a is b for a, b in zip(first.instructions, again.instructions, strict=True))


def test_a_same_length_edit_keeps_the_nodes_after_it() -> None:
    text = "FROM a\nEXPOSE 3000\nRUN x \\\n  y\nUSER u\n"
    first = _check(text)
    edited = _check(text.replace("3000", "3001"))
    assert edited.instructions[1] is not first.instructions[1]
    assert edited.instructions[2] is first.instructions[2] and edited.instructions[3] is first.instructions[3]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("FROM a\nFROM b\nRUN x\n", "FROM a\nUSER b\nRUN x\n"),  # same offset and line, another stage
        ("FROM a\nRUN bb \\\n c\nRUN x\n", "FROM a\nRUN b\nRUN c\nRUN x\n"),  # another index
        ("FROM a\n# xy\nRUN x\n", "FROM a\n# yx\nRUN x\n"),  # other leading comments
        ("FROM a\n# xy\nRUN x\n", "FROM a\nUSER\nRUN x\n"),
        ("FROM a\nRUN x", "FROM a\nRUN x\n"),  # the last line gains its terminator
        ("FROM a\nRUN x \\\n", "FROM a\nRUN x \\\n y\n"),
        ("FROM a\nRUN <<EOF\nx\nEOF\nRUN y\n", "FROM a\nRUN <<EOF\ny\nEOF\nRUN y\n"),
    ],
)
def test_a_node_at_the_same_offset_is_taken_only_when_nothing_differs(before: str, after: str) -> None:
    for _ in range(2):
        _check(before)
        _check(after)
