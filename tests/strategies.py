"""Hypothesis strategies that generate Dockerfile *text*.

The generated text exercises the syntax BuildKit's parser understands: parser
directives (syntax / escape / check), the backslash or backtick escape char,
random-case keywords, flags, exec (JSON) and shell forms, line continuations
with interleaved comment and blank lines (and trailing whitespace after the
escape char), heredocs (``<<EOF``, ``<<-EOF`` with tab-indented bodies,
quoted names, two on one line, ``COPY <<EOF``), comments, blank lines,
ONBUILD, unknown instructions, LF / CRLF / mixed line endings, an optional
UTF-8 BOM and an optional missing final newline.

Every text produced by :func:`dockerfiles` is accepted by BuildKit's parser
(``dockerfile.parse_string``); ``tests/test_strategies_selfcheck.py`` checks that.

Rules the generator follows so that the parser never rejects its output:

* the escape directive, if any, is on one of the very first lines, before any
  blank line, comment or instruction; each directive appears at most once;
* ordinary comments never contain ``=`` (so they can't look like directives),
  and "fake" directives are only emitted where they are inert (after the first
  instruction, or after a blank line that ends the directive block);
* words never contain the escape char, ``<<``, quotes or spaces, so
  continuations are only where we put them;
* heredoc bodies never contain a line equal to the terminator, and the
  terminator line has no trailing whitespace;
* ENV / LABEL always get ``key=value`` pairs (a single bare argument is an error).
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

__all__ = ["dockerfiles", "keyword", "Ctx"]

BOM = "\ufeff"

# --------------------------------------------------------------------------- atoms

_WORD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_."
words = st.text(_WORD_CHARS, min_size=1, max_size=8).filter(lambda w: w.strip(".") != "")
# an ENV/LABEL key that starts with "--" is a builder flag to BuildKit, not a key
keys = words.filter(lambda w: not w.startswith("--"))
images = st.sampled_from(
    [
        "alpine:3.19",
        "debian:bookworm-slim",
        "node:20-slim",
        "python:3.12",
        "golang:1.22",
        "ubuntu",
        "scratch",
        "busybox:1.36",
        "distroless/static-debian12:nonroot",
    ]
)
unix_paths = st.sampled_from(
    ["/app", "/usr/src/app", "/opt/tool", "/etc/conf.d/app.conf", "/tmp/x", ".", "./", "src/", "dist"]
)
win_paths = st.sampled_from(["C:\\app", "C:\\src\\", "C:\\Program Files\\x", "c:/tools", "."])
stage_names = st.sampled_from(["build", "deps", "base", "runtime", "test", "final", "Builder"])
ports = st.sampled_from(["80", "443", "8080", "3000/tcp", "53/udp", "9000"])
signals = st.sampled_from(["SIGTERM", "SIGQUIT", "SIGINT", "9", "SIGRTMIN+3"])
comment_text = st.text("abcdefghijklmnopqrstuvwxyz ABC0123456789-_.,:;!?()[]{}/#`\\'\"", max_size=30)
spaces = st.text(" \t", max_size=3)

_KEYWORDS = [
    "FROM",
    "RUN",
    "CMD",
    "ENTRYPOINT",
    "SHELL",
    "COPY",
    "ADD",
    "ENV",
    "ARG",
    "LABEL",
    "EXPOSE",
    "VOLUME",
    "WORKDIR",
    "USER",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "ONBUILD",
    "MAINTAINER",
]


@st.composite
def keyword(draw, name: str) -> str:
    """`name` in upper, lower, title or random case."""
    style = draw(st.sampled_from(["upper", "upper", "upper", "lower", "title", "random"]))
    if style == "upper":
        return name.upper()
    if style == "lower":
        return name.lower()
    if style == "title":
        return name.title()
    return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)


class Ctx:
    """Per-file generation settings."""

    def __init__(self, escape: str):
        self.escape = escape
        self.paths = win_paths if escape == "`" else unix_paths


# A logical instruction is described by a list of "tokens" (the text between
# which a continuation may be inserted) plus optional heredoc bodies, emitted
# as physical lines after the instruction line.
class Instr:
    def __init__(self, tokens, heredocs=(), splittable=True):
        self.tokens = list(tokens)
        self.heredocs = list(heredocs)  # list of lists of physical lines
        self.splittable = splittable and not heredocs


def exec_form(args) -> list[str]:
    """JSON array split into space-separated tokens (args contain no spaces)."""
    return json.dumps(list(args)).split(" ")


# --------------------------------------------------------------------------- flags

flag_from = stage_names.map(lambda s: f"--from={s}") | st.just("--from=alpine:3.19")
flag_chown = st.sampled_from(["--chown=1000:1000", "--chown=app", "--chown=app:app", "--chown=$UID"])
flag_chmod = st.sampled_from(["--chmod=0755", "--chmod=644", "--chmod=u+x"])
flag_link = st.sampled_from(["--link", "--link=true", "--link=false"])
flag_mount = st.sampled_from(
    [
        "--mount=type=cache,target=/root/.cache",
        "--mount=type=cache,id=npm,target=/root/.npm,sharing=locked",
        "--mount=type=bind,source=go.sum,target=go.sum",
        "--mount=type=bind,target=.",
        "--mount=type=secret,id=token,target=/run/secrets/token",
        "--mount=type=ssh",
        "--mount=type=tmpfs,target=/tmp",
    ]
)
flag_network = st.sampled_from(["--network=none", "--network=host", "--network=default"])
flag_security = st.sampled_from(["--security=insecure", "--security=sandbox"])
flag_exclude = st.sampled_from(["--exclude=*.md", "--exclude=**/node_modules", "--exclude=tests/"])
flag_checksum = st.just("--checksum=sha256:" + "0123456789abcdef" * 4)
flag_platform = st.sampled_from(["--platform=$BUILDPLATFORM", "--platform=linux/amd64", "--platform=${TARGETPLATFORM}"])
health_flags = st.sampled_from(
    ["--interval=30s", "--timeout=5s", "--start-period=10s", "--retries=3", "--start-interval=2s"]
)


def some(flag_strategy, max_size=2):
    return st.lists(flag_strategy, max_size=max_size)


# --------------------------------------------------------------------------- heredocs

HEREDOC_NAMES = ["EOF", "EOT", "END", "SCRIPT", "CONF", "A", "B", "PY"]
body_line = st.one_of(
    words,
    st.lists(words, min_size=1, max_size=5).map(" ".join),
    st.sampled_from(
        [
            "set -eux",
            'echo "$HOME"',
            "x = 1  # not a comment marker issue",
            "line ending with a backslash \\",
            "line ending with a backtick `",
            "FROM inside a heredoc is just text",
            "",
            "  indented",
            "<<NOTAHEREDOC",
        ]
    ),
)


@st.composite
def heredoc(draw, name: str):
    """Return (marker, body_lines) for a heredoc terminated by `name`."""
    dash = draw(st.booleans())
    quote = draw(st.sampled_from(["", "", "'", '"']))
    marker = "<<" + ("-" if dash else "") + quote + name + quote
    lines = draw(st.lists(body_line, max_size=4))
    if dash:
        lines = [draw(st.sampled_from(["\t", "\t\t", ""])) + ln for ln in lines]
        terminator = draw(st.sampled_from(["\t", "\t\t", ""])) + name
    else:
        terminator = name
    lines = [ln for ln in lines if ln.lstrip("\t") != name]
    return marker, lines + [terminator]


@st.composite
def heredoc_run(draw, ctx: Ctx):
    flags = draw(some(flag_mount | flag_network))
    if draw(st.integers(0, 3)) == 0:  # two heredocs on one line
        m1, b1 = draw(heredoc("A"))
        m2, b2 = draw(heredoc("B"))
        tokens = [draw(keyword("RUN")), *flags, m1, "cat", ">/tmp/a", "&&", "cat", m2, ">/tmp/b"]
        return Instr(tokens, [b1, b2])
    name = draw(st.sampled_from(HEREDOC_NAMES))
    marker, body = draw(heredoc(name))
    prog = draw(st.sampled_from([[], ["bash"], ["sh", "-e"], ["python3"]]))
    if prog and draw(st.booleans()):
        tokens = [draw(keyword("RUN")), *flags, *prog, marker]
    else:
        tokens = [draw(keyword("RUN")), *flags, marker, *prog]
    return Instr(tokens, [body])


@st.composite
def heredoc_copy(draw, ctx: Ctx):
    name = draw(st.sampled_from(HEREDOC_NAMES))
    marker, body = draw(heredoc(name))
    kw = draw(st.sampled_from(["COPY", "COPY", "ADD"]))
    flags = draw(some(flag_chmod | flag_chown | flag_link))
    return Instr([draw(keyword(kw)), *flags, marker, draw(unix_paths)], [body])


# --------------------------------------------------------------------------- instructions

shell_cmd = st.lists(
    words | st.sampled_from(["&&", "||", "|", ";", ">", "2>&1", "$HOME", "${X:-y}", "#notacomment", "--flag=value"]),
    min_size=1,
    max_size=8,
).filter(lambda t: t[0] not in ("&&", "||", "|", ";"))


@st.composite
def cmd_args(draw):
    """Shell form (list of tokens) or exec form."""
    args = draw(st.lists(words, min_size=1, max_size=4))
    if draw(st.booleans()):
        return exec_form(args)
    return args


@st.composite
def instr_from(draw, ctx: Ctx):
    tokens = [draw(keyword("FROM")), *draw(some(flag_platform, 1)), draw(images)]
    if draw(st.booleans()):
        tokens += [draw(st.sampled_from(["AS", "as", "As"])), draw(stage_names)]
    return Instr(tokens)


@st.composite
def instr_run(draw, ctx: Ctx):
    flags = draw(some(flag_mount | flag_network | flag_security, 3))
    if draw(st.integers(0, 4)) == 0:
        return Instr([draw(keyword("RUN")), *flags, *exec_form(draw(st.lists(words, min_size=1, max_size=4)))])
    return Instr([draw(keyword("RUN")), *flags, *draw(shell_cmd)])


@st.composite
def instr_simple_cmd(draw, ctx: Ctx):
    kw = draw(st.sampled_from(["CMD", "ENTRYPOINT"]))
    return Instr([draw(keyword(kw)), *draw(cmd_args())])


@st.composite
def instr_shell(draw, ctx: Ctx):
    if draw(st.integers(0, 5)) == 0:  # shell form: accepted by the parser, not by the builder
        return Instr([draw(keyword("SHELL")), "/bin/sh", "-c"])
    shell = draw(
        st.sampled_from(
            [["/bin/bash", "-o", "pipefail", "-c"], ["/bin/sh", "-c"], ["powershell", "-Command"], ["cmd", "/S", "/C"]]
        )
    )
    return Instr([draw(keyword("SHELL")), *exec_form(shell)])


@st.composite
def instr_copy(draw, ctx: Ctx):
    kw = draw(st.sampled_from(["COPY", "ADD"]))
    pool = [flag_chown, flag_chmod, flag_link]
    if kw == "COPY":
        pool += [flag_from, flag_exclude, st.just("--parents")]
    else:
        pool += [flag_checksum, st.just("--keep-git-dir=true")]
    flags = draw(st.lists(st.one_of(pool), max_size=3))
    srcs = draw(st.lists(ctx.paths | words, min_size=1, max_size=3))
    dest = draw(ctx.paths)
    if draw(st.integers(0, 5)) == 0:
        return Instr([draw(keyword(kw)), *flags, *exec_form(srcs + [dest])])
    return Instr([draw(keyword(kw)), *flags, *srcs, dest])


@st.composite
def key_values(draw, min_size=1):
    pairs = draw(
        st.lists(st.tuples(keys, words | st.just('"quoted value"') | st.just("")), min_size=min_size, max_size=3)
    )
    return [f"{k}={v}" for k, v in pairs]


@st.composite
def instr_env_label(draw, ctx: Ctx):
    kw = draw(st.sampled_from(["ENV", "LABEL"]))
    if kw == "ENV" and draw(st.integers(0, 4)) == 0:  # legacy `ENV key value`
        return Instr([draw(keyword("ENV")), draw(keys), *draw(st.lists(words, min_size=1, max_size=3))])
    return Instr([draw(keyword(kw)), *draw(key_values())])


@st.composite
def instr_arg(draw, ctx: Ctx):
    name = draw(st.sampled_from(["VERSION", "TARGETARCH", "BUILDPLATFORM", "UID", "node_env"]))
    if draw(st.booleans()):
        name += "=" + draw(words)
    return Instr([draw(keyword("ARG")), name])


@st.composite
def instr_misc(draw, ctx: Ctx):
    kind = draw(st.sampled_from(["EXPOSE", "VOLUME", "WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"]))
    kw = draw(keyword(kind))
    if kind == "EXPOSE":
        return Instr([kw, *draw(st.lists(ports, min_size=1, max_size=4))])
    if kind == "VOLUME":
        vols = draw(st.lists(unix_paths, min_size=1, max_size=3))
        return Instr([kw, *(exec_form(vols) if draw(st.booleans()) else vols)])
    if kind == "WORKDIR":
        return Instr([kw, draw(ctx.paths)])
    if kind == "USER":
        return Instr([kw, draw(st.sampled_from(["app", "1000", "1000:1000", "nonroot:nonroot", "$UID"]))])
    if kind == "STOPSIGNAL":
        return Instr([kw, draw(signals)])
    return Instr([kw, "Jane", "Doe", "<jane@example.org>"])


@st.composite
def instr_healthcheck(draw, ctx: Ctx):
    kw = draw(keyword("HEALTHCHECK"))
    if draw(st.integers(0, 3)) == 0:
        return Instr([kw, draw(st.sampled_from(["NONE", "none"]))])
    flags = draw(st.lists(health_flags, max_size=4, unique=True))
    return Instr([kw, *flags, draw(keyword("CMD")), *draw(cmd_args())])


@st.composite
def instr_onbuild(draw, ctx: Ctx):
    inner = draw(
        st.one_of(instr_run(ctx), instr_copy(ctx), instr_env_label(ctx), instr_simple_cmd(ctx), instr_misc(ctx))
    )
    return Instr([draw(keyword("ONBUILD")), *inner.tokens])


@st.composite
def instr_unknown(draw, ctx: Ctx):
    name = draw(st.sampled_from(["FOO", "Bar", "frobnicate", "RUNX", "COPYY"]))
    return Instr([name, *draw(st.lists(words, max_size=3))])


def body_instruction(ctx: Ctx):
    return st.one_of(
        instr_run(ctx),
        instr_run(ctx),
        instr_copy(ctx),
        instr_copy(ctx),
        instr_simple_cmd(ctx),
        instr_shell(ctx),
        instr_env_label(ctx),
        instr_arg(ctx),
        instr_misc(ctx),
        instr_healthcheck(ctx),
        instr_onbuild(ctx),
        instr_unknown(ctx),
        heredoc_run(ctx),
        heredoc_copy(ctx),
    )


# --------------------------------------------------------------------------- layout


@st.composite
def comment_line(draw):
    # no "=" so that a comment can never be mistaken for a parser directive
    text = draw(comment_text).replace("=", "-")
    return draw(st.sampled_from(["", "  ", "\t"])) + "#" + draw(st.sampled_from(["", " "])) + text


blank_line = st.sampled_from(["", "", " ", "\t", "  \t "])


@st.composite
def physical_lines(draw, instr: Instr, ctx: Ctx) -> list[str]:
    """Render one instruction, maybe with continuations, plus heredoc bodies."""
    indent = draw(st.sampled_from(["", "", "", " ", "  ", "\t"]))
    tokens = instr.tokens
    lines: list[str] = []
    current = [tokens[0]]
    for tok in tokens[1:]:
        if instr.splittable and draw(st.integers(0, 3)) == 0:
            # BuildKit joins continuation lines without inserting whitespace, so keep a space
            # before the escape char or the tokens would be glued together ("FROMalpine").
            lines.append(" ".join(current) + draw(st.sampled_from([" ", "  ", "\t"])) + ctx.escape + draw(spaces))
            # interleave comment / blank lines inside the continuation
            for _ in range(draw(st.integers(0, 2))):
                lines.append(draw(comment_line() | blank_line))
            current = [draw(st.sampled_from(["", "  ", "    ", "\t"])) + tok]
        else:
            current.append(tok)
    lines.append(" ".join(current))
    lines[0] = indent + lines[0]
    for body in instr.heredocs:
        lines.extend(body)
    return lines


@st.composite
def directive_block(draw, escape: str) -> list[str]:
    """Parser directives at the very top of the file (each at most once)."""
    candidates, check = [], []
    if draw(st.booleans()):
        candidates.append(
            "syntax="
            + draw(st.sampled_from(["docker/dockerfile:1", "docker/dockerfile:1.7-labs", "docker/dockerfile:1.4"]))
        )
    if escape == "`" or draw(st.integers(0, 3)) == 0:
        candidates.append("escape=" + escape)
    if draw(st.integers(0, 3)) == 0:
        check.append(
            "check="
            + draw(
                st.sampled_from(
                    [
                        "skip=JSONArgsRecommended",
                        "skip=all",
                        "error=true",
                        "skip=StageNameCasing,FromAsCasing;error=true",
                    ]
                )
            )
        )
    # `check` goes last: the BuildKit parser bundled with the `dockerfile` package predates the
    # check directive, treats it as an unknown directive and stops reading directives there,
    # so an `# escape=` after it would be silently ignored.
    order = draw(st.permutations(candidates)) + check
    out = []
    for d in order:
        key, value = d.split("=", 1)
        key = draw(st.sampled_from([key, key.upper()]))
        sep = draw(st.sampled_from(["=", "=", " = "]))
        out.append("#" + draw(st.sampled_from([" ", "", "  "])) + key + sep + value)
    return out


FAKE_DIRECTIVES = ["# escape=`", "# escape=\\", "# syntax=docker/dockerfile:1", "# check=skip=all"]


@st.composite
def dockerfiles(draw) -> str:
    """Strategy producing Dockerfile text that BuildKit's parser accepts."""
    escape = draw(st.sampled_from(["\\", "\\", "`"]))
    ctx = Ctx(escape)

    lines: list[str] = draw(directive_block(escape))
    if draw(st.integers(0, 4)) == 0:
        # a blank line ends the directive block; what follows only looks like a directive
        lines += ["", draw(st.sampled_from(FAKE_DIRECTIVES))]
    lines += draw(st.lists(comment_line() | blank_line, max_size=3))

    # global ARGs, then one or more stages
    for _ in range(draw(st.integers(0, 2))):
        lines += draw(physical_lines(draw(instr_arg(ctx)), ctx))
    first = True
    for _ in range(draw(st.integers(1, 3))):
        lines += draw(physical_lines(draw(instr_from(ctx)), ctx))
        if first and draw(st.integers(0, 5)) == 0:
            # after an instruction nothing is a directive any more
            lines.append(draw(st.sampled_from(FAKE_DIRECTIVES)))
        first = False
        for _ in range(draw(st.integers(0, 6))):
            for _ in range(draw(st.integers(0, 1))):
                lines.append(draw(comment_line() | blank_line))
            lines += draw(physical_lines(draw(body_instruction(ctx)), ctx))

    eol = draw(st.sampled_from(["\n", "\n", "\r\n", "mixed"]))
    if eol == "mixed":
        text = "".join(ln + draw(st.sampled_from(["\n", "\r\n"])) for ln in lines)
    else:
        text = eol.join(lines) + eol
    if draw(st.integers(0, 4)) == 0:
        text = text.rstrip("\r\n")  # no final newline
    if draw(st.integers(0, 4)) == 0:
        text = BOM + text
    return text
