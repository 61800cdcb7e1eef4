"""``dockeropt lsp``: a language server (pygls, stdio) for editors.

What the editor gets:

* diagnostics on open, change and save, one per finding: the rule id as the
  code, the title and the explanation as the message, *Warning* for findings
  with a fix and *Information* for display-only notes; a document dockeropt
  cannot load gets one *Error* diagnostic with the one-line reason;
* code actions: a quick fix per finding (the exact edits of that finding's
  fix against the text as it is, offered only when the fixed text passes the
  pipeline's BuildKit guard), "Ignore DOxxx for this instruction" (adds a
  ``# dockeropt ignore=DOxxx`` pragma line above the instruction, or extends
  the pragma already there) and ``source.fixAll.dockeropt`` (the whole fix
  loop, one edit replacing the document, offered only when it changes
  something; resolved lazily when the client supports ``codeAction/resolve``,
  otherwise computed when asked for with ``only`` or in idle time);
* hover over a finding: its explanation and the rule's ``dockeropt explain`` text.

Each document version is analysed once (parse, passes) and every request for
that version is answered from the cache. The build context of a ``file://``
document is its folder; the configuration is the nearest ``.dockeropt.toml``
or ``[tool.dockeropt]`` table, as on the command line.

This module is imported by the CLI at startup, so pygls and lsprotocol (slow
to import) are only imported when the server is built.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from dockeropt.config import Config
    from dockeropt.edits import Change
    from dockeropt.rules import Pass, PassContext
    from dockeropt.source import LineIndex
    from dockeropt.syntax import Dockerfile, Instruction

log = logging.getLogger("dockeropt.lsp")

SOURCE = "dockeropt"
FIX_ALL_KIND = "source.fixAll.dockeropt"
MAX_CHARS = 1 << 20  # as the command line: real Dockerfiles are a few KiB
_LINE_IN_ERROR = re.compile(r"\bline (\d+)\b")
_PRAGMA_LINE = re.compile(r"^(\s*#\s*dockeropt\s*:?\s*ignore\s*=\s*)([A-Za-z0-9_,\s]+?)(\s*)$", re.IGNORECASE)


# ----------------------------------------------------------------------------- analysis


@dataclass
class Finding:
    """One change of the current text, with its LSP range and diagnostic."""

    change: Change
    range: types.Range
    diagnostic: types.Diagnostic
    valid: bool | None = None  # does its fix keep the Dockerfile valid? (checked on demand)


@dataclass
class Analysis:
    """Everything dockeropt knows about one version of one document."""

    uri: str
    version: int | None
    text: str
    lines: LineIndex
    error: str | None = None  # the document could not be loaded
    doc: Dockerfile | None = None
    ctx: PassContext | None = None
    passes: list[Pass] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    diagnostics: list[types.Diagnostic] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    _fixed: str | None = None  # fix loop output, computed on demand
    _fixed_done: bool = False

    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fix_all_ready(self) -> bool:
        return self._fixed_done and not self._lock.locked()

    def fixed_text(self) -> str | None:
        """The fix loop's output for this version (None: unchanged or failed); thread-safe."""
        with self._lock:
            if self._fixed_done:
                return self._fixed
            self._fixed_done = True
            if self.error is None and self.ctx is not None:
                from dockeropt.pipeline import fix_text

                try:
                    result = fix_text(self.text, self.ctx, self.passes)
                    self._fixed = result.fixed if result.changed else None
                except Exception as exc:  # never crash the server
                    log.error("fix loop failed: %s", exc)
                    self._fixed = None
            return self._fixed


def _path_of(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    from pygls import uris

    fs = uris.to_fs_path(uri)
    return Path(fs) if fs else None


def _lsp_range(lines: LineIndex, start: int, end: int) -> types.Range:
    from lsprotocol import types

    sl, sc = lines.utf16_position(start)
    el, ec = lines.utf16_position(end)
    return types.Range(types.Position(sl, sc), types.Position(el, ec))


def _line_range(lines: LineIndex, line: int) -> types.Range:
    line = max(0, min(line, lines.line_count - 1))
    start = lines.line_starts[line]
    end = lines.line_starts[line + 1] if line + 1 < lines.line_count else len(lines.text)
    while end > start and lines.text[end - 1] in "\r\n":
        end -= 1
    return _lsp_range(lines, start, end)


def _config(path: Path | None) -> Config:
    from dockeropt.settings import clear_cache, config_for

    clear_cache()  # configuration files may have changed since the last version
    return config_for(path)


def _message(ch: Change) -> str:
    title = ch.title.strip()
    expl = ch.explanation.strip()
    return f"{title}\n{expl}" if expl else title


def analyse(uri: str, version: int | None, text: str, config: Config | None = None) -> Analysis:
    """Analyse one document version. Never raises."""
    from lsprotocol import types

    from dockeropt.source import LineIndex

    a = Analysis(uri, version, text, LineIndex(text))

    def fail(msg: str) -> Analysis:
        a.error = msg
        m = _LINE_IN_ERROR.search(msg)
        line = int(m.group(1)) - 1 if m else 0
        a.diagnostics = [
            types.Diagnostic(
                range=_line_range(a.lines, line),
                message=msg,
                severity=types.DiagnosticSeverity.Error,
                source=SOURCE,
            )
        ]
        return a

    try:
        from dockeropt.context import BuildContext
        from dockeropt.pipeline import InputError, hold_dependents, load, run_passes
        from dockeropt.rules import PassContext, selected_passes
        from dockeropt.settings import ConfigError

        if "\x00" in text:
            return fail("binary file (contains NUL bytes)")
        if len(text) > MAX_CHARS:
            return fail(f"file too large (the limit is {MAX_CHARS >> 20} MiB)")
        path = _path_of(uri)
        try:
            cfg = config if config is not None else _config(path)
        except ConfigError as exc:
            return fail(str(exc))
        try:
            doc = load(text)
        except InputError as exc:
            return fail(str(exc))
        ctx = PassContext(
            config=cfg,
            path=path,
            context=BuildContext(path.parent, dockerfile=path) if path is not None else None,
        )
        passes = selected_passes(cfg)
        ctx.enabled_rules = frozenset(p.id for p in passes)
        changes, errors = run_passes(doc, ctx, passes)
        # as the fix loop's first round: a pass that declares `after` waits while the rule it follows has a fix there
        changes, _held = hold_dependents(doc, changes, passes, cfg.min_safety, set())
        a.doc, a.ctx, a.passes, a.internal_errors = doc, ctx, passes, errors
        for ch in changes:
            rng = _lsp_range(a.lines, ch.range.start, ch.range.end)
            diag = types.Diagnostic(
                range=rng,
                message=_message(ch),
                severity=types.DiagnosticSeverity.Warning if ch.fix else types.DiagnosticSeverity.Information,
                code=ch.rule_id,
                source=SOURCE,
                data={"rule": ch.rule_id, "safety": ch.safety_label},
            )
            a.findings.append(Finding(ch, rng, diag))
            a.diagnostics.append(diag)
    except RecursionError:
        return fail("input too deeply nested")
    except Exception as exc:  # a bug must never take the editor's server down
        log.error("analysis failed: %s", "".join(traceback.format_exception(exc)))
        return fail(f"dockeropt internal error: {type(exc).__name__}: {exc}")
    return a


# ----------------------------------------------------------------------------- code actions


def _before(a: types.Position, b: types.Position) -> bool:
    return (a.line, a.character) <= (b.line, b.character)


def _touches(r: types.Range, s: types.Range) -> bool:
    """Do two LSP ranges overlap or touch (a cursor at a range's edge counts)?"""
    return _before(r.start, s.end) and _before(s.start, r.end)


def _kind_wanted(kind: str, only: Optional[list[str]]) -> bool:
    if not only:
        return True
    return any(kind == o or kind.startswith(o + ".") for o in only)


def _text_edit(a: Analysis, start: int, end: int, new: str) -> types.TextEdit:
    from lsprotocol import types

    return types.TextEdit(range=_lsp_range(a.lines, start, end), new_text=new)


def _workspace_edit(a: Analysis, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    from lsprotocol import types

    if a.version is None:
        return types.WorkspaceEdit(changes={a.uri: edits})
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=a.uri, version=a.version),
                edits=edits,  # type: ignore[arg-type]
            )
        ]
    )


def _fix_is_valid(a: Analysis, f: Finding) -> bool:
    """The pipeline's guard (see ``pipeline._valid``) for one quick fix: the fixed text
    parses with BuildKit and keeps every instruction the fix does not touch.

    The parse of the current text is shared by all fixes of a version.
    """
    if f.valid is None:
        f.valid = False
        try:
            f.valid = _check_fix(a, f)
        except Exception as exc:
            log.error("fix guard failed for %s: %s", f.change.rule_id, exc)
    return f.valid


def _check_fix(a: Analysis, f: Finding) -> bool:
    """The pipeline's own guard for this one fix (BuildKit parses are memoised there)."""
    from dockeropt.edits import apply_edits
    from dockeropt.pipeline import fix_is_sound

    fix = f.change.fix
    assert fix is not None
    return fix_is_sound(a.text, apply_edits(a.text, fix.edits), fix.edits)


WARM_UP_DELAY = 0.3  # seconds of quiet after a change before preparing answers


async def warm_up(a: Analysis, still_current: Any, fix_all: bool, near_line: int | None = None) -> None:
    """Prepare a fresh analysis's answers in idle time so code actions come from the cache.

    Waits for the user to stop typing (a newer version cancels the work), then
    checks every fix, nearest to the last edit first, one at a time, yielding to
    pending requests in between; with ``fix_all`` (clients that cannot resolve
    code actions lazily) it also runs the fix loop, in a worker thread.
    """
    import asyncio

    await asyncio.sleep(WARM_UP_DELAY)
    order = list(a.findings)
    if near_line is not None:
        order.sort(key=lambda f: abs(f.range.start.line - near_line))
    for f in order:
        await asyncio.sleep(0)
        if not still_current(a):
            return
        if f.change.fix is not None and f.valid is None:
            _fix_is_valid(a, f)
    if fix_all and a.error is None and still_current(a):
        await asyncio.get_running_loop().run_in_executor(None, a.fixed_text)


def quick_fix(a: Analysis, f: Finding) -> types.CodeAction | None:
    from lsprotocol import types

    from dockeropt.edits import Safety

    fix = f.change.fix
    if fix is None or not _fix_is_valid(a, f):
        return None
    edits = [_text_edit(a, e.range.start, e.range.end, e.text) for e in fix.edits]
    label = {Safety.SAFE: "", Safety.REVIEW: " (review)", Safety.UNSAFE: " (unsafe: needs your decision)"}[fix.safety]
    return types.CodeAction(
        title=f"{f.change.rule_id}: {f.change.title}{label}",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[f.diagnostic],
        is_preferred=fix.safety == Safety.SAFE,
        edit=_workspace_edit(a, edits),
    )


def _instruction_at(doc: Dockerfile, offset: int) -> Instruction | None:
    for ins in doc.instructions:
        if ins.full_range.start <= offset < max(ins.full_range.end, ins.full_range.start + 1):
            return ins
    return None


def ignore_action(a: Analysis, f: Finding) -> types.CodeAction | None:
    """Insert ``# dockeropt ignore=DOxxx`` above the instruction (or extend the pragma already there)."""
    from lsprotocol import types

    doc = a.doc
    if doc is None:
        return None
    rid = f.change.rule_id
    ins = _instruction_at(doc, f.change.range.start)
    if ins is None:
        return None
    line_start = a.lines.line_starts[a.lines.line_of(ins.range.start)]
    edit: types.TextEdit | None = None
    # a pragma right above the instruction: add the id to it
    if ins.leading_trivia and ins.leading_trivia[-1].kind == "comment":
        t = ins.leading_trivia[-1]
        body = t.text.rstrip("\r\n")
        m = _PRAGMA_LINE.match(body)
        if m and t.range.end == line_start:
            ids = [x.strip() for x in m.group(2).replace(" ", ",").split(",") if x.strip()]
            new_body = m.group(1) + ",".join([*ids, rid]) + m.group(3)
            edit = _text_edit(a, t.range.start, t.range.start + len(body), new_body)
    if edit is None:
        line = a.text[line_start : ins.range.end]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        edit = _text_edit(a, line_start, line_start, f"{indent}# dockeropt ignore={rid}{doc.newline}")
    return types.CodeAction(
        title=f"Ignore {rid} for this instruction",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[f.diagnostic],
        edit=_workspace_edit(a, [edit]),
    )


def fix_all_edit(a: Analysis) -> types.WorkspaceEdit | None:
    fixed = a.fixed_text()
    if fixed is None:
        return None
    return _workspace_edit(a, [_text_edit(a, 0, len(a.text), fixed)])


def code_actions(
    a: Analysis, rng: types.Range, context: types.CodeActionContext, lazy_fix_all: bool = False
) -> list[types.CodeAction]:
    from lsprotocol import types

    only = [str(k.value if hasattr(k, "value") else k) for k in context.only] if context.only else None
    out: list[types.CodeAction] = []
    if _kind_wanted(types.CodeActionKind.QuickFix.value, only):
        asked = {(d.code, d.range.start.line, d.range.start.character) for d in context.diagnostics if d.source == SOURCE}
        hits = [
            f
            for f in a.findings
            if _touches(f.range, rng) or (f.change.rule_id, f.range.start.line, f.range.start.character) in asked
        ]
        for f in hits:
            action = quick_fix(a, f)
            if action is not None:
                out.append(action)
        for f in hits:
            action = ignore_action(a, f)
            if action is not None:
                out.append(action)
    if a.error is None and any(f.change.fix for f in a.findings) and _kind_wanted(FIX_ALL_KIND, only):
        action = types.CodeAction(title="dockeropt: fix all", kind=FIX_ALL_KIND)
        if lazy_fix_all:
            action.data = {"uri": a.uri, "version": a.version}
            out.append(action)
        elif not only and not a.fix_all_ready():
            pass  # the light bulb must stay fast: offered once the idle warm-up has run the fix loop
        else:
            edit = fix_all_edit(a)
            if edit is not None:
                action.edit = edit
                out.append(action)
    return out


def hover(a: Analysis, pos: types.Position, markdown: bool = True) -> types.Hover | None:
    from lsprotocol import types

    from dockeropt.rules import load_passes

    hits = [f for f in a.findings if _before(f.range.start, pos) and _before(pos, f.range.end)]
    if not hits:
        return None
    passes = load_passes()
    parts: list[str] = []
    for f in hits:
        ch = f.change
        cls = passes.get(ch.rule_id)
        doc = cls.doc().render_text().rstrip() if cls is not None else ""
        head = f"{ch.rule_id} {ch.rule_name} ({ch.safety_label}): {ch.title}"
        if markdown:
            parts.append(f"**{head}**\n\n{ch.explanation.strip()}\n\n```text\n{doc}\n```")
        else:
            parts.append(f"{head}\n\n{ch.explanation.strip()}\n\n{doc}")
    kind = types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText
    sep = "\n\n---\n\n" if markdown else "\n\n"
    return types.Hover(contents=types.MarkupContent(kind=kind, value=sep.join(parts)), range=hits[0].range)


# ----------------------------------------------------------------------------- server


class Documents:
    """Analyses per URI, at most one version each."""

    def __init__(self) -> None:
        self._by_uri: dict[str, Analysis] = {}

    def get(self, uri: str, version: int | None, text: str) -> Analysis:
        a = self._by_uri.get(uri)
        if a is None or a.version != version or a.text != text:
            a = analyse(uri, version, text)
            self._by_uri[uri] = a
        return a

    def drop(self, uri: str) -> None:
        self._by_uri.pop(uri, None)

    def is_current(self, a: Analysis) -> bool:
        return self._by_uri.get(a.uri) is a


def build_server() -> LanguageServer:
    import asyncio

    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from dockeropt import __version__

    server = LanguageServer("dockeropt", __version__)
    docs = Documents()
    warming: set[asyncio.Task[None]] = set()

    def current(ls: LanguageServer, uri: str) -> Analysis:
        d = ls.workspace.get_text_document(uri)
        return docs.get(uri, d.version, d.source)

    def publish(ls: LanguageServer, uri: str, near_line: int | None = None) -> None:
        try:
            a = current(ls, uri)
        except Exception as exc:
            log.error("cannot read %s: %s", uri, exc)
            return
        for e in a.internal_errors:
            ls.window_log_message(types.LogMessageParams(type=types.MessageType.Warning, message=e))
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=a.version, diagnostics=a.diagnostics)
        )
        if a.error is None and a.findings:
            try:
                task = asyncio.get_running_loop().create_task(
                    warm_up(a, docs.is_current, not supports_resolve(ls), near_line)
                )
            except RuntimeError:  # no running loop (not under pygls's asyncio server)
                return
            warming.add(task)
            task.add_done_callback(warming.discard)

    def wants_markdown(ls: LanguageServer) -> bool:
        try:
            cap = ls.client_capabilities.text_document
            formats = cap.hover.content_format if cap and cap.hover else None
            return not formats or types.MarkupKind.Markdown in formats
        except Exception:
            return True

    def supports_resolve(ls: LanguageServer) -> bool:
        try:
            cap = ls.client_capabilities.text_document
            rs = cap.code_action.resolve_support if cap and cap.code_action else None
            return bool(rs and "edit" in rs.properties)
        except Exception:
            return False

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        last = params.content_changes[-1] if params.content_changes else None
        near = last.range.start.line if isinstance(last, types.TextDocumentContentChangePartial) else None
        publish(ls, params.text_document.uri, near)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        docs.drop(params.text_document.uri)  # the build context or the config may have changed
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        docs.drop(params.text_document.uri)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND],  # type: ignore[list-item]
            resolve_provider=True,
        ),
    )
    def code_action(ls: LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        try:
            a = current(ls, params.text_document.uri)
            return code_actions(a, params.range, params.context, lazy_fix_all=supports_resolve(ls))
        except Exception as exc:
            log.error("code action failed: %s", "".join(traceback.format_exception(exc)))
            return None

    @server.feature(types.CODE_ACTION_RESOLVE)
    def code_action_resolve(ls: LanguageServer, action: types.CodeAction) -> types.CodeAction:
        try:
            data: Any = action.data or {}
            uri = data.get("uri") if isinstance(data, dict) else None
            if action.kind == FIX_ALL_KIND and uri and action.edit is None:
                a = current(ls, uri)
                if a.version == data.get("version"):
                    action.edit = fix_all_edit(a) or types.WorkspaceEdit(changes={})
        except Exception as exc:
            log.error("code action resolve failed: %s", exc)
        return action

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
        try:
            return hover(current(ls, params.text_document.uri), params.position, wants_markdown(ls))
        except Exception as exc:
            log.error("hover failed: %s", exc)
            return None

    return server


def lsp_command(
    stdio: bool = typer.Option(True, "--stdio", help="Talk LSP over standard input/output (the only transport)."),
) -> None:
    """Run the language server (LSP over stdio) for editors."""
    logging.basicConfig(level=logging.WARNING, format="dockeropt-lsp: %(levelname)s %(message)s")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the LSP stream
    build_server().start_io(stdin, stdout)


def register(app: typer.Typer) -> None:
    app.command("lsp")(lsp_command)
