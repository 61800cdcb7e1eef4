"""The lossless tree: round-trip, agreement with BuildKit's parser, node ranges."""

from __future__ import annotations

from pathlib import Path

import dockerfile as buildkit
import pytest
from hypothesis import HealthCheck, given, settings

from dockeropt.syntax import Dockerfile, ParseError, parse, unparse
from harness import ROOT
from strategies import dockerfiles

CORPUS = sorted((ROOT / "corpus").glob("**/Dockerfile*"))
CORPUS = [p for p in CORPUS if p.is_file() and not p.name.endswith(".dockerignore")]


def signature(doc: Dockerfile) -> list[tuple]:
    out = []
    for ins in doc.instructions:
        out.append(
            (
                ins.keyword.lower(),
                ins.start_line,
                ins.end_line,
                tuple((f.name, f.value) for f in ins.flags),  # cooked, as BuildKit reports them
                ins.json,
                # the Python wrapper of BuildKit's parser reports no heredocs for ONBUILD triggers
                # (their bodies are consumed all the same; start/end lines prove it)
                tuple(h.name for h in ins.heredocs),
            )
        )
    return out


def _cooked_flag(flag: str) -> tuple[str, str | None]:
    name, eq, value = flag[2:].partition("=")
    return name.lower(), (value if eq else None)


def oracle_signature(text: str) -> list[tuple]:
    out = []
    for c in buildkit.parse_string(text):
        flags = tuple(_cooked_flag(f) for f in c.flags)
        out.append((c.cmd.lower(), c.start_line, c.end_line, flags, c.json, tuple(h.name for h in c.heredocs)))
    return out


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[str(p.relative_to(ROOT)) for p in CORPUS])
def test_corpus_round_trip_and_agrees_with_buildkit(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    doc = parse(text)
    assert unparse(doc) == text
    assert signature(doc) == oracle_signature(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfiles())
def test_generated_round_trip_and_agrees_with_buildkit(text: str) -> None:
    doc = parse(text)
    assert unparse(doc) == text
    assert signature(doc) == oracle_signature(text)


@settings(max_examples=300, deadline=None)
@given(dockerfiles())
def test_ranges_cover_instruction_text(text: str) -> None:
    doc = parse(text)
    for ins in doc.instructions:
        assert text[ins.full_range.start : ins.full_range.end] == ins.text
        assert ins.text.startswith(text[ins.range.start : ins.range.end])
        for f in ins.flags:
            # a flag's physical text is its raw text once continuations are removed
            assert f.raw.replace(" ", "") in text[f.range.start : f.range.end].replace(" ", "").replace("\\\n", "").replace("`\n", "") or "\n" in text[f.range.start : f.range.end]
        for h in ins.heredocs:
            assert text[h.terminator_range.start : h.terminator_range.end].strip("\r\n\t") == h.name


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "# only a comment",
        "\ufeffFROM a\r\nRUN b\r\n",
        "FROM a\nRUN x \\\n",
        "FROM a\nRUN echo \\\n\n  # c\n  b",
        "# escape=`\nFROM a\nRUN dir `\n  c:\\\\",
        "FROM a\nRUN <<EOF\nbody\nEOF",
        "FROM a\nRUN <<-EOF\n\tbody\n\tEOF\n",
        "FROM a\nCOPY <<a.txt <<b.txt /dst/\nA\na.txt\nB\nb.txt\n",
        "FROM a\nonbuild run echo hi\n",
        "\tFROM\ta\n\t\tRUN\tb\t\n",
        "FROM a\nRUN echo \\   \t\n  b\n",
        'FROM a\nLABEL --="quoted value"\n',
        "FROM a\nRUN --mount='type=cache,target=/x y' -- echo\n",
    ],
)
def test_round_trip_edge_cases(text: str) -> None:
    assert unparse(parse(text)) == text
    if not parse(text).instructions:
        with pytest.raises(buildkit.GoParseError, match="no instructions"):
            buildkit.parse_string(text)
        return
    assert signature(parse(text)) == oracle_signature(text)


def test_directives_only_at_top() -> None:
    doc = parse("# syntax=docker/dockerfile:1\n# escape=`\n\n# check=skip=all\nFROM a\n")
    assert [d.name for d in doc.directives] == ["syntax", "escape"]
    assert doc.escape == "`"
    late = parse("FROM a\n# escape=`\nRUN a \\\n b\n")
    assert late.directives == () and late.escape == "\\"
    after_blank = parse("\n# escape=`\nFROM a\n")
    assert after_blank.escape == "\\"


def test_stages_and_flags() -> None:
    doc = parse(
        "ARG V=1\nFROM --platform=$BUILDPLATFORM golang:${V} AS build\nRUN --mount=type=cache,target=/a --mount=type=secret,id=t go build\n"
        "FROM scratch\nCOPY --from=build --chown=1:1 --chmod=755 --link /app /app\n"
    )
    assert [i.keyword for i in doc.preamble] == ["ARG"]
    assert [(s.name, s.base, s.platform) for s in doc.stages] == [("build", "golang:${V}", "$BUILDPLATFORM"), (None, "scratch", None)]
    run = doc.stages[0].instructions[1]
    assert run.flag_values("mount") == ["type=cache,target=/a", "type=secret,id=t"]
    assert run.args == "go build"
    copy = doc.stages[1].instructions[1]
    assert [f.name for f in copy.flags] == ["from", "chown", "chmod", "link"]
    assert copy.flag("link") is not None and copy.flag("link").value is None
    assert copy.words == ("/app", "/app")
    assert doc.stage_named("build") is doc.stages[0]


def test_onbuild_trigger_heredoc() -> None:
    doc = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN b\n")
    ob = doc.instructions[1]
    assert ob.onbuild is not None and [h.name for h in ob.onbuild.heredocs] == ["EOF"]
    assert (ob.start_line, ob.end_line) == (2, 4)


def test_exec_form_and_heredocs() -> None:
    doc = parse('FROM a\nCMD ["node", "app.js"]\nRUN <<EOF cat >/x && <<"B" cat\nhi $X\nEOF\nEOF2\nB\n')
    cmd = doc.instructions[1]
    assert cmd.json and cmd.exec_args == ("node", "app.js")
    run = doc.instructions[2]
    assert [(h.name, h.expand) for h in run.heredocs] == [("EOF", True), ("B", False)]
    assert run.heredocs[0].content == "hi $X\n"
    assert run.heredocs[1].content == "EOF2\n"


def test_continuation_logical_line_maps_back() -> None:
    text = "FROM a\nRUN apt-get update && \\\n  # a comment\n\n  apt-get install -y curl\n"
    doc = parse(text)
    run = doc.instructions[1]
    assert run.logical.text == "RUN apt-get update &&   apt-get install -y curl"
    assert [t.kind for t in run.inner_trivia] == ["comment", "blank"]
    i = run.logical.text.index("apt-get install")
    r = run.logical.physical(i, i + len("apt-get install"))
    assert text[r.start : r.end] == "apt-get install"


def test_invalid_input_raises_parse_error() -> None:
    with pytest.raises(ParseError):
        parse("FROM a\nRUN <<EOF\nno end\n")
    with pytest.raises(ParseError):
        parse('FROM a\nCMD ["a", 1]\n')
    with pytest.raises(ParseError):
        parse("# escape=x\nFROM a\n")


@settings(max_examples=300, deadline=None)
@given(dockerfiles())
def test_logical_offsets_map_each_character_back(text: str) -> None:
    # the logical line keeps one (start, offset) pair per physical piece, not one offset per character:
    # every character still maps to its own place, and only a line break separates two neighbours
    doc = parse(text)
    for ins in doc.walk():
        lg = ins.logical
        offs = lg.offsets
        assert len(offs) == len(lg.text)
        for i, off in enumerate(offs):
            assert text[off] == lg.text[i]
            assert lg.offset(i) == off
            if i:
                assert off > offs[i - 1]
                assert (off - offs[i - 1] > 1) == ("\n" in text[offs[i - 1] : off])
