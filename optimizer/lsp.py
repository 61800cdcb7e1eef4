"""``dockeropt lsp``: a language server (pygls, stdio) for editors.

What the editor gets:

* diagnostics on open, change and save: exactly the findings ``dockeropt check`` reports for the
  same file and configuration (the whole fix loop runs, so changes found only after another fix,
  like a slim base once a runtime stage exists, are there too), one per finding: the rule id as
  the code, the title and the explanation as the message, *Warning* for findings with a fix and
  *Information* for display-only notes; a pragma naming no rule is a *Warning* on its line; a
  document dockeropt cannot load gets one *Error* diagnostic with the one-line reason;
* code actions: a quick fix per finding with that finding's own edits against the text as it is
  (``FixResult.fixes``; findings whose edits cannot be separated share one combined quick fix
  that says so), including the files the fix creates or changes (``CreateFile`` plus edits, so
  DO203's ``.dockerignore`` is created), offered only when the fixed text passes the pipeline's
  BuildKit guard; "Ignore DOxxx for this instruction" (adds a ``# dockeropt ignore=DOxxx`` pragma
  line above the instruction, or extends the pragma already there); ``source.fixAll.dockeropt``
  (what ``dockeropt fix`` writes: one edit replacing the document, plus the other files);
* hover over a finding: its explanation and the rule's ``dockeropt explain`` text.

Each document version is analysed once and every request for that version is answered from the
cache. A walk of the build context, and the facts drawn from the source files' texts, are kept
across versions (``BuildContext.walk_memo`` / ``content_memo``): a walk while no folder it listed
has changed, the facts while the texts are the same, so an edit beside a big monorepo does not
walk and scan it again. The build context of a ``file://`` document is its folder; the configuration comes from
the same loader as the command line (``dockeropt.settings.Loader``): the nearest
``.dockeropt.toml`` or ``[tool.dockeropt]`` table, re-read for every new version.

This module is imported only by ``dockeropt lsp``; pygls and lsprotocol (slow to import) are
imported when the server is built.
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

if TYPE_CHECKING:
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from dockeropt.config import Config
    from dockeropt.edits import Change, Edit
    from dockeropt.pipeline import FixResult
    from dockeropt.rules import Pass, PassContext
    from dockeropt.source import LineIndex
    from dockeropt.syntax import Dockerfile

log = logging.getLogger("dockeropt.lsp")

SOURCE = "dockeropt"
FIX_ALL_KIND = "source.fixAll.dockeropt"
MAX_CHARS = 1 << 20  # as the command line: real Dockerfiles are a few KiB
_LINE_IN_ERROR = re.compile(r"\bline (\d+)\b")


# ----------------------------------------------------------------------------- analysis


@dataclass
class Finding:
    """One finding of the current text (as ``dockeropt check`` reports it), with its LSP range and diagnostic."""

    change: Change
    range: types.Range
    diagnostic: types.Diagnostic
    applied: int | None = None  # index into FixResult.applied; None for a note
    valid: bool | None = None  # does its quick fix keep the Dockerfile valid? (checked on demand)


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
    result: FixResult | None = None
    findings: list[Finding] = field(default_factory=list)
    diagnostics: list[types.Diagnostic] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    create_files: bool = True  # the client can create files (resource operations)
    _first_round: list[Change] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fixed_text(self) -> str | None:
        """The fix loop's output for this version (None: unchanged or failed)."""
        r = self.result
        return r.fixed if r is not None and r.fixed != r.original else None

    def first_round(self) -> list[Change]:
        """The passes' changes on the text as it is (for fixes held back by the safety level); thread-safe."""
        with self._lock:
            if self._first_round is None:
                found: list[Change] = []
                if self.doc is not None and self.ctx is not None:
                    from dockeropt.pipeline import run_passes

                    try:
                        found, _ = run_passes(self.doc, self.ctx, self.passes)
                    except Exception as exc:  # never crash the server
                        log.error("passes failed: %s", exc)
                self._first_round = found
            return self._first_round


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
    """The shared loader, reading the configuration files afresh (they may have changed)."""
    from dockeropt.settings import Loader

    return Loader().config(path)


def _message(ch: Change) -> str:
    title = ch.title.strip()
    expl = ch.explanation.strip()
    return f"{title}\n{expl}" if expl else title


def _finding_range(a: Analysis, ch: Change) -> types.Range:
    start, end = ch.range.start, ch.range.end
    if end <= start:  # a change in text dockeropt inserted maps to a point: show its line
        return _line_range(a.lines, a.lines.line_of(start))
    end = min(end, len(a.text))
    # up to the end of the instruction's text on its last line, not into the next line
    while end > start and a.text[end - 1] in "\r\n":
        end -= 1
    return _lsp_range(a.lines, start, end)


def analyse(uri: str, version: int | None, text: str, config: Config | None = None) -> Analysis:
    """Analyse one document version: the same fix loop ``dockeropt check`` runs. Never raises."""
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
        from dockeropt.pipeline import InputError, fix_text, load
        from dockeropt.rules import PassContext
        from dockeropt.runner import make_context
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
        from dockeropt.migrate import passes_for

        passes = passes_for(cfg)
        ctx = PassContext(config=cfg, path=path, context=make_context(path, None))
        try:
            result = fix_text(text, ctx, passes)  # loads (validates) the text; ctx's overlay holds the fixed files
        except InputError as exc:
            return fail(str(exc))
        doc = load(text)  # BuildKit's verdict is memoised: this is our parser only
        first_ctx = PassContext(config=cfg, path=path, context=make_context(path, None))
        first_ctx.enabled_rules = frozenset(p.id for p in passes)
        a.doc, a.ctx, a.passes, a.result, a.internal_errors = doc, first_ctx, passes, result, list(result.errors)
        for line, msg in result.warnings:
            a.diagnostics.append(types.Diagnostic(
                range=_line_range(a.lines, line - 1), message=msg, severity=types.DiagnosticSeverity.Warning,
                code="pragma", source=SOURCE,
            ))
        items: list[tuple[Change, int | None]] = [(c, i) for i, c in enumerate(result.applied)]
        items += [(c, None) for c in result.notes]
        for ch, index in sorted(items, key=lambda t: (t[0].line, t[0].rule_id)):
            rng = _finding_range(a, ch)
            diag = types.Diagnostic(
                range=rng,
                message=_message(ch),
                severity=types.DiagnosticSeverity.Warning if ch.fix else types.DiagnosticSeverity.Information,
                code=ch.rule_id,
                source=SOURCE,
                data={"rule": ch.rule_id, "safety": ch.safety_label},
            )
            a.findings.append(Finding(ch, rng, diag, index))
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


def _other_file_uri(a: Analysis, rel: str) -> str | None:
    if a.ctx is None or a.ctx.context is None:
        return None
    from pygls.uris import from_fs_path

    return from_fs_path(str(a.ctx.context.root / rel))


def _workspace_edit(a: Analysis, edits: list[types.TextEdit], files: tuple[str, ...] = ()) -> types.WorkspaceEdit | None:
    """The document's edits, plus the other files (created with ``CreateFile``, or replaced whole)."""
    from lsprotocol import types

    from dockeropt.source import LineIndex

    if not files and a.version is None:
        return types.WorkspaceEdit(changes={a.uri: edits})
    ops: list[Any] = []
    if edits:
        ops.append(types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=a.uri, version=a.version),
            edits=edits,  # type: ignore[arg-type]
        ))
    result = a.result
    for rel in files:
        if result is None or rel not in result.files:
            continue
        old, new = result.files[rel]
        uri = _other_file_uri(a, rel)
        if uri is None:
            return None
        doc_id = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None)
        if old is None:
            if not a.create_files:
                return None  # the client cannot create files: no half a fix
            # no overwrite, no ignore-if-exists: should the file appear meanwhile, the client refuses the
            # whole edit instead of writing into it
            ops.append(types.CreateFile(uri=uri))
            ops.append(types.TextDocumentEdit(text_document=doc_id, edits=[
                types.TextEdit(range=types.Range(types.Position(0, 0), types.Position(0, 0)), new_text=new)]))
        else:
            li = LineIndex(old)
            el, ec = li.utf16_position(len(old))
            ops.append(types.TextDocumentEdit(text_document=doc_id, edits=[
                types.TextEdit(range=types.Range(types.Position(0, 0), types.Position(el, ec)), new_text=new)]))
    return types.WorkspaceEdit(document_changes=ops)


@dataclass(frozen=True)
class _Fix:
    title_rules: tuple[str, ...]  # the rules whose edits this is
    title: str
    edits: tuple[Edit, ...]
    files: tuple[str, ...]
    safety: Any


def _fix_of(a: Analysis, f: Finding) -> _Fix | None:
    """The finding's own edits against the document (or the combined fix holding them)."""
    from dockeropt.edits import Safety

    r = a.result
    ch = f.change
    if r is None or ch.fix is None:
        return None
    if f.applied is None:
        # a fix held back (safety level, a pragma): the passes' own edits on the text as it is
        for c in a.first_round():
            if c.fix is not None and (c.rule_id, c.title, c.explanation) == (ch.rule_id, ch.title, ch.explanation):
                return _Fix((c.rule_id,), c.title, c.fix.edits, tuple(fc.path for fc in c.fix.files), c.fix.safety)
        return None
    fx = r.fixes[f.applied]
    index = f.applied
    if not fx.edits and not fx.files and fx.carried_by:
        index = fx.carried_by[0]
        fx = r.fixes[index]
    carrier = r.applied[index]
    if not fx.edits and not fx.files:
        return None
    rules = (carrier.rule_id, *fx.combined)
    safety = min((r.applied[i].fix.safety for i in range(len(r.applied))  # type: ignore[union-attr]
                  if r.applied[i].rule_id in rules and r.applied[i].fix is not None), default=Safety.SAFE)
    return _Fix(rules, carrier.title, fx.edits, fx.files, safety)


def _fix_is_valid(a: Analysis, f: Finding) -> bool:
    """The pipeline's guard for one quick fix: the fixed text parses with BuildKit and keeps every
    instruction the fix does not touch (BuildKit parses are memoised there)."""
    if f.valid is None:
        f.valid = False
        try:
            fix = _fix_of(a, f)
            if fix is not None:
                from dockeropt.edits import apply_edits
                from dockeropt.pipeline import fix_is_sound

                f.valid = not fix.edits or fix_is_sound(a.text, apply_edits(a.text, fix.edits), fix.edits)
        except Exception as exc:
            log.error("fix guard failed for %s: %s", f.change.rule_id, exc)
    return f.valid


WARM_UP_DELAY = 0.3  # seconds of quiet after a change before preparing answers


async def warm_up(a: Analysis, still_current: Any, fix_all: bool, near_line: int | None = None) -> None:
    """Check every quick fix in idle time, nearest to the last edit first, so code actions come from the cache.

    Waits for the user to stop typing (a newer version cancels the work) and yields to pending
    requests between fixes; the edits of fixes held back (safety level) are computed first, in a
    worker thread.
    """
    import asyncio

    await asyncio.sleep(WARM_UP_DELAY)
    order = list(a.findings)
    if near_line is not None:
        order.sort(key=lambda f: abs(f.range.start.line - near_line))
    if any(f.applied is None and f.change.fix is not None for f in order):
        await asyncio.sleep(0)
        if not still_current(a):
            return
        await asyncio.get_running_loop().run_in_executor(None, a.first_round)  # fixes held back: their edits
    for f in order:
        await asyncio.sleep(0)
        if not still_current(a):
            return
        if f.change.fix is not None and f.valid is None:
            _fix_is_valid(a, f)


def quick_fix(a: Analysis, f: Finding) -> types.CodeAction | None:
    from lsprotocol import types

    from dockeropt.edits import Safety

    fix = _fix_of(a, f)
    if fix is None or not _fix_is_valid(a, f):
        return None
    edit = _workspace_edit(a, [_text_edit(a, e.range.start, e.range.end, e.text) for e in fix.edits], fix.files)
    if edit is None:
        return None
    label = {Safety.SAFE: "", Safety.REVIEW: " (review)", Safety.UNSAFE: " (unsafe: needs your decision)"}[fix.safety]
    if len(fix.title_rules) > 1:
        title = f"{'+'.join(fix.title_rules)}: {fix.title} (one fix: their edits cannot be separated){label}"
    else:
        title = f"{fix.title_rules[0]}: {fix.title}{label}"
    files = [rel for rel in fix.files if a.result is not None and a.result.files.get(rel, (None, ""))[0] is None]
    if files:
        title += f" (creates {', '.join(files)})"
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[f.diagnostic],
        is_preferred=fix.safety == Safety.SAFE and len(fix.title_rules) == 1,
        edit=edit,
    )


def ignore_action(a: Analysis, f: Finding) -> types.CodeAction | None:
    """Insert ``# dockeropt ignore=DOxxx`` above the instruction (or extend the pragma already there)."""
    from lsprotocol import types

    from dockeropt.pragmas import instruction_at, pragma_edit_parts

    doc = a.doc
    if doc is None:
        return None
    rid = f.change.rule_id
    ins = instruction_at(doc, f.change.range.start)
    if ins is None:
        return None
    line_start = a.lines.line_starts[a.lines.line_of(ins.range.start)]
    edit: types.TextEdit | None = None
    # a pragma right above the instruction: add the id to it
    if ins.leading_trivia and ins.leading_trivia[-1].kind == "comment":
        t = ins.leading_trivia[-1]
        body = t.text.rstrip("\r\n")
        parts = pragma_edit_parts(body)
        if parts is not None and t.range.end == line_start:
            head, ids, tail = parts
            new_body = head + ",".join([*ids, rid]) + tail
            edit = _text_edit(a, t.range.start, t.range.start + len(body), new_body)
    if edit is None:
        line = a.text[line_start : ins.range.end]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        edit = _text_edit(a, line_start, line_start, f"{indent}# dockeropt ignore={rid}{doc.newline}")
    ws = _workspace_edit(a, [edit])
    return types.CodeAction(
        title=f"Ignore {rid} for this instruction",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[f.diagnostic],
        edit=ws,
    )


def fix_all_edit(a: Analysis) -> types.WorkspaceEdit | None:
    """What ``dockeropt fix`` writes: the document replaced whole, plus the files the fixes create or change."""
    r = a.result
    if r is None or not r.changed:
        return None
    edits = [_text_edit(a, 0, len(a.text), r.fixed)] if r.fixed != r.original else []
    files = tuple(rel for rel, (old, new) in sorted(r.files.items()) if old != new)
    ws = _workspace_edit(a, edits, files)
    if ws is None and edits:  # the client cannot create files: at least the Dockerfile
        ws = _workspace_edit(a, edits)
    return ws


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
        seen: set[str] = set()
        for f in hits:
            action = quick_fix(a, f)
            if action is not None and action.title not in seen:
                seen.add(action.title)
                out.append(action)
        for f in hits:
            action = ignore_action(a, f)
            if action is not None and action.title not in seen:
                seen.add(action.title)
                out.append(action)
    r = a.result
    if a.error is None and r is not None and r.changed and _kind_wanted(FIX_ALL_KIND, only):
        action = types.CodeAction(title="dockeropt: fix all", kind=FIX_ALL_KIND)
        if lazy_fix_all:
            action.data = {"uri": a.uri, "version": a.version}
            out.append(action)
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
        self.create_files = True

    def get(self, uri: str, version: int | None, text: str) -> Analysis:
        a = self._by_uri.get(uri)
        if a is None or a.version != version or a.text != text:
            a = analyse(uri, version, text)
            a.create_files = self.create_files
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
        docs.create_files = supports_create(ls)
        return docs.get(uri, d.version, d.source)

    def supports_create(ls: LanguageServer) -> bool:
        """Can the client apply ``CreateFile`` in a workspace edit? (DO203 creates .dockerignore.)"""
        try:
            we = ls.client_capabilities.workspace.workspace_edit  # type: ignore[union-attr]
            ops = [str(getattr(o, "value", o)) for o in (we.resource_operations or [])] if we else []
            return bool(we and we.document_changes and "create" in ops)
        except Exception:
            return False

    def publish(ls: LanguageServer, uri: str, near_line: int | None = None) -> None:
        from dockeropt.pipeline import gc_paused

        # the collector's first pass over what the analysis built (tens of ms on a 300-line file) comes
        # after the diagnostics are written, not between the edit and the squiggles
        with gc_paused():
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


def lsp_command() -> None:
    """Run the language server (LSP over stdio) for editors."""
    logging.basicConfig(level=logging.WARNING, format="dockeropt-lsp: %(levelname)s %(message)s")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the LSP stream
    from dockeropt import oracle

    oracle.long_lived()  # BuildKit's verdicts from the helper process for every document but the smallest
    build_server().start_io(stdin, stdout)

