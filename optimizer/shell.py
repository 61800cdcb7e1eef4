"""A model of RUN scripts on tree-sitter-bash.

A shell-form RUN's logical line (continuations joined, see
:class:`dockeropt.syntax.LogicalLine`) is parsed once; the result lists the
script's top-level items (joined by ``&&``, ``||``, ``;`` or newlines) and
every simple command with exact offsets, which map back to the Dockerfile
through the instruction's logical line.  A script tree-sitter cannot parse
cleanly is reported as not ``ok``, and passes leave it alone: the model never
guesses.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from dockeropt.source import TextRange
from dockeropt.syntax import Instruction

_LANGUAGE = Language(tree_sitter_bash.language())
_PARSER = Parser(_LANGUAGE)

# commands that run their arguments as another command
_WRAPPERS = {"sudo", "env", "command", "exec", "nohup", "time", "nice", "stdbuf"}
# redirection operators that open a file for writing (``<>`` opens it read-write and creates it)
_WRITE_REDIRECTS = frozenset({">", ">>", "&>", "&>>", ">|", ">&", "<>"})


@dataclass(frozen=True, slots=True)
class Word:
    text: str  # as written
    value: str | None  # literal value with quotes removed; None when it expands something
    start: int  # offsets in the script
    end: int

    @property
    def pattern(self) -> str | None:
        """The word as a path pattern: quotes removed, unquoted glob characters kept.

        None when the word expands something (``$X``, backticks) or mixes quoted
        and unquoted glob characters.
        """
        if self.value is not None:
            return self.value
        raw = self.text
        if "$" in raw or "`" in raw or "'" in raw or '"' in raw or "\\" in raw:
            return None
        return raw


@dataclass(frozen=True, slots=True)
class Command:
    argv: tuple[Word, ...]
    assignments: tuple[Word, ...]
    start: int
    end: int
    item: int  # index of the top-level item holding it
    top_level: bool  # the whole item is this one simple command
    redirected: bool
    cwd: str | None  # working directory set by earlier ``cd`` in this script; None = the instruction's; "?" = unknown
    # files its output redirections write (``> f``, ``>> f``, ``&> f``, ``2> f``, ``<> f``, a redirect on the
    # block around it), as written: the literal path, or None when it expands something; /dev paths and
    # descriptor copies (``2>&1``) are left out
    writes_to: tuple[str | None, ...] = ()
    # effective() and name, computed on first use (scripts are parsed once and read by every pass, every round);
    # kept in slots, not a dict per command, so the garbage collector has nothing more to track
    _effective: tuple[Word, ...] | None = field(default=None, compare=False, hash=False, repr=False)
    _name: str | None | bool = field(default=False, compare=False, hash=False, repr=False)  # False: not yet
    # what the image model derives from the command's words alone (dockeropt.model.runs), on first use; not copied
    # by dataclasses.replace (the facts point back at the command)
    facts: Any = field(default=None, init=False, compare=False, hash=False, repr=False)

    @property
    def words(self) -> list[str | None]:
        return [w.value for w in self.argv]

    def effective(self) -> tuple[Word, ...]:
        """argv without wrappers such as ``sudo -E``, ``env A=b`` or ``command``."""
        got = self._effective
        if got is None:
            got = self._strip_wrappers()
            object.__setattr__(self, "_effective", got)
        return got

    def _strip_wrappers(self) -> tuple[Word, ...]:
        argv = self.argv
        while argv and argv[0].value in _WRAPPERS:
            name = argv[0].value
            argv = argv[1:]
            while argv and argv[0].value is not None and (
                argv[0].value.startswith("-") or (name == "env" and "=" in argv[0].value)
            ):
                flag = argv[0].value
                argv = argv[1:]
                if name == "sudo" and flag in ("-u", "-g", "-C", "-h", "-p", "-U") and argv:
                    argv = argv[1:]
        return argv

    @property
    def name(self) -> str | None:
        got = self._name
        if got is False:
            eff = self.effective()
            if not eff or eff[0].value is None:
                got = None
            else:
                v = eff[0].value
                got = v[v.rfind("/") + 1 :]  # posixpath.basename of a str
            object.__setattr__(self, "_name", got)
        return got  # type: ignore[return-value]

    @property
    def args(self) -> list[str | None]:
        return [w.value for w in self.effective()[1:]]

    @property
    def env_prefix(self) -> dict[str, str | None]:
        """Variables set for this command only (``A=b cmd``, ``env A=b cmd``); None = not literal."""
        out: dict[str, str | None] = {}
        for w in self.assignments:
            name, _, _ = w.text.partition("=")
            out[name] = w.value.partition("=")[2] if w.value is not None else None
        argv = self.argv
        while argv and argv[0].value in _WRAPPERS:
            wrapper = argv[0].value
            argv = argv[1:]
            while argv and (argv[0].value is None or argv[0].value.startswith("-") or (wrapper == "env" and "=" in argv[0].value)):
                v = argv[0].value
                if wrapper == "env" and v is not None and "=" in v and not v.startswith("-"):
                    name, _, value = v.partition("=")
                    out[name] = value
                elif v is None and wrapper == "env":
                    return {**out, "?": None}
                argv = argv[1:]
        return out


@dataclass(frozen=True, slots=True)
class Item:
    start: int
    end: int
    op_before: str | None  # "&&", "||", ";", "\n", "&" or None for the first
    commands: tuple[int, ...]  # indexes into Script.commands
    simple: bool  # one simple command, no pipeline/subshell/redirect


@dataclass(frozen=True)
class Script:
    text: str
    ok: bool
    items: tuple[Item, ...]
    commands: tuple[Command, ...]
    error: str | None = None
    # facts derived from the script's content alone (dockeropt.model.runs), computed on first use: a script is
    # parsed once per text and shared by every RUN, round and rebuild with that text, and so are they
    derived: dict[object, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def set_e(self) -> bool:
        for c in self.commands:
            if c.name == "set" and any(a and a.startswith("-") and "e" in a for a in c.args):
                return True
        return False

    def only_and_chain(self) -> bool:
        """Every top-level join is ``&&``: a failing command stops the script."""
        return all(it.op_before in (None, "&&") for it in self.items)

    def commands_named(self, *names: str) -> list[Command]:
        return [c for c in self.commands if c.name in names]

    def env_before(self, index: int) -> dict[str, str | None]:
        """Variables exported by top-level ``export``/``ENV=... ;`` before command ``index``, plus its prefix.

        A value is None when it is not a literal; the key ``"?"`` means an
        export dockeropt could not read (any variable may have changed).
        """
        out: dict[str, str | None] = {}
        for c in self.commands[:index]:
            if c.name in ("export", "declare", "typeset") and c.top_level:
                for w in c.effective()[1:]:
                    if w.value is None:
                        name = w.text.partition("=")[0]
                        out[name if name.isidentifier() else "?"] = None
                    elif "=" in w.value:
                        name, _, value = w.value.partition("=")
                        out[name] = value
            elif not c.argv and c.assignments and c.top_level:
                for w in c.assignments:
                    name = w.text.partition("=")[0]
                    out[name] = w.value.partition("=")[2] if w.value is not None else None
            elif c.name in ("source", ".") or (c.name == "eval"):
                out["?"] = None
        out.update(self.commands[index].env_prefix)
        return out


def _word_value(node: Node, text: str, conv: _Conv, raw: str | None = None) -> str | None:
    """The literal value of a word node (``raw``: its text, when the caller has it)."""
    t = node.type
    if raw is None:
        raw = text[conv(node.start_byte) : conv(node.end_byte)]
    if t in ("word", "number"):
        if "$" in raw or "`" in raw:
            return None
        if "\\" not in raw:
            if ("*" in raw or "?" in raw or "[" in raw) and t == "word":
                return None
            return raw
        out = []
        i = 0
        while i < len(raw):
            if raw[i] == "\\" and i + 1 < len(raw):
                out.append(raw[i + 1])
                i += 2
                continue
            out.append(raw[i])
            i += 1
        value = "".join(out)
        return None if any(ch in value for ch in "*?[") and t == "word" and _is_glob(raw) else value
    if t == "raw_string":
        return raw[1:-1]
    if t == "string":
        if any(c.is_named and c.type != "string_content" for c in node.children):
            return None
        inner = raw[1:-1]
        if "\\" in inner:
            return None
        return inner
    if t == "concatenation":
        parts = [_word_value(c, text, conv) for c in node.children]
        if any(p is None for p in parts):
            return None
        return "".join(p for p in parts if p is not None)
    return None


def _is_glob(raw: str) -> bool:
    escaped = False
    for ch in raw:
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            continue
        if ch in "*?[":
            return True
    return False


class _Conv:
    """Byte offset -> character offset for one script."""

    def __init__(self, text: str) -> None:
        self.ascii = text.isascii()
        if not self.ascii:
            table = []
            for i, ch in enumerate(text):
                table.extend([i] * len(ch.encode("utf-8")))
            table.append(len(text))
            self.table = table

    def __call__(self, b: int) -> int:
        return b if self.ascii else self.table[b]


def _cwd_after(cmd: Command, cwd: str | None) -> str | None:
    """The working folder after ``cmd`` (see ``Command.cwd``): a ``cd`` changes it for the commands after it."""
    if cmd.name == "cd":
        args = [a for a in cmd.args if a != "--"]
        if len(args) == 1 and args[0] is not None and cwd != "?":
            if args[0].startswith("/"):
                return posixpath.normpath(args[0])
            return posixpath.normpath(posixpath.join(cwd or ".", args[0]))
        return "?"
    return cwd


class _Builder:
    def __init__(self, text: str) -> None:
        self.text = text
        self.conv = _Conv(text)
        self.ascii = self.conv.ascii
        self.commands: list[Command] = []
        self.items: list[Item] = []
        self.cwd: str | None = None

    def span(self, node: Node) -> tuple[int, int]:
        if self.ascii:  # byte offsets are character offsets
            return node.start_byte, node.end_byte
        return self.conv(node.start_byte), self.conv(node.end_byte)

    def word(self, node: Node) -> Word:
        s, e = self.span(node)
        raw = self.text[s:e]
        return Word(raw, _word_value(node, self.text, self.conv, raw), s, e)

    def assignment(self, node: Node) -> Word:
        """``NAME=value`` as a word whose value is ``NAME=<literal>`` (None when not literal)."""
        s, e = self.span(node)
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if name is None:
            return Word(self.text[s:e], None, s, e)
        ns, ne = self.span(name)
        if value is None:
            lit: str | None = ""
        else:
            lit = _word_value(value, self.text, self.conv)
        return Word(self.text[s:e], None if lit is None else f"{self.text[ns:ne]}={lit}", s, e)

    def redirect_targets(self, node: Node) -> tuple[str | None, ...]:
        """The files the output redirections of a ``redirected_statement`` write (see ``Command.writes_to``)."""
        out: list[str | None] = []
        todo = [c for c in node.children if c.type in ("file_redirect", "heredoc_redirect")]
        while todo:
            r = todo.pop(0)
            if r.type == "heredoc_redirect":  # ``cat <<EOF > out``: the file redirect sits inside
                todo.extend(c for c in r.children if c.type == "file_redirect")
                continue
            op = next((c.type for c in r.children if not c.is_named), None)
            dest = r.child_by_field_name("destination")
            if op not in _WRITE_REDIRECTS or dest is None:
                continue
            if op == ">&":
                ds, de = self.span(dest)
                if dest.type == "number" or self.text[ds:de] == "-":
                    continue  # a descriptor copy (2>&1) or close (>&-), not a file
            value = _word_value(dest, self.text, self.conv) if dest.type != "number" else self.text[slice(*self.span(dest))]
            if value is not None and (value == "/dev" or value.startswith("/dev/")):
                continue
            out.append(value)
        return tuple(out)

    def add_command(self, node: Node, item: int, top: bool, redirected: bool, track_cd: bool = True,
                    writes_to: tuple[str | None, ...] = ()) -> int:
        argv: list[Word] = []
        assigns: list[Word] = []
        t = node.type
        if t in ("declaration_command", "unset_command"):
            kw = node.children[0]
            ks, ke = self.span(kw)
            argv.append(Word(self.text[ks:ke], self.text[ks:ke], ks, ke))
            for child in node.named_children:
                argv.append(self.assignment(child) if child.type == "variable_assignment" else self.word(child))
        elif t == "variable_assignment":
            assigns.append(self.assignment(node))
        else:
            name = node.child_by_field_name("name")
            for child in node.named_children:
                if child.type == "variable_assignment" and (name is None or child.start_byte < name.start_byte):
                    assigns.append(self.assignment(child))
            if name is not None:
                argv.append(self.word(name.named_children[0] if name.named_children else name))
                for arg in node.children_by_field_name("argument"):
                    argv.append(self.word(arg))
        s, e = self.span(node)
        cmd = Command(tuple(argv), tuple(assigns), s, e, item, top, redirected, self.cwd, writes_to)
        self.commands.append(cmd)
        if track_cd:
            self.track_cd(cmd)
        return len(self.commands) - 1

    def track_cd(self, cmd: Command) -> None:
        """A ``cd`` changes the working folder of the commands after it."""
        self.cwd = _cwd_after(cmd, self.cwd)

    def collect(self, node: Node, item: int, top: bool, track_cd: bool = True) -> list[int]:
        t = node.type
        if t in ("command", "declaration_command", "unset_command", "variable_assignment"):
            return [self.add_command(node, item, top, False, track_cd)]
        if t == "redirected_statement":
            body = node.child_by_field_name("body")
            targets = self.redirect_targets(node)
            if body is not None and body.type == "command":
                return [self.add_command(body, item, False, True, track_cd, targets)]
            if targets and body is not None:
                # ``{ a; b; } > f``, ``(cd x && tar c .) > f``: every command inside writes there. tree-sitter-bash
                # hangs the redirect of ``a && b > f`` and ``a | b > f`` on the whole list or pipeline, where the
                # shell gives it to the last part only
                scope = body
                while scope.type in ("list", "pipeline") and scope.named_children:
                    scope = scope.named_children[-1]
                lo, hi = self.span(scope)
                first = len(self.commands)
                got = self._collect_children(node, t, item, track_cd)
                for k in range(first, len(self.commands)):
                    c = self.commands[k]
                    if lo <= c.start and c.end <= hi:
                        self.commands[k] = replace(c, redirected=True, writes_to=c.writes_to + targets)
                return got
        return self._collect_children(node, t, item, track_cd)

    def _collect_children(self, node: Node, t: str, item: int, track_cd: bool) -> list[int]:
        out: list[int] = []
        saved = self.cwd
        inner_track = track_cd and t not in ("pipeline", "command_substitution", "process_substitution")
        for child in node.named_children:
            out.extend(self.collect(child, item, False, inner_track))
        if t in ("subshell", "pipeline", "command_substitution", "process_substitution"):
            self.cwd = saved
        return out

    def flatten(self, node: Node) -> list[tuple[str | None, Node]]:
        """A top-level ``list`` (a && b || c) as [(op, node), ...]."""
        if node.type != "list":
            return [(None, node)]
        parts: list[tuple[str | None, Node]] = []
        op: str | None = None
        for child in node.children:
            if not child.is_named:
                op = child.type
                continue
            sub = self.flatten(child)
            if op is not None and sub:
                sub[0] = (op, sub[0][1])
            parts.extend(sub)
            op = None
        return parts

    def build(self, root: Node) -> None:
        pending: str | None = None
        first = True
        for child in root.children:
            if not child.is_named:
                if child.type in (";", "&", ";;"):
                    pending = child.type
                continue
            if child.type == "comment":
                continue
            for op, node in self.flatten(child):
                if op is None:
                    op = None if first else (pending or "\n")
                pending = None
                first = False
                idx = len(self.items)
                cmds = self.collect(node, idx, node.type in ("command", "declaration_command", "variable_assignment"))
                s, e = self.span(node)
                self.items.append(Item(s, e, op, tuple(cmds), node.type == "command"))


# --------------------------------------------------------------------------- the fast path

# a "plain" script: words of these characters joined by &&, || and ; (no quotes, expansions,
# redirections, pipes, globs, comments or newlines) parses the same without tree-sitter
# (checked whole, one character or operator at a time: no nested repetition, so no backtracking blow-up)
_PLAIN_SCRIPT = re.compile(r"(?:[A-Za-z0-9_./:=+@%,^\- \t]|&&|\|\||;)*")
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./:=+@%,^\-]+")  # its words (blanks between them)
# the same with ``*`` in words (globs: see _fast_parse_globbed)
_GLOB_SCRIPT = re.compile(r"(?:[A-Za-z0-9_./:=+@%,^*\- \t]|&&|\|\||;)*")
_GLOB_WORD = re.compile(r"[A-Za-z0-9_./:=+@%,^*\-]+")
_PLAIN_OPERATOR = re.compile(r"(&&|\|\||;)")  # and the operators between its commands
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_./+\-]+")  # tree-sitter-bash rejects some names (`x@1`, `a:b` after `A=1`)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# words tree-sitter reads as syntax or as declaration commands, not as a plain command name
_NOT_PLAIN_NAMES = frozenset({
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in", "function",
    "select", "time", "coproc", "export", "declare", "typeset", "local", "readonly", "unset",
})


def _fast_parse(text: str) -> Script | None:
    """The model of a plain script without tree-sitter, or None when the script is not plain.

    Gives exactly what the tree-sitter path gives for such scripts (tests/test_shell.py checks
    it on generated scripts); most RUN lines are plain, and this is several times faster.
    """
    if _PLAIN_SCRIPT.fullmatch(text) is None:
        return None
    return _plain_parse(text, _PLAIN_WORD)


def _fast_parse_globbed(text: str) -> Script | None:
    """:func:`_fast_parse` for a script that would be plain but for ``*`` in arguments (``rm -rf /var/lib/apt/lists/*``):
    such a word is a glob, its value None, as tree-sitter gives it (tests/test_shell.py checks it). None when the
    script is not of that kind (a ``*`` in a command name or an assignment goes to tree-sitter)."""
    if "*" not in text or _GLOB_SCRIPT.fullmatch(text) is None:
        return None
    return _plain_parse(text, _GLOB_WORD)


def _plain_parse(text: str, word_re: re.Pattern[str]) -> Script | None:
    # the script is plain: commands of words (with only blanks between them) joined by operators
    parts = _PLAIN_OPERATOR.split(text)  # command, operator, command, ..., command
    if len(parts) == 1 and not parts[0].strip(" \t"):
        return Script(text, True, (), ())
    items: list[Item] = []
    commands: list[Command] = []
    cwd: str | None = None
    op: str | None = None
    pos = 0
    for k in range(0, len(parts), 2):
        part = parts[k]
        group = part.strip(" \t")
        if not group:
            return None  # an operator with no command before or after it
        start = pos + len(part) - len(part.lstrip(" \t"))
        idx = k // 2
        key = (group, start, idx, cwd, op)
        got = _PLAIN_GROUPS.get(key)
        if got is None:
            words = [(m.group(0), start + m.start(), start + m.end()) for m in word_re.finditer(group)]
            assigns: list[Word] = []
            i = 0
            while i < len(words) and _ASSIGNMENT.match(words[i][0]):
                w, s0, e0 = words[i]
                if "*" in w:
                    return None  # a glob in an assignment
                assigns.append(Word(w, w, s0, e0))
                i += 1
            argv = words[i:]
            if word_re is _GLOB_WORD and any(w.startswith("=") for w, _, _ in argv):
                return None  # tree-sitter reads ``== *`` as a test's pattern
            if argv and (argv[0][0] in _NOT_PLAIN_NAMES or argv[0][0].startswith(("-", "=")) or not _PLAIN_NAME.fullmatch(argv[0][0])):
                return None
            if not argv and len(assigns) != 1:
                return None  # several bare assignments: tree-sitter's shape differs
            end = start + len(group)
            cmd = Command(tuple(Word(w, None if "*" in w else w, s0, e0) for w, s0, e0 in argv), tuple(assigns),
                          start, end, idx, True, False, cwd)
            got = (cmd, Item(start, end, op, (idx,), bool(argv)), _cwd_after(cmd, cwd))
            if len(_PLAIN_GROUPS) >= 65536:
                _PLAIN_GROUPS.clear()
            _PLAIN_GROUPS[key] = got
        cmd, item, cwd = got
        commands.append(cmd)
        items.append(item)
        pos += len(part)
        if k + 1 < len(parts):
            op = parts[k + 1]
            pos += len(op)
    return Script(text, True, tuple(items), tuple(commands))


# one command of a plain script (its text from first to last word, its offset and index, the folder earlier ``cd``s
# left, the operator before it) -> its Command, its Item and the folder after it. RUN lines repeat the same commands
# at the same offsets (``rm -f ... && apt-get update && ...``); the objects are immutable and shared, and so are the
# facts computed on them on first use (Command.effective, name; the model's Command.facts)
_PLAIN_GROUPS: dict[tuple[str, int, int, str | None, str | None], tuple[Command, Item, str | None]] = {}


@lru_cache(maxsize=65536)
def parse_script(text: str) -> Script:
    """Parse a shell script (the text after RUN's flags)."""
    fast = _fast_parse(text)
    if fast is None:
        fast = _fast_parse_globbed(text)
    if fast is not None:
        return fast
    return _tree_sitter_parse(text)


def _tree_sitter_parse(text: str) -> Script:
    tree = _PARSER.parse(text.encode("utf-8"))
    root = tree.root_node
    b = _Builder(text)
    if root.has_error:
        return Script(text, False, (), (), "tree-sitter-bash could not parse the script")
    b.build(root)
    return Script(text, True, tuple(b.items), tuple(b.commands))


@dataclass(frozen=True)
class RunScript:
    """A RUN instruction's script with offsets mapped to the Dockerfile.

    For shell-form RUN the script is the logical line after the flags
    (``base`` is its logical offset). For ``RUN <<EOF`` whose body is a sh/bash
    script, ``body_start`` is the document offset of the body and script
    offsets map to it directly.
    """

    instruction: Instruction
    script: Script
    base: int  # logical offset of the script start in the instruction's logical line
    body_start: int | None = None  # heredoc body: document offset of the script's first character

    @property
    def heredoc(self) -> bool:
        return self.body_start is not None

    def physical(self, start: int, end: int) -> TextRange:
        if self.body_start is not None:
            return TextRange(self.body_start + start, self.body_start + end)
        return self.instruction.logical.physical(self.base + start, self.base + end)

    def source(self, start: int, end: int, doc_text: str) -> str:
        r = self.physical(start, end)
        return doc_text[r.start : r.end]


_NOT_OK_HEREDOC = "the RUN uses a heredoc"


def run_script(ins: Instruction) -> RunScript | None:
    """The shell model of a shell-form RUN, or None (not a RUN, or exec form).

    A RUN with heredocs gets a script that is not ``ok`` (its line alone is not
    the whole script); use :func:`heredoc_script` for ``RUN <<EOF`` bodies.
    """
    if ins.keyword != "RUN" or ins.json:
        return None
    if ins.heredocs:
        return RunScript(ins, Script(ins.args, False, (), (), _NOT_OK_HEREDOC), ins.args_start)
    return RunScript(ins, parse_script(ins.args), ins.args_start)


_HEREDOC_ARGS = re.compile(r"^<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2$")
_SHELLS = {"sh", "bash", "dash", "ash"}


def heredoc_script(ins: Instruction, doc_text: str) -> RunScript | None:
    """The model of ``RUN <<EOF`` whose body is a sh/bash script, or None.

    Only a RUN whose whole command is one heredoc is modelled; the body must sit
    verbatim in the document (no ``<<-`` tab stripping) and any shebang must name
    sh or bash. Offsets are into the body, mapped by :meth:`RunScript.physical`.
    """
    if ins.keyword != "RUN" or ins.json or len(ins.heredocs) != 1:
        return None
    hd = ins.heredocs[0]
    m = _HEREDOC_ARGS.match(ins.args.strip())
    if not m or m.group(1) or m.group(3) != hd.name or hd.chomp:
        return None
    body = doc_text[hd.body_range.start : hd.body_range.end]
    if body.replace("\r\n", "\n") != hd.content:
        return None
    if body.startswith("#!"):
        first = body.split("\n", 1)[0][2:].split()
        prog = [posixpath.basename(w) for w in first if w != "/usr/bin/env" and not w.startswith("-")]
        if not prog or prog[0] not in _SHELLS:
            return None
    return RunScript(ins, parse_script(body), 0, hd.body_range.start)


def analysis_script(ins: Instruction, doc_text: str | None = None) -> Script | None:
    """A read-only model of what a RUN executes, for analysis (never for edits).

    Shell form: its script. ``RUN <<EOF`` (sh/bash): the body. Exec form
    ``["sh", "-c", "..."]``: the inner script. Other exec forms: one command
    whose words carry no offsets. None when not a RUN or not understood.
    """
    if ins.keyword != "RUN":
        return None
    if ins.json:
        argv = ins.exec_args
        if not argv:
            return None
        if len(argv) >= 3 and posixpath.basename(argv[0]) in _SHELLS and argv[1] == "-c":
            return parse_script(argv[2])
        words = tuple(Word(a, a, 0, 0) for a in argv)
        cmd = Command(words, (), 0, 0, 0, True, False, None)
        return Script(" ".join(argv), True, (Item(0, 0, None, (0,), True),), (cmd,))
    if ins.heredocs:
        if doc_text is None:
            return None
        rs = heredoc_script(ins, doc_text)
        return rs.script if rs else None
    return parse_script(ins.args)


def exec_argv(ins: Instruction) -> tuple[str, ...] | None:
    """argv of an exec-form RUN/CMD/ENTRYPOINT, or None."""
    return ins.exec_args if ins.json else None
