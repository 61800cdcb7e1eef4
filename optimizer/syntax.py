"""A lossless Dockerfile syntax tree.

The parser follows BuildKit's own line parser (``frontend/dockerfile/parser``)
rule for rule: parser directives, the escape character, continuation lines
with comment and blank lines inside them, builder flags, JSON (exec) form,
heredocs and ONBUILD.  Every node records the exact slice of the text it
came from, so ``unparse(parse(text)) == text`` for every input.

Nodes are frozen: passes read the tree and return text edits; they never
mutate it (see :mod:`dockeropt.edits`).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate

from dockeropt.source import LineIndex, TextRange

BOM = "\ufeff"

# Go's unicode.IsSpace for the characters BuildKit trims.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_DIRECTIVE_RE = re.compile(r"^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$")
_KNOWN_DIRECTIVES = frozenset({"escape", "syntax", "check"})
_SPLIT_WS = re.compile(r"[\t\v\f\r ]+")
_HEREDOC_RE = re.compile(r"^(\d*)<<(-?)([^<]*)$")

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)
_MAYBE_JSON = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "ADD", "COPY", "VOLUME"})
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})


class ParseError(ValueError):
    """The text is not a Dockerfile BuildKit would accept."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def go_lstrip(s: str) -> str:
    return s.lstrip(_GO_SPACE)


def go_strip(s: str) -> str:
    return s.strip(_GO_SPACE)


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class PhysicalLine:
    start: int  # offset of the first character
    content_end: int  # offset after the content, before "\r\n" / "\n"
    end: int  # offset after the line terminator
    number: int  # 1-based

    def content(self, text: str) -> str:
        return text[self.start : self.content_end]


@dataclass(frozen=True, slots=True)
class Trivia:
    """A comment, blank or directive line that is not part of an instruction."""

    kind: str  # "comment" | "blank" | "directive"
    range: TextRange  # the whole line including its terminator
    text: str
    line: int  # 1-based


@dataclass(frozen=True, slots=True)
class Directive:
    name: str  # lower-cased
    value: str
    range: TextRange
    line: int


@dataclass(frozen=True, slots=True)
class LogicalLine:
    """An instruction's line as BuildKit sees it: continuations joined.

    The text is made of pieces, each a contiguous slice of one physical line:
    piece ``k`` starts at logical index ``seg_starts[k]``, which is document
    offset ``seg_offsets[k]`` (empty pieces are left out). ``offset(i)`` is the
    document offset of ``text[i]``; ``end_offset`` is the offset just after the
    last character, so any logical slice maps back to a physical range.
    """

    text: str
    seg_starts: tuple[int, ...]
    seg_offsets: tuple[int, ...]
    end_offset: int

    def offset(self, i: int) -> int:
        """The document offset of ``text[i]`` (``0 <= i < len(text)``)."""
        starts = self.seg_starts
        k = 0 if len(starts) == 1 else bisect.bisect_right(starts, i) - 1
        return self.seg_offsets[k] + i - starts[k]

    @property
    def offsets(self) -> tuple[int, ...]:
        """The document offset of every character of ``text`` (built on demand)."""
        return tuple(self.offset(i) for i in range(len(self.text)))

    def physical(self, start: int, end: int) -> TextRange:
        """The document range covering logical ``text[start:end]``."""
        n = len(self.text)
        if start >= n:
            return TextRange(self.end_offset, self.end_offset)
        if len(self.seg_starts) == 1:  # one piece (no continuation): offsets are a shift of the logical ones
            shift = self.seg_offsets[0] - self.seg_starts[0]
            if end <= start:
                return TextRange(shift + start, shift + start)
            return TextRange(shift + start, shift + end if end <= n else self.end_offset)
        s = self.offset(start)
        if end <= start:
            return TextRange(s, s)
        e = self.offset(end - 1) + 1 if end <= len(self.text) else self.end_offset
        return TextRange(s, e)

    def is_contiguous(self, start: int, end: int) -> bool:
        """True when ``text[start:end]`` sits on one physical run (no continuation inside)."""
        if end - start <= 1:
            return True
        return self.offset(end - 1) - self.offset(start) == end - 1 - start


@dataclass(frozen=True, slots=True)
class Flag:
    """A builder flag such as ``--mount=type=cache,target=/root/.cache``."""

    name: str  # without the dashes
    value: str | None  # unquoted value after "=", None for a bare flag
    raw: str  # the flag as written (logical text)
    range: TextRange  # document range of the flag word
    logical_start: int
    logical_end: int


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    chomp: bool  # <<-
    expand: bool  # unquoted name: variables expand in the body
    fd: int
    content: str  # body as BuildKit reports it (each line + "\n")
    body_range: TextRange  # the body lines, including their terminators
    terminator_range: TextRange  # the terminator line, including its terminator


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case
    keyword_raw: str
    range: TextRange  # first character of the first line .. end of the last line's content
    full_range: TextRange  # whole physical lines, including the last line terminator
    start_line: int  # 1-based, as BuildKit reports
    end_line: int
    flags: tuple[Flag, ...]
    args: str  # logical text after keyword and flags, trimmed
    args_start: int  # logical offset of ``args`` in ``logical.text``
    logical: LogicalLine
    json: bool
    exec_args: tuple[str, ...] | None
    heredocs: tuple[Heredoc, ...]
    leading_trivia: tuple[Trivia, ...]
    inner_trivia: tuple[Trivia, ...]  # comment/blank lines inside a continuation
    text: str  # document text of ``full_range``
    index: int = -1  # position in Dockerfile.instructions
    stage_index: int = -1  # -1: before the first FROM
    onbuild: Instruction | None = None  # the trigger wrapped by ONBUILD

    @property
    def known(self) -> bool:
        return self.keyword in KNOWN_INSTRUCTIONS

    @property
    def args_range(self) -> TextRange:
        return self.logical.physical(self.args_start, self.args_start + len(self.args))

    def flag(self, name: str) -> Flag | None:
        for f in self.flags:
            if f.name == name:
                return f
        return None

    def flag_values(self, name: str) -> list[str]:
        return [f.value or "" for f in self.flags if f.name == name]

    @cached_property
    def words(self) -> tuple[str, ...]:
        """Arguments split the way BuildKit splits ADD/COPY/EXPOSE/VOLUME arguments."""
        if self.exec_args is not None:
            return self.exec_args
        stripped = go_strip(self.args)
        return tuple(_SPLIT_WS.split(stripped)) if stripped else ()

    @property
    def is_multiline(self) -> bool:
        return self.end_line > self.start_line

    def line_text(self) -> str:
        """The instruction's text without its trailing line terminator."""
        return self.text[: self.range.end - self.full_range.start]


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: str  # image reference as written (may contain ARG variables)
    platform: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]  # FROM first

    @property
    def body(self) -> tuple[Instruction, ...]:
        return self.instructions[1:]

    @property
    def label(self) -> str:
        return self.name if self.name else str(self.index)


@dataclass(frozen=True)
class Dockerfile:
    text: str
    bom: bool
    escape: str
    directives: tuple[Directive, ...]
    instructions: tuple[Instruction, ...]
    trailing_trivia: tuple[Trivia, ...]
    stages: tuple[Stage, ...] = field(default=())
    preamble: tuple[Instruction, ...] = field(default=())  # before the first FROM

    @cached_property
    def lines(self) -> LineIndex:
        return LineIndex(self.text)

    @cached_property
    def newline(self) -> str:
        """The file's dominant line terminator."""
        crlf = self.text.count("\r\n")
        lf = self.text.count("\n") - crlf
        return "\r\n" if crlf > lf else "\n"

    @property
    def ends_with_newline(self) -> bool:
        return self.text.endswith("\n")

    def directive(self, name: str) -> Directive | None:
        for d in self.directives:
            if d.name == name:
                return d
        return None

    @cached_property
    def _stage_names(self) -> dict[str, Stage]:
        out: dict[str, Stage] = {}
        for st in self.stages:
            if st.name is not None:
                out.setdefault(st.name.lower(), st)  # the first stage of a name wins
        return out

    def stage_named(self, ref: str) -> Stage | None:
        st = self._stage_names.get(ref.lower())
        if st is not None:
            return st
        if ref.isdigit():
            i = int(ref)
            if 0 <= i < len(self.stages):
                return self.stages[i]
        return None

    def walk(self) -> Iterator[Instruction]:
        """All instructions, ONBUILD triggers included (after their wrapper)."""
        for ins in self.instructions:
            yield ins
            if ins.onbuild is not None:
                yield ins.onbuild


# --------------------------------------------------------------------------- lexer


def _physical_lines(text: str, start: int) -> list[PhysicalLine]:
    lines: list[PhysicalLine] = []
    pos = start
    n = len(text)
    number = 1
    while pos < n:
        nl = text.find("\n", pos)
        if nl == -1:
            end = n
            content_end = n
        else:
            end = nl + 1
            content_end = nl
        if content_end > pos and text[content_end - 1] == "\r":
            content_end -= 1
        lines.append(PhysicalLine(pos, content_end, end, number))
        number += 1
        pos = end
    return lines


def _line_table(text: str, start: int) -> tuple[list[int], list[int], list[int], list[str]]:
    """What ``_physical_lines`` says, as lists: each line's start, content end and end offsets, and its content
    (without "\\r\\n" / "\\n"); made by str.split instead of a PhysicalLine per line."""
    parts = (text[start:] if start else text).split("\n")
    if parts[-1] == "":
        parts.pop()  # the text ends with a line terminator (or is empty)
    acc = list(accumulate([len(p) + 1 for p in parts], initial=start))
    starts = acc[:-1]
    ends = acc[1:]
    if ends and ends[-1] > len(text):
        ends[-1] = len(text)  # the last line has no terminator
    if "\r" in text:
        contents = [p[:-1] if p.endswith("\r") else p for p in parts]
    else:
        contents = parts
    content_ends = [s + len(c) for s, c in zip(starts, contents, strict=True)]
    return starts, content_ends, ends, contents


def _lex_words(s: str, raw: bool) -> tuple[list[str], int]:
    """Split words like BuildKit's shell lexer; returns (words, quote characters removed).

    ``raw`` keeps quotes and escapes as written (BuildKit's RawQuotes and
    RawEscapes, used to find heredoc words on a line); otherwise quotes are
    removed and escapes applied (used to cook a heredoc's name).
    """
    words: list[str] = []
    word: list[str] = []
    in_word = False
    removed = 0
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if ch in " \t\r\n":
            if in_word:
                words.append("".join(word))
                word = []
                in_word = False
            i += 1
            continue
        in_word = True
        if ch == "\\" and (raw or i + 1 < n):
            word.append(s[i : i + 2] if raw else s[i + 1])
            i += 2
            continue
        if ch in "'\"":
            j = i + 1
            buf: list[str] = []
            while j < n and s[j] != ch:
                if ch == '"' and s[j] == "\\" and j + 1 < n and (raw or s[j + 1] in '"\\$`'):
                    j += 1
                buf.append(s[j])
                j += 1
            if raw:
                word.append(s[i : j + 1])
            else:
                word.append("".join(buf))
                removed += 2
            i = j + 1
            continue
        word.append(ch)
        i += 1
    if in_word:
        words.append("".join(word))
    return words, removed


@dataclass(frozen=True, slots=True)
class _HeredocSpec:
    name: str
    chomp: bool
    expand: bool
    fd: int


def heredoc_specs(line: str) -> list[_HeredocSpec]:
    """The heredocs an instruction line opens, in order (BuildKit's heredocsFromLine)."""
    if "<<" not in line:
        return []
    specs: list[_HeredocSpec] = []
    for w in _lex_words(line, raw=True)[0]:
        m = _HEREDOC_RE.match(w)
        if not m:
            continue
        rest = m.group(3)
        if not rest:
            continue
        words, removed = _lex_words(rest, raw=False)
        if len(words) != 1:
            continue
        name = words[0]
        raw_quotes = rest.count("'") + rest.count('"')
        cooked_quotes = name.count("'") + name.count('"')
        # BuildKit compares quote counts of the cooked and raw word.
        expand = raw_quotes == cooked_quotes and removed == 0
        specs.append(_HeredocSpec(name, m.group(2) == "-", expand, int(m.group(1) or 0)))
    return specs


_PLAIN_FLAG_WORD = re.compile("[^" + re.escape(_GO_SPACE) + "'\"\\\\]*")


def _extract_flags(line: str) -> tuple[int, list[tuple[int, int, str]]]:
    """BuildKit's extractBuilderFlags, with positions.

    Returns the offset where the remaining arguments start and a list of
    ``(start, end, cooked_word)`` for each flag.
    """
    words: list[tuple[int, int, str]] = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos] in _GO_SPACE:
            pos += 1
        if pos >= n:
            return n, words
        if not (line[pos] == "-" and pos + 1 < n and line[pos + 1] == "-"):
            return pos, words
        start = pos
        plain = _PLAIN_FLAG_WORD.match(line, pos)
        end = plain.end()
        if end == n or line[end] in _GO_SPACE:  # no quotes or escapes: the word is as written
            pos = end
            cooked = line[start:end]
            if cooked == "--":
                while pos < n and line[pos] in _GO_SPACE:
                    pos += 1
                return pos, words
            words.append((start, pos, cooked))
            continue
        word: list[str] = []
        quote = ""
        blank_ok = False
        while pos < n:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                    pos += 1
                    continue
                if ch == "\\":
                    if pos + 1 == n:
                        pos += 1
                        quote = ""
                        continue
                    pos += 1
                    ch = line[pos]
                word.append(ch)
                pos += 1
                continue
            if ch in _GO_SPACE:
                break
            if ch in "'\"":
                quote = ch
                blank_ok = True
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word.append(ch)
            pos += 1
        cooked = "".join(word)
        if cooked == "--":
            # "--" ends the flags; the arguments start after it
            while pos < n and line[pos] in _GO_SPACE:
                pos += 1
            return pos, words
        if blank_ok or cooked:
            words.append((start, pos, cooked))


def _parse_json_array(rest: str) -> tuple[bool, tuple[str, ...] | None]:
    """(is_json, values). Raises ValueError for a JSON array of non-strings."""
    rest = go_lstrip(rest)
    if not rest.startswith("["):
        return False, None

    def _no_constants(_: str) -> object:
        raise ValueError("not JSON")

    try:
        value, _end = json.JSONDecoder(parse_constant=_no_constants).raw_decode(rest)
    except ValueError:
        return False, None
    if not isinstance(value, list):
        return False, None
    if not all(isinstance(v, str) for v in value):
        raise ValueError("Dockerfile JSON arrays must contain only strings")
    return True, tuple(value)


@dataclass
class _Header:
    keyword_raw: str
    keyword: str
    flags: list[tuple[int, int, str]]
    args_start: int
    args: str


def _split_command(line: str, base: int = 0) -> _Header:
    stripped_left = len(line) - len(go_lstrip(line))
    body = go_strip(line)
    m = _SPLIT_WS.search(body)
    if m is None:
        return _Header(body, body.upper(), [], base + stripped_left + len(body), "")
    kw = body[: m.start()]
    rest_start = stripped_left + m.end()
    rest = body[m.end() :]
    consumed, flags = _extract_flags(rest)
    args = rest[consumed:]
    flags = [(base + rest_start + s, base + rest_start + e, w) for s, e, w in flags]
    return _Header(kw, kw.upper(), flags, base + rest_start + consumed, args)


def _make_flags(logical: LogicalLine, raw: list[tuple[int, int, str]]) -> tuple[Flag, ...]:
    out = []
    for s, e, cooked in raw:
        body = cooked[2:]
        name, eq, value = body.partition("=")
        out.append(
            Flag(
                name=name.lower(),
                value=value if eq else None,
                raw=logical.text[s:e],
                range=logical.physical(s, e),
                logical_start=s,
                logical_end=e,
            )
        )
    return tuple(out)


def _exec_form(keyword: str, args: str, line_no: int) -> tuple[bool, tuple[str, ...] | None]:
    if keyword in _MAYBE_JSON:
        target = args
    elif keyword == "HEALTHCHECK":
        parts = _SPLIT_WS.split(go_strip(args), maxsplit=1)
        if len(parts) < 2:
            return False, None
        target = parts[1]
    else:
        return False, None
    try:
        return _parse_json_array(target)
    except ValueError as exc:
        raise ParseError(str(exc), line_no) from None


# An instruction's lines, parsed: (escape character, the text of its lines) -> an Instruction parsed from that
# text somewhere. The fix loop re-parses a file whose instructions mostly did not change, only moved; such an
# instruction is copied from here with its offsets and line numbers moved, instead of being parsed again.
# Heredocs (which read the lines after the instruction) and ONBUILD are always parsed.
_BLOCKS: dict[tuple[str, str], Instruction] = {}
# The same lines at the same place: (escape, text of its lines, offset) -> the last Instruction parsed or moved
# there. When it also has the same line number, position, stage and leading lines, the node itself is taken
# (nodes are immutable: every field would be equal). Unchanged instructions before an edit, and after an edit
# that keeps the length (the LSP re-analysing `EXPOSE 3001` for `EXPOSE 3000`), are not even moved.
_PLACED: dict[tuple[str, str, int], Instruction] = {}


def _same_place(got: Instruction, line: int, index: int, n_from: int, leading: list[Trivia]) -> bool:
    """Would ``got`` (the node last made from these lines at this offset) be made again here, field for field?"""
    return (got.start_line == line and got.index == index
            and got.stage_index == (n_from if got.keyword == "FROM" else n_from - 1)
            and len(got.leading_trivia) == len(leading) and (not leading or got.leading_trivia == tuple(leading)))


def _place(key: tuple[str, str, int], ins: Instruction) -> None:
    if len(_PLACED) > 100_000:
        _PLACED.clear()
    _PLACED[key] = ins


def _relocated(t: Instruction, start: int, line: int, leading: tuple[Trivia, ...], text: str) -> Instruction:
    """``t`` (parsed from the same lines) as if parsed at offset ``start``, line ``line``, after ``leading``."""
    d = start - t.full_range.start
    dl = line - t.start_line
    lg = t.logical
    if d:
        logical = LogicalLine(lg.text, lg.seg_starts, tuple(o + d for o in lg.seg_offsets), lg.end_offset + d)
        flags = tuple(
            Flag(f.name, f.value, f.raw, TextRange(f.range.start + d, f.range.end + d), f.logical_start, f.logical_end)
            for f in t.flags
        )
    else:
        logical, flags = lg, t.flags
    inner = t.inner_trivia
    if inner and (d or dl):
        inner = tuple(Trivia(v.kind, TextRange(v.range.start + d, v.range.end + d), v.text, v.line + dl) for v in inner)
    # the fields of ``t`` with the moved ones replaced: what Instruction(...) would make, without running its
    # frozen __init__ over all nineteen fields (this is the hot path of every re-parse); ``words`` (a cached
    # property of args and exec_args, which do not change) comes along when ``t`` has it
    new = _new_object(Instruction)
    fields = new.__dict__
    fields.update(t.__dict__)
    fields["range"] = TextRange(t.range.start + d, t.range.end + d)
    fields["full_range"] = TextRange(start, t.full_range.end + d)
    fields["start_line"] = line
    fields["end_line"] = t.end_line + dl
    fields["flags"] = flags
    fields["logical"] = logical
    fields["heredocs"] = ()
    fields["leading_trivia"] = leading
    fields["inner_trivia"] = inner
    fields["text"] = text
    fields["index"] = -1
    fields["stage_index"] = -1
    fields["onbuild"] = None
    return new


def _instruction(
    keyword: str, keyword_raw: str, range: TextRange, full_range: TextRange, start_line: int, end_line: int,
    flags: tuple[Flag, ...], args: str, args_start: int, logical: LogicalLine, json: bool,
    exec_args: tuple[str, ...] | None, heredocs: tuple[Heredoc, ...], leading_trivia: tuple[Trivia, ...],
    inner_trivia: tuple[Trivia, ...], text: str, index: int = -1, stage_index: int = -1,
    onbuild: Instruction | None = None,
) -> Instruction:
    """``Instruction(...)``, field for field, without its frozen __init__ (19 object.__setattr__ calls: 4.9 against
    2.1 us; the parser makes one per instruction)."""
    new = _new_object(Instruction)
    new.__dict__.update(
        keyword=keyword, keyword_raw=keyword_raw, range=range, full_range=full_range, start_line=start_line,
        end_line=end_line, flags=flags, args=args, args_start=args_start, logical=logical, json=json,
        exec_args=exec_args, heredocs=heredocs, leading_trivia=leading_trivia, inner_trivia=inner_trivia, text=text,
        index=index, stage_index=stage_index, onbuild=onbuild,
    )
    return new


_new_object = object.__new__


class _Parser:
    def __init__(self, text: str, reuse: bool = True) -> None:
        self.reuse = reuse
        self.text = text
        self.bom = text.startswith(BOM)
        self.starts, self.content_ends, self.ends, self.contents = _line_table(text, 1 if self.bom else 0)
        self.escape = "\\"
        self.directives: list[Directive] = []

    @property
    def lines(self) -> list[PhysicalLine]:
        return [PhysicalLine(s, c, e, k + 1)
                for k, (s, c, e) in enumerate(zip(self.starts, self.content_ends, self.ends, strict=True))]

    def _line(self, i: int) -> PhysicalLine:
        return PhysicalLine(self.starts[i], self.content_ends[i], self.ends[i], i + 1)

    def parse(self) -> Dockerfile:
        text = self.text
        starts, ends, contents = self.starts, self.ends, self.contents
        n_lines = len(starts)
        trivia: list[Trivia] = []
        i = 0
        # ---- parser directives
        seen: set[str] = set()
        while i < n_lines:
            content = go_lstrip(contents[i])
            m = _DIRECTIVE_RE.match(content)
            if not m or m.group(1).lower() not in _KNOWN_DIRECTIVES:
                break
            name = m.group(1).lower()
            if name in seen:
                raise ParseError(f"only one {name} parser directive can be used", i + 1)
            seen.add(name)
            value = m.group(2)
            if name == "escape":
                if value not in ("\\", "`"):
                    raise ParseError(f"invalid escape token '{value}' does not match ` or \\", i + 1)
                self.escape = value
            rng = TextRange(starts[i], ends[i])
            self.directives.append(Directive(name, value, rng, i + 1))
            trivia.append(Trivia("directive", rng, text[starts[i] : ends[i]], i + 1))
            i += 1
        cont_re = re.compile(re.escape(self.escape) + r"[ \t]*$")

        instructions: list[Instruction] = []
        escape = self.escape
        reuse = self.reuse
        n_from = 0  # FROM lines so far: the next instruction's stage is n_from - 1 (n_from for a FROM)
        while i < n_lines:
            raw = contents[i]
            stripped = raw.lstrip(_GO_SPACE)
            ln_start = starts[i]
            if stripped.startswith("#"):
                trivia.append(Trivia("comment", TextRange(ln_start, ends[i]), text[ln_start : ends[i]], i + 1))
                i += 1
                continue
            lead = len(raw) - len(stripped)
            m = cont_re.search(stripped) if escape in stripped else None
            first = stripped[: m.start()] if m else stripped
            if m is None and first == "":
                trivia.append(Trivia("blank", TextRange(ln_start, ends[i]), text[ln_start : ends[i]], i + 1))
                i += 1
                continue
            if m is None and reuse:  # one line: look it up before reading it
                block = text[ln_start : ends[i]]
                key = (escape, block, ln_start)
                got = _PLACED.get(key)
                if got is not None and _same_place(got, i + 1, len(instructions), n_from, trivia):
                    i += 1
                    instructions.append(got)
                    if got.keyword == "FROM":
                        n_from += 1
                    trivia = []
                    continue
                hit = _BLOCKS.get((escape, block))
                if hit is not None:
                    new = _relocated(hit, ln_start, i + 1, tuple(trivia), block)
                    i += 1
                    instructions.append(new)
                    if new.keyword == "FROM":
                        n_from += 1
                    _place(key, new)
                    trivia = []
                    continue
            # ---- an instruction starts here
            ln = self._line(i)
            chars: list[str] = [first]
            seg_starts: list[int] = [0] if first else []
            seg_offsets: list[int] = [ln.start + lead] if first else []
            n_chars = len(first)
            end_offset = ln.start + lead + len(first)
            inner: list[Trivia] = []
            at_end = m is None
            i += 1
            while not at_end and i < n_lines:
                craw = contents[i]
                cstart = starts[i]
                cstripped = go_lstrip(craw)
                if cstripped.startswith("#"):
                    inner.append(Trivia("comment", TextRange(cstart, ends[i]), text[cstart : ends[i]], i + 1))
                    i += 1
                    continue
                if cstripped == "":
                    inner.append(Trivia("blank", TextRange(cstart, ends[i]), text[cstart : ends[i]], i + 1))
                    i += 1
                    continue
                cm = cont_re.search(craw)
                piece = craw[: cm.start()] if cm else craw
                chars.append(piece)
                if piece:
                    seg_starts.append(n_chars)
                    seg_offsets.append(cstart)
                    n_chars += len(piece)
                end_offset = cstart + len(piece)
                at_end = cm is None
                i += 1
            last_line = self._line(i - 1)
            block = text[ln.start : last_line.end]
            if reuse and m is not None:
                key = (escape, block, ln.start)
                got = _PLACED.get(key)
                if got is not None and _same_place(got, ln.number, len(instructions), n_from, trivia):
                    instructions.append(got)
                    if got.keyword == "FROM":
                        n_from += 1
                    trivia = []
                    continue
            hit = _BLOCKS.get((escape, block)) if reuse else None
            if hit is not None:
                new = _relocated(hit, ln.start, ln.number, tuple(trivia), block)
                instructions.append(new)
                if new.keyword == "FROM":
                    n_from += 1
                if m is not None:
                    _place((escape, block, ln.start), new)
                trivia = []
                continue
            logical = LogicalLine("".join(chars), tuple(seg_starts), tuple(seg_offsets), end_offset)
            ins_start_line = ln.number
            header = _split_command(logical.text)
            flags = _make_flags(logical, header.flags)
            keyword = header.keyword
            is_json, exec_args = _exec_form(keyword, header.args, ins_start_line)
            onbuild: Instruction | None = None
            heredoc_keyword = keyword
            if keyword == "ONBUILD":
                # BuildKit's parser accepts any trigger; ONBUILD FROM etc. fail only when building
                heredoc_keyword = _split_command(header.args, header.args_start).keyword
            heredocs: list[Heredoc] = []
            if heredoc_keyword in _HEREDOC_KEYWORDS:
                for spec in heredoc_specs(logical.text):
                    body_start = starts[i] if i < n_lines else len(text)
                    content_parts: list[str] = []
                    terminated = False
                    while i < n_lines:
                        hl = self._line(i)
                        i += 1
                        candidate = hl.content(text)
                        if spec.chomp:
                            candidate = candidate.lstrip("\t")
                        if candidate == spec.name:
                            terminated = True
                            heredocs.append(
                                Heredoc(
                                    spec.name, spec.chomp, spec.expand, spec.fd, "".join(content_parts),
                                    TextRange(body_start, hl.start), TextRange(hl.start, hl.end),
                                )
                            )
                            break
                        content_parts.append(hl.content(text) + "\n")
                    if not terminated:
                        raise ParseError("unterminated heredoc", ins_start_line)
                last_line = self._line(i - 1)
            full = TextRange(ln.start, last_line.end)
            if keyword == "ONBUILD":
                onbuild = self._onbuild_trigger(logical, header, ins_start_line, last_line.number, tuple(heredocs))
                is_json, exec_args = onbuild.json, onbuild.exec_args  # BuildKit reports the trigger's form
            instructions.append(
                _instruction(
                    keyword=keyword,
                    keyword_raw=header.keyword_raw,
                    range=TextRange(ln.start, last_line.content_end),
                    full_range=full,
                    start_line=ins_start_line,
                    end_line=last_line.number,
                    flags=flags,
                    args=header.args,
                    args_start=header.args_start,
                    logical=logical,
                    json=is_json,
                    exec_args=exec_args,
                    heredocs=tuple(heredocs) if keyword != "ONBUILD" else (),
                    leading_trivia=tuple(trivia),
                    inner_trivia=tuple(inner),
                    text=text[full.start : full.end],
                    onbuild=onbuild,
                )
            )
            if keyword == "FROM":
                n_from += 1
            if reuse and not heredocs and onbuild is None:
                if len(_BLOCKS) > 100_000:
                    _BLOCKS.clear()
                _BLOCKS[(escape, block)] = instructions[-1]
                _place((escape, block, ln.start), instructions[-1])
            trivia = []
        return self._finish(instructions, tuple(trivia))

    def _onbuild_trigger(
        self, logical: LogicalLine, header: _Header, line: int, end_line: int, heredocs: tuple[Heredoc, ...]
    ) -> Instruction:
        sub = _split_command(header.args, header.args_start)
        flags = _make_flags(logical, sub.flags)
        is_json, exec_args = _exec_form(sub.keyword, sub.args, line)
        kw_start = header.args_start + (len(header.args) - len(go_lstrip(header.args)))
        rng = logical.physical(kw_start, len(logical.text))
        return Instruction(
            keyword=sub.keyword,
            keyword_raw=sub.keyword_raw,
            range=rng,
            full_range=rng,
            start_line=line,
            end_line=end_line,
            flags=flags,
            args=sub.args,
            args_start=sub.args_start,
            logical=logical,
            json=is_json,
            exec_args=exec_args,
            heredocs=heredocs,
            leading_trivia=(),
            inner_trivia=(),
            text=self.text[rng.start : rng.end],
        )

    def _finish(self, raw: list[Instruction], trailing: tuple[Trivia, ...]) -> Dockerfile:
        instructions: list[Instruction] = []
        stages: list[Stage] = []
        preamble: list[Instruction] = []
        current: list[Instruction] = []
        stage_index = -1
        for idx, ins in enumerate(raw):
            if ins.keyword == "FROM":
                if stage_index >= 0:
                    stages.append(_make_stage(stage_index, current))
                stage_index += 1
                current = []
            # the parser owns these new nodes until it returns them: set the positions in place
            if ins.index != idx or ins.stage_index != stage_index or ins.onbuild is not None:  # else: a placed node
                for node in (ins, ins.onbuild):
                    if node is not None:
                        object.__setattr__(node, "index", idx)
                        object.__setattr__(node, "stage_index", stage_index)
            instructions.append(ins)
            if stage_index < 0:
                preamble.append(ins)
            else:
                current.append(ins)
        if stage_index >= 0:
            stages.append(_make_stage(stage_index, current))
        return Dockerfile(
            text=self.text,
            bom=self.bom,
            escape=self.escape,
            directives=tuple(self.directives),
            instructions=tuple(instructions),
            trailing_trivia=trailing,
            stages=tuple(stages),
            preamble=tuple(preamble),
        )


def _make_stage(index: int, instructions: list[Instruction]) -> Stage:
    frm = instructions[0]
    words = frm.words
    base = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    platform = frm.flag("platform")
    return Stage(
        index=index,
        name=name,
        base=base,
        platform=platform.value if platform else None,
        from_instruction=frm,
        instructions=tuple(instructions),
    )


def parse(text: str, reuse: bool = True) -> Dockerfile:
    """Parse Dockerfile text into a lossless tree. Raises :class:`ParseError`.

    ``reuse=False`` parses every instruction afresh (the result is the same; tests compare the two).
    """
    return _Parser(text, reuse).parse()


def unparse(doc: Dockerfile) -> str:
    """Print the tree back: byte-identical to the parsed text."""
    parts: list[str] = [BOM] if doc.bom else []
    for ins in doc.instructions:
        parts.extend(t.text for t in ins.leading_trivia)
        parts.append(ins.text)
    parts.extend(t.text for t in doc.trailing_trivia)
    return "".join(parts)
