"""Passes, their registry, rule selection and documentation (pragmas: dockeropt.pragmas).

A pass is a class with a rule ``id`` (DO1xx build speed and caching, DO2xx
image size, DO3xx security, DO4xx runtime behaviour), a ``name`` and a
``check`` method that reads the tree and returns :class:`Change` objects. Its
docstring is its documentation, in four sections: *What it does*, *Why*,
*Example* and *Fix safety*.  Passes live one per module in
``dockeropt.transforms`` and are discovered by walking that package.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.edits import Change, Edit, FileChange, Fix, Safety
from dockeropt.model import ImageModel
from dockeropt.source import TextRange
from dockeropt.syntax import Dockerfile, Instruction

_RULE_ID = re.compile(r"^DO[1-4]\d\d$")
T = TypeVar("T")


@dataclass
class PassContext:
    """What a pass may know besides the tree."""

    config: Config = field(default_factory=Config)
    path: Path | None = None  # the Dockerfile's path, when there is one
    context: BuildContext | None = None  # None: no build context is known
    enabled_rules: frozenset[str] = frozenset()  # ids of the passes running in this pipeline
    _memo: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)
    _model: tuple[tuple[str, int], ImageModel] | None = field(default=None, repr=False)

    def model(self, doc: Dockerfile) -> ImageModel:
        """The image model of ``doc`` (built once per document text and build-context state)."""
        key = (doc.text, self.context.overlay_version if self.context is not None else 0)
        if self._model is None or self._model[0] != key:
            self._model = (key, ImageModel.build(doc, self.context, self.config))
        return self._model[1]

    def per_file_ignored(self, rule_id: str) -> bool:
        """Does a ``per_file_ignores`` pattern (matched on the path or the file name) switch ``rule_id`` off here?

        The CLI and the LSP fold these into ``ignore`` already (dockeropt.settings.config_for);
        this covers a Config given straight to the pipeline.
        """
        if self.path is None or not self.config.per_file_ignores:
            return False
        import fnmatch

        posix, name = self.path.as_posix(), self.path.name
        return any(
            (fnmatch.fnmatch(posix, pattern) or fnmatch.fnmatch(name, pattern)) and matches(rule_id, ids)
            for pattern, ids in self.config.per_file_ignores.items()
        )

    def memo(self, key: tuple[object, ...], doc: Dockerfile, compute: Callable[[], T]) -> T:
        """``compute()`` once per document text and context state: shared work between passes.

        Passes that consult another pass (what would DO201 do here?) ask through this,
        so one round runs that work once, not once per asking pass.
        """
        version = self.context.overlay_version if self.context is not None else 0
        full = (*key, doc.text, version)
        if full not in self._memo:
            if len(self._memo) > 512:
                self._memo.clear()
            self._memo[full] = compute()
        return self._memo[full]  # type: ignore[return-value]

    def enabled(self, rule_id: str) -> bool:
        """Is another rule running too? (A pass defers to a rule that does the job better.)"""
        return rule_id in self.enabled_rules


@dataclass(frozen=True)
class Message:
    """One kind of finding of a pass: a title and an explanation, both templates.

    Fields are ``{name}`` placeholders filled by :meth:`Pass.say`. Titles are
    sentence case, name code in backticks and end without a period;
    explanations are whole sentences (``tests/test_messages.py`` checks every
    pass's messages).
    """

    title: str
    explanation: str
    # rules this finding waits for; None: the pass's ``after``. A finding that does not depend on what
    # those rules do (a flag beside their edit) says ``after=()`` and goes ahead in the same round.
    after: tuple[str, ...] | None = None

    def render(self, **fields: object) -> tuple[str, str]:
        return self.title.format_map(fields), self.explanation.format_map(fields)


class Pass:
    """Base class of all passes. Subclasses set ``id``, ``name`` and implement ``check``.

    A pass's titles and explanations live in one place, its ``messages`` table
    (key -> :class:`Message`), and it reports with :meth:`say`.
    """

    messages: ClassVar[dict[str, Message]] = {}

    id: ClassVar[str]
    name: ClassVar[str]
    default_enabled: ClassVar[bool] = True  # opt-in rules set False
    # rules whose fixes must land first on a stage this pass also changes: while one of them has a fix
    # the pipeline will apply this round, this pass's findings on that stage wait for the next round
    # (declared here, resolved in the pipeline; a pass never runs another pass)
    after: ClassVar[tuple[str, ...]] = ()

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        raise NotImplementedError

    def change(
        self,
        title: str,
        explanation: str,
        at: TextRange | Instruction,
        edits: Sequence[Edit] | None = None,
        safety: Safety = Safety.SAFE,
    ) -> Change:
        rng = at.range if isinstance(at, Instruction) else at
        fix = Fix(tuple(edits), safety) if edits else None
        return Change(self.id, self.name, title, explanation, rng, fix)

    def say(
        self,
        key: str,
        at: TextRange | Instruction,
        edits: Sequence[Edit] | None = None,
        safety: Safety = Safety.SAFE,
        files: Sequence[FileChange] = (),
        **fields: object,
    ) -> Change:
        """A change whose title and explanation come from ``messages[key]`` filled with ``fields``.

        No ``edits`` and no ``files``: a display-only note.
        """
        msg = self.messages[key]
        title, explanation = msg.title.format_map(fields), msg.explanation.format_map(fields)  # msg.render, unpacked
        rng = at.range if isinstance(at, Instruction) else at
        fix = Fix(tuple(edits or ()), safety, tuple(files)) if (edits or files) else None
        return Change(self.id, self.name, title, explanation, rng, fix, waits_for=msg.after)

    @classmethod
    def doc(cls) -> RuleDoc:
        """The rule's documentation, read from its docstring once (the language server's hover asks per finding)."""
        got = _DOCS.get(cls)
        if got is None or got[0] is not cls.__doc__:
            got = _DOCS[cls] = (cls.__doc__, RuleDoc.from_docstring(cls))
        return got[1]


_DOCS: dict[type, tuple[str | None, RuleDoc]] = {}


REGISTRY: dict[str, type[Pass]] = {}
_LOADED = False


def register(cls: type[Pass]) -> type[Pass]:
    """Class decorator that adds a pass to the registry."""
    if not _RULE_ID.match(cls.id):
        raise ValueError(f"bad rule id {cls.id!r} on {cls.__name__}")
    if cls.id in REGISTRY and REGISTRY[cls.id] is not cls:
        raise ValueError(f"rule id {cls.id} registered twice")
    if not (cls.__doc__ or "").strip():
        raise ValueError(f"{cls.id} has no docstring")
    REGISTRY[cls.id] = cls
    return cls


def load_passes() -> dict[str, type[Pass]]:
    """Import every module of ``dockeropt.transforms`` once; returns the registry."""
    global _LOADED
    if not _LOADED:
        import dockeropt.transforms as pkg

        for mod in pkgutil.iter_modules(pkg.__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{pkg.__name__}.{mod.name}")
        _LOADED = True
    return dict(sorted(REGISTRY.items()))


def matches(rule_id: str, selectors: Iterable[str]) -> bool:
    return any(rule_id.startswith(s.strip().upper()) for s in selectors if s.strip())


def validate_selectors(selectors: Iterable[str]) -> list[str]:
    """Selectors that match no registered rule (for error messages)."""
    ids = list(load_passes())
    return [s for s in selectors if s.strip() and not any(i.startswith(s.strip().upper()) for i in ids)]


def selected_passes(config: Config) -> list[Pass]:
    out = []
    for rid, cls in load_passes().items():
        if config.select:
            if not matches(rid, config.select):
                continue
            # opt-in rules only by their exact id or an explicit prefix naming them fully
            if not cls.default_enabled and rid not in {s.strip().upper() for s in config.select}:
                continue
        elif not cls.default_enabled:
            continue
        if config.ignore and matches(rid, config.ignore):
            continue
        out.append(cls())
    return out


# --------------------------------------------------------------------------- docs

_SECTIONS = ("What it does", "Why", "Example", "Fix safety")


@dataclass(frozen=True)
class RuleDoc:
    id: str
    name: str
    summary: str
    sections: dict[str, str]
    opt_in: bool

    @classmethod
    def from_docstring(cls, p: type[Pass]) -> RuleDoc:
        raw = textwrap.dedent((p.__doc__ or "").strip("\n"))
        lines = raw.splitlines()
        # the first line may be indented differently from the rest (PEP 257)
        summary = lines[0].strip() if lines else ""
        body = textwrap.dedent("\n".join(lines[1:]))
        sections: dict[str, str] = {}
        current: str | None = None
        buf: list[str] = []
        for line in body.splitlines():
            stripped = line.strip()
            header = stripped.rstrip(":")
            if stripped.endswith(":") and header in _SECTIONS:
                if current:
                    sections[current] = textwrap.dedent("\n".join(buf)).strip("\n")
                current = header
                buf = []
            elif current:
                buf.append(line)
        if current:
            sections[current] = textwrap.dedent("\n".join(buf)).strip("\n")
        return cls(p.id, p.name, summary, sections, not p.default_enabled)

    def missing_sections(self) -> list[str]:
        return [s for s in _SECTIONS if not self.sections.get(s, "").strip()]

    def render_text(self) -> str:
        out = [f"{self.id} {self.name}" + (" (opt-in)" if self.opt_in else ""), "", self.summary, ""]
        for s in _SECTIONS:
            if s in self.sections:
                out.append(f"{s}:")
                out.append(textwrap.indent(self.sections[s], "    "))
                out.append("")
        return "\n".join(out).rstrip() + "\n"

    def render_markdown(self) -> str:
        out = [f"## {self.id} `{self.name}`" + (" (opt-in)" if self.opt_in else ""), "", self.summary, ""]
        for s in _SECTIONS:
            if s not in self.sections:
                continue
            out.append(f"### {s}")
            out.append("")
            text = self.sections[s]
            if s == "Example":
                out.append("```dockerfile")
                out.append(text)
                out.append("```")
            else:
                out.append(text)
            out.append("")
        return "\n".join(out)


# --------------------------------------------------------------------------- pragmas

# the one pragma parser lives in dockeropt.pragmas; these names stay importable from here
from dockeropt.pragmas import Pragmas, read_pragmas  # noqa: E402,F401


def rule_reference_markdown() -> str:
    """docs/rules.md, generated from the passes' docstrings."""
    out = [
        "# Rule reference",
        "",
        "Generated by `python -m dockeropt.docs` from the passes' docstrings; do not edit by hand.",
        "",
        "| id | name | summary |",
        "|---|---|---|",
    ]
    docs = [cls.doc() for cls in load_passes().values()]
    for d in docs:
        out.append(f"| [{d.id}](#{d.id.lower()}-{d.name}) | `{d.name}`{' (opt-in)' if d.opt_in else ''} | {d.summary} |")
    out.append("")
    for d in docs:
        out.append(d.render_markdown())
    return "\n".join(out).rstrip() + "\n"


def docs_path() -> Path:
    return Path(__file__).resolve().parent.parent / "docs" / "rules.md"
