"""Variables as BuildKit sees them: ENV, ARG and the base image's own environment.

One reader of ENV/ARG lines and one expander of ``$VAR`` / ``${VAR:-word}`` /
``${VAR:+word}`` for the whole project. A value is either a literal string or
``None``: set, but to something dockeropt cannot know (an expansion of an
unknown variable, a command substitution, a build argument without default).

ARG semantics follow BuildKit:

* an ARG before the first FROM is global and only visible in FROM lines, or in
  a stage that re-declares it (``ARG NAME`` without a value takes the global
  default);
* an ARG inside a stage is visible to later instructions of that stage only
  (not to stages built FROM it);
* an ENV of the same name always wins over an ARG;
* an ARG's default is what a plain ``docker build`` uses; ``--build-arg`` may
  override it, so the variable is marked ``overridable``.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from dockeropt.syntax import Instruction


@dataclass(frozen=True, slots=True)
class Var:
    """One variable in effect."""

    value: str | None  # None: set to something dockeropt cannot know
    origin: str  # "image" (the base image's config) | "env" | "arg"
    instruction: int | None = None  # index of the ENV/ARG that set it (None: the base image)
    overridable: bool = False  # an ARG: ``--build-arg`` may change it


class Env(Mapping[str, Var]):
    """The variables in effect before one instruction runs (immutable).

    ``base_known`` is False when the base image is not in the catalog, so a
    name the Dockerfile never sets may still be set by the image.
    ``unreadable`` names the instruction index of an ENV/ARG line dockeropt could
    not read (any variable may have changed), or None.

    An Env is a layer over its parent (a later ENV line over the state before
    it); chains are flattened every few layers, so lookups and updates stay
    cheap on files with thousands of ENV lines.
    """

    __slots__ = ("_vars", "_parent", "_depth", "base_known", "unreadable", "_found")
    _FLATTEN = 24

    def __init__(
        self, vars: Mapping[str, Var] | None = None, base_known: bool = True, unreadable: int | None = None,
        parent: Env | None = None,
    ) -> None:
        self._vars: dict[str, Var] = dict(vars or {})
        self._parent = parent
        self._depth = 0 if parent is None else parent._depth + 1
        self.base_known = base_known
        self.unreadable = unreadable
        self._found: dict[str, Var | None] = {}  # names looked up below this layer (the chain never changes)

    def _get(self, name: str) -> Var | None:
        v = self._vars.get(name)
        if v is not None or self._parent is None:
            return v
        found = self._found
        if name in found:
            return found[name]
        v = found[name] = self._parent._get(name)
        return v

    def _flat(self) -> dict[str, Var]:
        """Every variable in effect (this layer's own dict when there is no parent; else a new dict)."""
        if self._parent is None:
            return self._vars
        layers: list[dict[str, Var]] = []
        e: Env = self
        while e._parent is not None:
            layers.append(e._vars)
            e = e._parent
        out = dict(e._vars)
        for layer in reversed(layers):
            out.update(layer)
        return out

    def __getitem__(self, name: str) -> Var:
        v = self._get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if self._vars.get(name) is not None:  # this layer first, without a call (passes ask this a lot)
            return True
        return self._parent is not None and self._get(name) is not None

    def get(self, name: str, default: Var | None = None) -> Var | None:  # type: ignore[override]
        v = self._vars.get(name)
        if v is None and self._parent is not None:
            v = self._get(name)
        return default if v is None else v

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat())

    def __len__(self) -> int:
        return len(self._flat())

    def __repr__(self) -> str:
        return f"Env({ {k: v.value for k, v in self._flat().items()} !r})"

    def value(self, name: str) -> str | None:
        """The literal value of ``name``; "" when certainly unset; None when not knowable."""
        v = self._vars.get(name)
        if v is None and self._parent is not None:
            v = self._get(name)
        if v is not None:
            return v.value
        if self.unreadable is not None or not self.base_known:
            return None
        return ""

    def is_set(self, name: str) -> bool | None:
        """Is ``name`` set at all? None when dockeropt cannot tell."""
        if self._get(name) is not None:
            return True
        if self.unreadable is not None or not self.base_known:
            return None
        return False

    def literal(self) -> dict[str, str | None]:
        """``{name: value}`` of every variable known to be set (value None: not knowable)."""
        return {k: v.value for k, v in self._flat().items()}

    def with_vars(self, updates: Mapping[str, Var], unreadable: int | None = None) -> Env:
        """This env with ``updates`` on top (a new layer; the chain is flattened now and then)."""
        if not updates and (unreadable is None or unreadable == self.unreadable):
            return self
        ur = unreadable if unreadable is not None else self.unreadable
        if self._depth >= self._FLATTEN:
            flat = self._flat()
            if flat is self._vars:
                flat = dict(flat)
            flat.update(updates)
            return Env(flat, self.base_known, ur)
        return Env(updates, self.base_known, ur, parent=self)

    def without(self, names: set[str]) -> Env:
        return Env({k: v for k, v in self._flat().items() if k not in names}, self.base_known, self.unreadable)


# --------------------------------------------------------------------------- expansion

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Unknown(Exception):
    pass


def expand(text: str, env: Mapping[str, str | None] | Env, home: str | None = None, tilde: bool = False) -> str | None:
    """``text`` with ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR:+word}`` expanded (BuildKit's set).

    ``env`` is an :class:`Env` or a plain mapping (a missing name is unset, a
    name mapped to None is unknown). ``tilde`` also expands a leading ``~`` to
    ``home`` (for package-manager path templates, not for Dockerfile words).
    Returns None when the result depends on something unknown. A backslash
    escapes the next character, as in BuildKit's shell lexer.
    """
    try:
        return _expand(text, env, home, tilde)
    except _Unknown:
        return None


def _lookup(env: Mapping[str, str | None] | Env, name: str) -> str:
    if isinstance(env, Env):
        v = env.value(name)
    else:
        v = env.get(name, "") if name in env else ""
    if v is None:
        raise _Unknown
    return v


def _expand(text: str, env: Mapping[str, str | None] | Env, home: str | None, tilde: bool) -> str:
    if "$" not in text and "\\" not in text and not (tilde and "~" in text):
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if tilde and ch == "~" and (i == 0 or text[i - 1] in ":-+=") and (i + 1 == n or text[i + 1] == "/"):
            if home is None:
                raise _Unknown
            out.append(home)
            i += 1
            continue
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        if text[i + 1] == "{":
            end = _matching_brace(text, i + 1)
            body = text[i + 2 : end]
            m = _NAME.match(body)
            if not m:
                raise _Unknown
            name = m.group(0)
            op = body[len(name) : len(name) + 2]
            word = body[len(name) + 2 :]
            if op == ":-":
                try:
                    value = _lookup(env, name)
                except _Unknown:
                    raise
                out.append(value if value else _expand(word, env, home, tilde))
            elif op == ":+":
                value = _lookup(env, name)
                out.append(_expand(word, env, home, tilde) if value else "")
            elif op == "" and len(body) == len(name):
                out.append(_lookup(env, name))
            else:
                raise _Unknown
            i = end + 1
            continue
        m = _NAME.match(text, i + 1)
        if not m:
            out.append(ch)
            i += 1
            continue
        out.append(_lookup(env, m.group(0)))
        i = m.end()
    return "".join(out)


def _matching_brace(s: str, open_at: int) -> int:
    depth = 0
    j = open_at
    while True:  # brace to brace (str.find), not character by character
        close = s.find("}", j)
        if close == -1:
            raise _Unknown
        opening = s.find("{", j, close)
        if opening != -1:
            depth += 1
            j = opening + 1
            continue
        depth -= 1
        if depth == 0:
            return close
        j = close + 1


def join_path(cwd: str | None, path: str) -> str | None:
    """``path`` resolved against the working folder ``cwd`` (None when it is relative and ``cwd`` is unknown)."""
    if path.startswith("/"):
        return posixpath.normpath(path)
    if cwd is None:
        return None
    return posixpath.normpath(posixpath.join(cwd, path))


def variables_in(text: str) -> list[str]:
    """Names referenced by ``$VAR`` / ``${VAR...}`` in ``text`` (in order, unique)."""
    out: list[str] = []
    for m in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text):
        if m.group(1) not in out:
            out.append(m.group(1))
    return out


# --------------------------------------------------------------------------- ENV / ARG lines


@dataclass(frozen=True, slots=True)
class Assignment:
    """One ``NAME=value`` (or ``NAME value``, or a bare ``ARG NAME``) of an ENV/ARG line."""

    name: str
    raw: str | None  # the value as written, quotes removed, variables NOT expanded; None: bare ARG NAME


def read_assignments(ins: Instruction) -> list[Assignment] | None:
    """The assignments of an ENV or ARG instruction; None when the line cannot be read.

    Handles the legacy ``ENV NAME value with spaces`` form, quotes and
    backslash escapes as BuildKit's word splitter does.
    """
    got = _read_assignments(ins.keyword, ins.args)
    return None if got is None else list(got)


@lru_cache(maxsize=65536)
def _read_assignments(keyword: str, args: str) -> tuple[Assignment, ...] | None:
    """``read_assignments`` of a line's keyword and arguments (all it reads), shared across rounds and rebuilds."""
    got = _read_assignments_uncached(keyword, args)
    return None if got is None else tuple(got)


def _read_assignments_uncached(keyword: str, args: str) -> list[Assignment] | None:
    args = args.strip()
    if not args:
        return []
    if keyword == "ENV":
        first = re.split(r"\s+", args, maxsplit=1)
        if "=" not in first[0]:
            value = first[1].strip() if len(first) > 1 else ""
            return [Assignment(first[0], value)]
    if _UNQUOTED.fullmatch(args):
        # no quotes, escapes, comments or line breaks: shlex would split at the blanks, and the words are as written
        words = raw_words = args.split()
    else:
        try:
            lexer = shlex.shlex(args, posix=True)
            lexer.whitespace_split = True
            lexer.escape = "\\"
            lexer.escapedquotes = '"'
            words = list(lexer)
        except ValueError:
            return None
        raw_words = _raw_words(args)
    out: list[Assignment] = []
    for idx, w in enumerate(words):
        name, eq, value = w.partition("=")
        if not _NAME.fullmatch(name):
            return None
        if not eq:
            if keyword == "ENV":
                return None
            out.append(Assignment(name, None))
            continue
        # single-quoted values are literal in BuildKit: keep a marker so expansion is skipped
        raw = raw_words[idx] if idx < len(raw_words) else w
        if "'" in raw.partition("=")[2] and "$" in value:
            out.append(Assignment(name, value.replace("$", "\\$")))
        else:
            out.append(Assignment(name, value))
    return out


_UNQUOTED = re.compile(r"[^'\"\\#\s]+(?:[ \t]+[^'\"\\#\s]+)*")  # words of no quote, backslash or # between blanks


def _raw_words(args: str) -> list[str]:
    """Whitespace-separated words as written (quotes kept), for telling quoting styles apart."""
    words: list[str] = []
    cur: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(args):
        ch = args[i]
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"' and i + 1 < len(args):
                cur.append(args[i + 1])
                i += 1
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch == "\\" and i + 1 < len(args):
            cur.append(ch)
            cur.append(args[i + 1])
            i += 1
        elif ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
        i += 1
    if cur:
        words.append("".join(cur))
    return words


def assignment_spans(ins: Instruction) -> list[tuple[Assignment, int, int]] | None:
    """Each assignment of an ENV/ARG line with its logical span (offsets into ``ins.logical.text``).

    None when the line cannot be read (:func:`read_assignments`). The legacy
    ``ENV NAME value with spaces`` form is one span over the whole argument.
    """
    pairs = read_assignments(ins)
    if pairs is None:
        return None
    args = ins.args
    base = ins.args_start
    if ins.keyword == "ENV" and pairs and len(pairs) == 1 and "=" not in args.split(None, 1)[0]:
        lead = len(args) - len(args.lstrip())
        return [(pairs[0], base + lead, base + len(args.rstrip()))]
    spans: list[tuple[int, int]] = []
    start: int | None = None
    quote: str | None = None
    i = 0
    while i < len(args):
        ch = args[i]
        if start is None and not ch.isspace():
            start = i
        if quote:
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"':
                i += 1
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch.isspace() and start is not None:
            spans.append((start, i))
            start = None
        i += 1
    if start is not None:
        spans.append((start, len(args)))
    if len(spans) != len(pairs):
        return None
    return [(a, base + s, base + e) for a, (s, e) in zip(pairs, spans)]
