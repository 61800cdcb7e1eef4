"""The shell model of RUN scripts: commands, chains, cwd, env, heredocs, exec form, edits."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockeropt.edits import Edit, apply_edits
from dockeropt.shell import analysis_script, heredoc_script, parse_script, run_script
from dockeropt.syntax import parse


def _run(src: str, n: int = 0):  # type: ignore[no-untyped-def]
    doc = parse(src)
    runs = [i for i in doc.instructions if i.keyword == "RUN"]
    return doc, runs[n]


def test_chains_and_operators() -> None:
    s = parse_script("set -e; apt-get update && apt-get install -y curl || echo failed; (cd /x && make)")
    assert s.ok
    assert [it.op_before for it in s.items] == [None, ";", "&&", "||", ";"]
    assert [c.name for c in s.commands] == ["set", "apt-get", "apt-get", "echo", "cd", "make"]
    assert s.set_e
    assert not s.only_and_chain()


def test_cd_changes_folder_for_later_commands_only_outside_subshells() -> None:
    s = parse_script("cd /app && npm ci && (cd web && npm ci) && npm run build && cd sub && ls")
    cwds = [(c.name, c.cwd) for c in s.commands]
    assert cwds == [("cd", None), ("npm", "/app"), ("cd", "/app"), ("npm", "/app/web"), ("npm", "/app"), ("cd", "/app"), ("ls", "/app/sub")]
    assert parse_script("cd $DIR && ls").commands[1].cwd == "?"


def test_sudo_env_prefixes_and_exports() -> None:
    s = parse_script("export PIP_CACHE_DIR=/c && FOO=1 sudo -E -u app pip install x && env A=b npm ci")
    pip = s.commands[1]
    assert pip.name == "pip" and pip.args == ["install", "x"]
    assert s.env_before(1) == {"PIP_CACHE_DIR": "/c", "FOO": "1"}
    assert s.commands[2].env_prefix == {"A": "b"}
    assert s.env_before(2)["A"] == "b"
    assert parse_script("export X=$Y; ls").env_before(1) == {"X": None}


def test_unparseable_scripts_are_not_ok() -> None:
    assert not parse_script("if then fi (").ok
    assert not parse_script("echo 'unterminated").ok


def test_glob_words_keep_their_pattern() -> None:
    s = parse_script("rm -rf /var/lib/apt/lists/* ~/.cache/pip \"$HOME\"/x")
    words = s.commands[0].argv
    assert words[2].value is None and words[2].pattern == "/var/lib/apt/lists/*"
    assert words[3].pattern == "~/.cache/pip"
    assert words[4].pattern is None


def test_backtick_escape_continuations_map_to_the_document() -> None:
    src = "# escape=`\nFROM debian\nRUN apt-get update && `\n    # note\n    apt-get install -y curl `\n  && echo \\\"hi\\\"\n"
    doc, ins = _run(src)
    rs = run_script(ins)
    assert rs is not None and rs.script.ok
    got = [rs.source(c.start, c.end, doc.text) for c in rs.script.commands]
    assert got == ["apt-get update", "apt-get install -y curl", 'echo \\"hi\\"']


def test_heredoc_run_is_not_ok_for_line_edits_but_body_is_modelled() -> None:
    src = "FROM debian\nRUN <<EOF\nset -e\napt-get update\napt-get install -y curl\nEOF\n"
    doc, ins = _run(src)
    rs = run_script(ins)
    assert rs is not None and not rs.script.ok
    hs = heredoc_script(ins, doc.text)
    assert hs is not None and hs.script.ok and hs.heredoc
    inst = hs.script.commands[2]
    r = hs.physical(inst.argv[1].start, inst.argv[1].end)
    assert doc.text[r.start : r.end] == "install"
    assert hs.script.set_e


def test_heredoc_with_other_interpreter_is_not_modelled() -> None:
    src = "FROM python\nRUN <<EOF\n#!/usr/bin/env python3\nprint('x')\nEOF\nRUN python3 <<EOF\nprint(1)\nEOF\n"
    doc = parse(src)
    runs = [i for i in doc.instructions if i.keyword == "RUN"]
    assert heredoc_script(runs[0], doc.text) is None
    assert heredoc_script(runs[1], doc.text) is None
    bash = parse("FROM debian\nRUN <<EOF\n#!/bin/bash\napt-get update\nEOF\n")
    assert heredoc_script(bash.instructions[1], bash.text) is not None


def test_exec_form_is_analysed_read_only() -> None:
    doc, ins = _run('FROM debian\nRUN ["sh", "-c", "apt-get update && apt-get install -y curl"]\nRUN ["pip", "install", "x"]\n')
    assert run_script(ins) is None
    s = analysis_script(ins)
    assert s is not None and [c.name for c in s.commands] == ["apt-get", "apt-get"]
    s2 = analysis_script(parse('FROM x\nRUN ["pip", "install", "x"]\n').instructions[1])
    assert s2 is not None and s2.commands[0].name == "pip" and s2.commands[0].args == ["install", "x"]


def test_parse_is_shared() -> None:
    assert parse_script("apt-get update") is parse_script("apt-get update")


# --------------------------------------------------------------------------- edits through the model keep the rest intact

_WORDS = st.sampled_from(["apt-get", "install", "-y", "curl", "pip", "'a b'", '"x y"', "--flag=1", "/tmp/*", "a\\\"b", "$HOME", "ls"])
_OPS = st.sampled_from([" && ", " || ", "; ", " | "])


@st.composite
def _scripts(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 4))
    cmds = []
    for _ in range(n):
        words = [draw(st.sampled_from(["apt-get", "pip", "npm", "ls", "echo"]))] + draw(st.lists(_WORDS, max_size=4))
        cmds.append(" ".join(words))
    out = cmds[0]
    for c in cmds[1:]:
        op = draw(_OPS)
        out += op + c
    return out


@st.composite
def _dockerfiles(draw):  # type: ignore[no-untyped-def]
    escape = draw(st.sampled_from(["\\", "`"]))
    script = draw(_scripts())
    # break the script into physical lines at spaces, with continuations and comment lines between
    parts = script.split(" ")
    lines: list[str] = []
    cur: list[str] = []
    for p in parts:
        cur.append(p)
        if draw(st.booleans()) and draw(st.booleans()):
            lines.append(" ".join(cur))
            cur = []
    if cur:
        lines.append(" ".join(cur))
    body = ""
    for i, line in enumerate(lines):
        body += line
        if i < len(lines) - 1:
            body += " " + escape + "\n"
            if draw(st.booleans()):
                body += "    # a comment inside the continuation\n"
            body += "    "
    head = "# escape=`\n" if escape == "`" else ""
    return head + "FROM debian\nRUN " + body + "\nCMD [\"x\"]\n"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_dockerfiles(), st.data())
def test_inserting_after_a_word_keeps_everything_else_byte_identical(src: str, data: st.DataObject) -> None:
    doc, ins = _run(src)
    rs = run_script(ins)
    assert rs is not None
    if not rs.script.ok or not rs.script.commands:
        return
    ci = data.draw(st.integers(0, len(rs.script.commands) - 1))
    cmd = rs.script.commands[ci]
    word = cmd.argv[0]
    at = rs.physical(word.start, word.end)
    assert doc.text[at.start : at.end] == word.text
    new = apply_edits(doc.text, [Edit.insert(at.end, " --zz")])
    assert new[: at.end] == doc.text[: at.end] and new[at.end + 5 :] == doc.text[at.end :]
    doc2, ins2 = _run(new)
    assert [t.text for t in ins2.inner_trivia] == [t.text for t in ins.inner_trivia]
    rs2 = run_script(ins2)
    assert rs2 is not None and rs2.script.ok
    old_words = [[w.text for w in c.argv] for c in rs.script.commands]
    new_words = [[w.text for w in c.argv] for c in rs2.script.commands]
    old_words[ci].insert(1, "--zz")
    assert new_words == old_words


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_dockerfiles(), st.data())
def test_deleting_a_word_keeps_everything_else_byte_identical(src: str, data: st.DataObject) -> None:
    doc, ins = _run(src)
    rs = run_script(ins)
    assert rs is not None
    if not rs.script.ok:
        return
    cands = [(i, j) for i, c in enumerate(rs.script.commands) for j in range(1, len(c.argv))]
    if not cands:
        return
    ci, wi = data.draw(st.sampled_from(cands))
    cmd = rs.script.commands[ci]
    prev, word = cmd.argv[wi - 1], cmd.argv[wi]
    r = rs.physical(prev.end, word.end)
    new = apply_edits(doc.text, [Edit.delete(r.start, r.end)])
    assert new == doc.text[: r.start] + doc.text[r.end :]
    doc2, ins2 = _run(new)
    rs2 = run_script(ins2)
    assert rs2 is not None and rs2.script.ok
    old_words = [[w.text for w in c.argv] for c in rs.script.commands]
    del old_words[ci][wi]
    assert [[w.text for w in c.argv] for c in rs2.script.commands] == old_words


# --------------------------------------------------------------------------- the fast path

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dockeropt.shell import _fast_parse, _tree_sitter_parse  # noqa: E402

_words = st.sampled_from([
    "apt-get", "install", "-y", "--no-install-recommends", "curl", "pkg1.2", "npm", "ci", "--omit=dev", "cd", "/app",
    "sub/dir", "..", "pip", "--user", "-r", "requirements.txt", "A=1", "PATH=/x:/y", "make", "go", "build", "-o",
    "./out", "x@1.0", "a,b", "%s", "c++", "-", "--", "=", "done", "export", "if", "x=", "user:group", "^1.2", "@scope/pkg@1", "x@1.0", ":x", "a:b", "1", "0.5",
    "-c", "x-y", "+x", "a=b=c", "B=", "%", ",",
])
_ops = st.sampled_from([" && ", " || ", "; ", ";", "&&", " ; ", "  &&  "])


def _joined_scripts(words: st.SearchStrategy[str], padded: bool) -> st.SearchStrategy[str]:
    """1-4 commands of 1-5 ``words`` joined by list operators (``padded``: with blanks around the whole)."""

    @st.composite
    def scripts(draw: st.DrawFn) -> str:
        parts = []
        for i in range(draw(st.integers(1, 4))):
            if i:
                parts.append(draw(_ops))
            parts.append(" ".join(draw(st.lists(words, min_size=1, max_size=5))))
        text = "".join(parts)
        if not padded:
            return text
        return draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " "]))

    return scripts()


def plain_scripts() -> st.SearchStrategy[str]:
    return _joined_scripts(_words, padded=True)


@settings(max_examples=600, deadline=None)
@given(plain_scripts())
def test_fast_path_gives_what_tree_sitter_gives(text: str) -> None:
    fast = _fast_parse(text)
    slow = _tree_sitter_parse(text)
    if fast is None:
        return  # not plain: the tree-sitter path handles it
    assert slow.ok, text
    assert fast == slow, text


def test_fast_path_takes_the_common_case() -> None:
    assert _fast_parse("apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists") is not None
    for text in ('echo "$X"', "a | b", "a > f", "if true; then x; fi", "rm -rf /x/*", "a\nb", "export A=1", "f() { x; }"):
        assert _fast_parse(text) is None, text


@pytest.mark.parametrize(("src", "expected"), [
    ("echo a > f 2>&1 >> 'g h' &> $X < in", [("echo", ("f", "g h", None))]),  # None: a path that expands something
    ("echo z 2>/dev/null >|k", [("echo", ("k",))]),
    ("ls >&2 && ls 2>&1 >&-", [("ls", ()), ("ls", ())]),  # descriptor copies and closes write no file
    ("echo a >& file", [("echo", ("file",))]),
    ("cat <<EOF > out\nx\nEOF", [("cat", ("out",))]),
    ("{ echo b; cat x; } > grp", [("echo", ("grp",)), ("cat", ("grp",))]),
    ("(cd x && tar c .) > out.tar", [("cd", ("out.tar",)), ("tar", ("out.tar",))]),
    # tree-sitter-bash hangs these redirects on the whole list or pipeline; the shell gives them to the last part
    ("x a && cat a > b 2>&1 && ls", [("x", ()), ("cat", ("b",)), ("ls", ())]),
    ("echo a | tee b > c", [("echo", ()), ("tee", ("c",))]),
    ("x && { y; z; } > f", [("x", ()), ("y", ("f",)), ("z", ("f",))]),
    ("a || b >> log; c", [("a", ()), ("b", ("log",)), ("c", ())]),
    ("echo plain", [("echo", ())]),
])
def test_output_redirects_name_the_files_they_write(src: str, expected: list[tuple[str, tuple[str | None, ...]]]) -> None:
    s = parse_script(src)
    assert s.ok
    assert [(c.name, c.writes_to) for c in s.commands] == expected


def test_fast_path_shares_repeated_commands_only_where_they_are_the_same() -> None:
    # dockeropt.shell._PLAIN_GROUPS: one Command for the same words at the same offset, index and folder
    a = _fast_parse("apt-get update && apt-get install -y a")
    b = _fast_parse("apt-get update && apt-get install -y b")
    assert a is not None and b is not None
    assert a.commands[0] is b.commands[0] and a.items[0] is b.items[0]
    assert a.commands[1] != b.commands[1]
    c = _fast_parse("cd /x && make")
    d = _fast_parse("cd /y && make")
    assert c is not None and d is not None
    assert (c.commands[1].cwd, d.commands[1].cwd) == ("/x", "/y")
    e = _fast_parse("make; make")
    f = _fast_parse("make && make")
    assert e is not None and f is not None
    assert (e.items[1].op_before, f.items[1].op_before) == (";", "&&")
    for got in (a, b, c, d, e, f):
        assert got == _tree_sitter_parse(got.text)


_glob_words = st.sampled_from([
    "rm", "-rf", "/var/lib/apt/lists/*", "*", "**", "*.txt", "a*b", "-*", "--x=*", "A=*", "x=*", "==", "=", "ls", "cd",
    "/tmp/*", "apt-get", "install", "-y", "curl", "A=1", "./*", "pkg-*", "export", "if", "x@1",
])


def globbed_scripts() -> st.SearchStrategy[str]:
    return _joined_scripts(_glob_words, padded=False)


@settings(max_examples=600, deadline=None)
@given(globbed_scripts())
def test_globbed_fast_path_gives_what_tree_sitter_gives(text: str) -> None:
    from dockeropt.shell import _fast_parse_globbed

    fast = _fast_parse_globbed(text)
    if fast is None:
        return  # a glob where tree-sitter reads it otherwise, or not plain: the tree-sitter path handles it
    slow = _tree_sitter_parse(text)
    assert slow.ok, text
    assert fast == slow, text


def test_globbed_fast_path_takes_the_apt_cleanup() -> None:
    from dockeropt.shell import _fast_parse_globbed, parse_script

    text = "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"
    got = _fast_parse_globbed(text)
    assert got is not None and got == _tree_sitter_parse(text) == parse_script(text)
    assert got.commands[2].argv[2].value is None  # a glob: not a literal path
    for text in ("ls *", "A=* ls", "x* a", "[ a == * ]", "a == *"):
        assert _fast_parse_globbed(text) is None or _fast_parse_globbed(text) == _tree_sitter_parse(text), text
    assert _fast_parse_globbed("A=* ls") is None and _fast_parse_globbed("x* a") is None
