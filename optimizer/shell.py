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
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter_bash
from dockeropt.source import TextRange
from dockeropt.syntax import Instruction
from tree_sitter import Language, Node, Parser

_LANGUAGE = Language(tree_sitter_bash.language())
_PARSER = Parser(_LANGUAGE)

# commands that run their arguments as another command
_WRAPPERS = {"sudo", "env", "command", "exec", "nohup", "time", "nice", "stdbuf"}


@dataclass(frozen=True, slots=True)
class Word:
    text: str  # as written
    value: str | None  # literal value with quotes removed; None when it expands something
    start: int  # offsets in the script
    end: int


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

    @property
    def words(self) -> list[str | None]:
        return [w.value for w in self.argv]

    def effective(self) -> tuple[Word, ...]:
        """argv without wrappers such as ``sudo -E``, ``env A=b`` or ``command``."""
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
        eff = self.effective()
        if not eff or eff[0].value is None:
            return None
        return posixpath.basename(eff[0].value)

    @property
    def args(self) -> list[str | None]:
        return [w.value for w in self.effective()[1:]]


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


def _word_value(node: Node, text: str, conv: _Conv) -> str | None:
    t = node.type
    raw = text[conv(node.start_byte) : conv(node.end_byte)]
    if t in ("word", "number"):
        if "$" in raw or "`" in raw:
            return None
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


class _Builder:
    def __init__(self, text: str) -> None:
        self.text = text
        self.conv = _Conv(text)
        self.commands: list[Command] = []
        self.items: list[Item] = []
        self.cwd: str | None = None

    def span(self, node: Node) -> tuple[int, int]:
        return self.conv(node.start_byte), self.conv(node.end_byte)

    def word(self, node: Node) -> Word:
        s, e = self.span(node)
        return Word(self.text[s:e], _word_value(node, self.text, self.conv), s, e)

    def add_command(self, node: Node, item: int, top: bool, redirected: bool) -> int:
        argv: list[Word] = []
        assigns: list[Word] = []
        name = node.child_by_field_name("name")
        for child in node.named_children:
            if child.type == "variable_assignment" and (name is None or child.start_byte < name.start_byte):
                assigns.append(self.word(child))
        if name is not None:
            argv.append(self.word(name.named_children[0] if name.named_children else name))
            for arg in node.children_by_field_name("argument"):
                argv.append(self.word(arg))
        s, e = self.span(node)
        cmd = Command(tuple(argv), tuple(assigns), s, e, item, top, redirected, self.cwd)
        self.commands.append(cmd)
        if top and cmd.name == "cd":
            args = [a for a in cmd.args if a != "--"]
            if len(args) == 1 and args[0] is not None:
                self.cwd = posixpath.normpath(posixpath.join(self.cwd or ".", args[0])) if not args[0].startswith("/") else posixpath.normpath(args[0])
            else:
                self.cwd = "?"
        return len(self.commands) - 1

    def collect(self, node: Node, item: int, top: bool) -> list[int]:
        t = node.type
        if t == "command":
            return [self.add_command(node, item, top, False)]
        if t == "redirected_statement":
            body = node.child_by_field_name("body")
            if body is not None and body.type == "command":
                return [self.add_command(body, item, False, True)]
        out: list[int] = []
        saved = self.cwd
        for child in node.named_children:
            out.extend(self.collect(child, item, False))
        if t in ("subshell", "pipeline", "command_substitution"):
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
                cmds = self.collect(node, idx, node.type == "command")
                s, e = self.span(node)
                self.items.append(Item(s, e, op, tuple(cmds), node.type == "command"))


@lru_cache(maxsize=8192)
def parse_script(text: str) -> Script:
    """Parse a shell script (the text after RUN's flags)."""
    tree = _PARSER.parse(text.encode("utf-8"))
    root = tree.root_node
    b = _Builder(text)
    if root.has_error:
        return Script(text, False, (), (), "tree-sitter-bash could not parse the script")
    b.build(root)
    return Script(text, True, tuple(b.items), tuple(b.commands))


@dataclass(frozen=True)
class RunScript:
    """A RUN instruction's script with offsets mapped to the Dockerfile."""

    instruction: Instruction
    script: Script
    base: int  # logical offset of the script start in the instruction's logical line

    def physical(self, start: int, end: int) -> TextRange:
        return self.instruction.logical.physical(self.base + start, self.base + end)

    def source(self, start: int, end: int, doc_text: str) -> str:
        r = self.physical(start, end)
        return doc_text[r.start : r.end]


def run_script(ins: Instruction) -> RunScript | None:
    """The shell model of a shell-form RUN without heredocs, or None."""
    if ins.keyword != "RUN" or ins.json:
        return None
    return RunScript(ins, parse_script(ins.args), ins.args_start)


def exec_argv(ins: Instruction) -> tuple[str, ...] | None:
    """argv of an exec-form RUN/CMD/ENTRYPOINT, or None."""
    return ins.exec_args if ins.json else None
