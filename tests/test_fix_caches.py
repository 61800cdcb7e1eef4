"""The fix loop's speed-ups give exactly what the plain computation gives (issue 10, linear time).

* BuildKit's verdict on a text is assembled from pieces parsed earlier (``_buildkit_parse_chunked``);
  it must equal one parse of the whole text: the same commands, lines and error;
* our parser copies instructions whose lines it parsed before (``syntax._BLOCKS``), moved to their new
  offsets and lines: the tree must equal a fresh parse, node for node.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockeropt import oracle, syntax
from harness import ROOT, count_classifications
from strategies import dockerfiles

CORPUS = sorted(p for p in (ROOT / "corpus").glob("**/Dockerfile*") if p.is_file() and not p.name.endswith(".dockerignore"))

# lines that end, continue or break instructions, or could be read as directives, comments or heredocs
_LINES = [
    "FROM alpine:3.19", "FROM node:20 AS build", "RUN echo a", "RUN echo a \\", "RUN echo a \\  ", "RUN echo a \\\t",
    "  && echo b", "echo c", "# a comment", "  # indented comment", "#escape=`", "# escape=\\", "# syntax=x/y",
    "", "   ", "\t", "RUN [\"echo\", \"x\"]", "RUN [1]", "CMD [\"a\"", "COPY <<EOF /x", "EOF", "RUN <<-E cat", "\tE",
    "ENV A=1 \\", "  B=2", "LABEL x", "ONBUILD RUN echo \\", "weird words", "\ufeffFROM a", "RUN x `", "`",
    "RUN --mount=type=cache,target=/x echo", "RUN echo \\\\", "HEALTHCHECK CMD [\"x\"]", "\\", "a\\", "\x0b", "\x1c#x",
]


@st.composite
def line_soup(draw) -> str:
    lines = draw(st.lists(st.sampled_from(_LINES), min_size=1, max_size=14))
    sep = draw(st.sampled_from(["\n", "\r\n"]))
    end = draw(st.sampled_from(["", sep]))
    return sep.join(lines) + end


def _same(text: str) -> None:
    oracle._BK_CHUNKS.clear()
    whole = oracle._buildkit_parse_whole(text)
    assert oracle._buildkit_parse_chunked(text) == whole  # nothing cached: the pieces go in one batch
    assert oracle._buildkit_parse_chunked(text) == whole  # every piece cached


def _same_after_edit(before: str, after: str) -> None:
    oracle._BK_CHUNKS.clear()
    oracle._buildkit_parse_chunked(before)
    assert oracle._buildkit_parse_chunked(after) == oracle._buildkit_parse_whole(after)


def test_corpus() -> None:
    for path in CORPUS:
        _same(path.read_bytes().decode("utf-8"))


def test_big_generated_file_is_cut_into_pieces() -> None:
    text = "FROM a\n" + "".join(f"RUN echo {i}\n" for i in range(50))
    pieces = oracle._bk_pieces(text)
    assert pieces is not None and len(pieces) == 51
    assert "".join(p for _, p in pieces) == text
    _same(text)
    _same_after_edit(text, text.replace("RUN echo 7\n", "RUN echo seven \\\n  && echo 7\n"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfiles())
def test_generated_dockerfiles(text: str) -> None:
    _same(text)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line_soup())
def test_line_soup_valid_or_not(text: str) -> None:
    _same(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line_soup(), line_soup())
def test_after_an_edit(before: str, after: str) -> None:
    # the second text shares pieces with the first (and with nothing else)
    _same_after_edit(before, before + after)
    _same_after_edit(before + after, after + before)


def test_pieces_rejoin_to_the_text() -> None:
    for path in CORPUS[:20]:
        text = path.read_bytes().decode("utf-8")
        pieces = oracle._bk_pieces(text)
        if pieces is not None:
            assert "".join(p for _, p in pieces) == text
            assert [first for first, _ in pieces] == sorted({first for first, _ in pieces})


def _same_tree(text: str, *before: str) -> None:
    syntax._BLOCKS.clear()
    for b in before:
        try:
            syntax.parse(b)
        except syntax.ParseError:
            pass
    try:
        fresh = syntax.parse(text, reuse=False)
    except syntax.ParseError as exc:
        try:
            syntax.parse(text)
        except syntax.ParseError as again:
            assert str(again) == str(exc)
            return
        raise AssertionError("the reusing parser accepted what a fresh parse rejects") from None
    for _ in range(2):  # first with what ``before`` left, then with every block of ``text`` known
        reused = syntax.parse(text)
        assert reused == fresh
        assert [i.words for i in reused.instructions] == [i.words for i in fresh.instructions]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfiles(), st.sampled_from(["", "\n", "# c\n", "FROM x\n", "RUN a \\\n b\n\n", "\ufeff"]))
def test_tree_reuse_on_generated_dockerfiles(text: str, prefix: str) -> None:
    # the same instructions at other offsets and lines (a prefix moves them), after the text itself was seen
    _same_tree(prefix + text, text)
    _same_tree(text, prefix + text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line_soup(), line_soup())
def test_tree_reuse_on_line_soup(before: str, after: str) -> None:
    _same_tree(before + after, after, before)
    _same_tree(after + "\n" + before, before + after)


# --------------------------------------------------------------------------- RUN classifications and the context


def _yarn_model(folder, monkeypatch):  # type: ignore[no-untyped-def]
    import dockeropt.model as model
    from dockeropt.context import BuildContext

    calls = count_classifications(monkeypatch)
    # a folder of its own: RUN classifications are cached per process, and another test may have classified
    # the same RUN in the same kind of context already
    text = f"FROM node:20\nWORKDIR /app-{folder.name}\nCOPY . .\nRUN yarn install\n"
    m = model.ImageModel.build(syntax.parse(text), BuildContext(folder), None)
    run = m.run(m.doc.instructions[3])
    assert run is not None
    return calls, run.actions[0].tool


def test_a_classification_is_reused_in_a_new_context_that_answers_the_same(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "package.json").write_text("{}")
    calls, first = _yarn_model(tmp_path, monkeypatch)
    n = len(calls)
    calls, again = _yarn_model(tmp_path, monkeypatch)  # another BuildContext of the same folder (the LSP, every version)
    assert len(calls) == 0 and again == first
    assert n == 1


def test_a_classification_is_made_again_when_the_context_answers_otherwise(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "package.json").write_text("{}")
    _, before = _yarn_model(tmp_path, monkeypatch)
    (tmp_path / ".yarnrc.yml").write_text("nodeLinker: node-modules\n")  # yarn berry: another variant
    calls, after = _yarn_model(tmp_path, monkeypatch)
    assert len(calls) == 1
    assert (before, after) == ("yarn-classic", "yarn-berry")
    assert after == _fresh_tool(tmp_path)  # what a classification from scratch says


def _fresh_tool(folder) -> str:  # type: ignore[no-untyped-def]
    import dockeropt.model as model
    from dockeropt.context import BuildContext

    saved = dict(model._RUN_CACHE)
    model._RUN_CACHE.clear()
    try:
        m = model.ImageModel.build(syntax.parse("FROM node:20\nWORKDIR /app\nCOPY . .\nRUN yarn install\n"),
                                   BuildContext(folder), None)
        run = m.run(m.doc.instructions[3])
        assert run is not None
        return run.actions[0].tool
    finally:
        model._RUN_CACHE.update(saved)


# --------------------------------------------------------------------------- lookups memoised on the image model

class _Forgetful(dict):  # type: ignore[type-arg]
    """A memo that never remembers: every lookup is computed afresh."""

    def __contains__(self, key: object) -> bool:
        return False

    def __setitem__(self, key: object, value: object) -> None:
        pass


def _fix_all(paths, monkeypatch=None):  # type: ignore[no-untyped-def]
    from dockeropt.pipeline import InputError
    from harness import run_fix

    out = []
    for path in paths:
        text = path.read_bytes().decode("utf-8")
        folder = path.with_name(path.name.removesuffix(".Dockerfile") + ".context")
        context = folder if folder.is_dir() else (path.parent if "corpus" in path.parts else None)
        try:
            r = run_fix(text, context=context, path=path if context is not None else None)
        except InputError as exc:
            out.append(str(exc))
            continue
        out.append((r.fixed, [(c.rule_id, c.line, c.title, c.explanation, c.range) for c in r.applied],
                    [(c.rule_id, c.line, c.title, c.explanation, c.range, c.notes) for c in r.notes],
                    sorted(r.files.items()), r.errors, r.iterations))
    return out


GOLDENS = sorted(p for p in (ROOT / "tests" / "fixtures").glob("*/*.Dockerfile") if not p.name.endswith(".fixed.Dockerfile"))


def test_model_lookups_memo_changes_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``ImageModel._lookups`` (context_copy) gives what computing every lookup afresh gives, on every golden and corpus file."""
    import dockeropt.model as model

    paths = GOLDENS + CORPUS
    memoised = _fix_all(paths)
    real_build = model.ImageModel.build.__func__

    def build(cls, *a, **k):  # type: ignore[no-untyped-def]
        m = real_build(cls, *a, **k)
        m._lookups = _Forgetful()
        return m

    monkeypatch.setattr(model.ImageModel, "build", classmethod(build))
    fresh = _fix_all(paths)
    assert len(fresh) == len(paths)
    for path, a, b in zip(paths, memoised, fresh):
        assert a == b, path


def test_context_copy_memo_tells_positions_and_stages_apart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dockeropt.context import BuildContext
    from dockeropt.model import ImageModel
    from dockeropt.model.project import context_file
    from dockeropt.syntax import parse

    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "b.json").write_text("{}")
    doc = parse("FROM node:20 AS a\nWORKDIR /app\nRUN true\nCOPY package.json .\nRUN npm ci\n"
                "FROM node:20\nWORKDIR /app\nCOPY b.json package.json\nRUN npm ci\n")
    m = ImageModel.build(doc, BuildContext(tmp_path))
    body = [ins for st in doc.stages for ins in st.body]
    early, late, other = body[1], body[3], body[6]
    for _ in range(2):  # asked again: the memo answers
        assert context_file(m, early, "/app/package.json") is None
        assert context_file(m, late, "/app/package.json") == "package.json"
        assert context_file(m, other, "/app/package.json") == "b.json"
