"""End-to-end tests of ``dockeropt lsp`` with a real LSP client (pygls's) over stdio.

One server process per module: the client runs on its own event loop, and
every test drives it with ``loop.run_until_complete``.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "examples" / "node-naive"
TIMEOUT = 15.0


class Session:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = LanguageClient("dockeropt-tests", "1")
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.versions: dict[str, int | None] = {}
        self._waiters: list[tuple[str, int | None, asyncio.Future[None]]] = []
        self.logs: list[str] = []
        self._next_version = 1

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)
            self.versions[params.uri] = params.version
            for uri, version, fut in self._waiters:
                if uri == params.uri and (version is None or version == params.version) and not fut.done():
                    fut.set_result(None)

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params: types.LogMessageParams) -> None:
            self.logs.append(params.message)

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_show(params: types.ShowMessageParams) -> None:
            self.logs.append(params.message)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT))

    def start(self, resolve_support: bool = False) -> None:
        caps = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                code_action=types.CodeActionClientCapabilities(
                    resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]) if resolve_support else None,
                ),
                hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
            ),
            workspace=types.WorkspaceClientCapabilities(
                workspace_edit=types.WorkspaceEditClientCapabilities(
                    document_changes=True, resource_operations=[types.ResourceOperationKind.Create],
                ),
            ),
        )

        async def go() -> None:
            await self.client.start_io(sys.executable, "-m", "dockeropt", "lsp")
            await self.client.initialize_async(types.InitializeParams(capabilities=caps, process_id=None))
            self.client.initialized(types.InitializedParams())

        self.run(go())

    def stop(self) -> None:
        async def go() -> None:
            await self.client.shutdown_async(None)
            self.client.exit(None)
            await self.client.stop()

        try:
            self.run(go())
        finally:
            self.loop.close()

    def _wait(self, uri: str, version: int | None) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self.loop.create_future()
        self._waiters.append((uri, version, fut))
        return fut

    def open(self, uri: str, text: str) -> list[types.Diagnostic]:
        version = self._next_version
        self._next_version += 1
        fut = self._wait(uri, version)
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="dockerfile", version=version, text=text)
            )
        )
        self.run(fut)
        return self.diagnostics[uri]

    def change(self, uri: str, text: str) -> list[types.Diagnostic]:
        version = self._next_version
        self._next_version += 1
        fut = self._wait(uri, version)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        self.run(fut)
        return self.diagnostics[uri]

    def save(self, uri: str) -> list[types.Diagnostic]:
        fut = self._wait(uri, None)
        self.client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        self.run(fut)
        return self.diagnostics[uri]

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    def actions(
        self, uri: str, rng: types.Range, only: list[str] | None = None, diagnostics: list[types.Diagnostic] | None = None
    ) -> list[types.CodeAction]:
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),  # type: ignore[arg-type]
        )
        result = self.run(self.client.text_document_code_action_async(params))
        return [a for a in result or [] if isinstance(a, types.CodeAction)]

    def resolve(self, action: types.CodeAction) -> types.CodeAction:
        return self.run(self.client.code_action_resolve_async(action))

    def hover(self, uri: str, line: int, character: int) -> types.Hover | None:
        return self.run(
            self.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=line, character=character),
                )
            )
        )


@pytest.fixture(scope="module")
def lsp() -> Iterator[Session]:
    s = Session()
    s.start()
    yield s
    s.stop()


@pytest.fixture
def node_copy(tmp_path: Path) -> Path:
    """A copy of the naive node example (Dockerfile and build context)."""
    dst = tmp_path / "node-naive"
    shutil.copytree(NODE, dst)
    # pin the rules, so that new rules elsewhere do not change these expectations
    (tmp_path / ".dockeropt.toml").write_text(f"select = {list(NODE_RULES)!r}\n".replace("'", '"'))
    return dst / "Dockerfile"


def _r(sl: int, sc: int, el: int, ec: int) -> types.Range:
    return types.Range(types.Position(sl, sc), types.Position(el, ec))


def _edits(action: types.CodeAction) -> tuple[str, list[types.TextEdit]]:
    assert action.edit is not None
    if action.edit.document_changes:
        (dc,) = [d for d in action.edit.document_changes if isinstance(d, types.TextDocumentEdit)
                 and d.text_document.uri.endswith(("Dockerfile", ".Dockerfile"))]
        return dc.text_document.uri, list(dc.edits)  # type: ignore[arg-type]
    assert action.edit.changes
    ((uri, edits),) = action.edit.changes.items()
    return uri, list(edits)


def _apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP edits (ASCII text: UTF-16 columns are code points)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))

    def off(p: types.Position) -> int:
        return starts[p.line] + p.character if p.line < len(starts) else len(text)

    out = text
    for e in sorted(edits, key=lambda e: off(e.range.start), reverse=True):
        out = out[: off(e.range.start)] + e.new_text + out[off(e.range.end) :]
    return out


NODE_TEXT = NODE.joinpath("Dockerfile").read_text()
NODE_RULES = ("DO101", "DO102", "DO107", "DO201", "DO202", "DO301")


def test_diagnostics_on_open(lsp: Session, node_copy: Path) -> None:
    uri = from_fs_path(str(node_copy))
    diags = lsp.open(uri, NODE_TEXT)
    by_code = {d.code: d for d in diags}
    # every finding `dockeropt check` reports, those found only after another fix included
    # (DO202 has nothing to slim: the runtime stage DO201 writes is distroless)
    assert sorted(by_code) == ["DO101", "DO102", "DO107", "DO201", "DO301"]
    d101 = by_code["DO101"]
    assert d101.range == _r(2, 0, 2, 8)  # COPY . .
    assert d101.severity == types.DiagnosticSeverity.Warning
    assert d101.source == "dockeropt"
    title, _, explanation = d101.message.partition("\n")
    assert title == "Copy npm manifests and install before copying the source"
    assert explanation.startswith("Copies package.json, package-lock.json first and runs `npm install`")
    assert by_code["DO201"].range == _r(0, 0, 0, 12)
    lsp.close(uri)


def _cli_findings(path: Path) -> list[tuple[str, int, str]]:
    import json
    import subprocess

    res = subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--check", "--format", "json", path.name],
                         cwd=path.parent, capture_output=True, text=True, timeout=120)
    (f,) = json.loads(res.stdout)["files"]
    return sorted((c["rule"], c["line"], c["title"]) for c in f["changes"])


def test_the_lsp_publishes_exactly_the_clis_findings(lsp: Session, tmp_path: Path) -> None:
    # the same file, the same configuration (default rules, no .dockeropt.toml): the same findings
    for name, text in [("node", NODE_TEXT),
                       ("apt", "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nEXPOSE 80\n"
                               "CMD [\"curl\", \"--version\"]\n")]:
        d = tmp_path / name
        shutil.copytree(NODE, d)
        (d / "Dockerfile").write_text(text)
        uri = from_fs_path(str(d / "Dockerfile"))
        diags = lsp.open(uri, text)
        published = sorted((str(x.code), x.range.start.line + 1, x.message.partition("\n")[0]) for x in diags)
        assert published == _cli_findings(d / "Dockerfile"), name
        if name == "node":  # DO301 and DO403, found only after DO201's runtime stage, are there too
            assert {"DO201", "DO301", "DO403"} <= {code for code, _, _ in published}, published
        lsp.close(uri)


def test_quick_fix_and_fix_all_create_files(lsp: Session, tmp_path: Path) -> None:
    # DO203 writes a .dockerignore: its quick fix creates it, and so does fix-all
    d = tmp_path / "svc"
    shutil.copytree(NODE, d)
    (d / "node_modules").mkdir()
    (d / "node_modules" / "x.js").write_text("1")
    (d / ".dockeropt.toml").write_text('select = ["DO101", "DO203"]\n')
    uri = from_fs_path(str(d / "Dockerfile"))
    diags = lsp.open(uri, NODE_TEXT)
    d203 = next(x for x in diags if x.code == "DO203")
    (fix,) = [a for a in lsp.actions(uri, d203.range, only=["quickfix"], diagnostics=[d203])
              if a.title.startswith("DO203")]
    assert fix.edit is not None and fix.edit.document_changes
    ignore_uri = from_fs_path(str(d / ".dockerignore"))
    creates = [c for c in fix.edit.document_changes if isinstance(c, types.CreateFile)]
    assert [c.uri for c in creates] == [ignore_uri]
    texts = [e.new_text for c in fix.edit.document_changes if isinstance(c, types.TextDocumentEdit)
             and c.text_document.uri == ignore_uri for e in c.edits]
    assert texts and "node_modules" in texts[0]
    (fix_all,) = lsp.actions(uri, _r(0, 0, 0, 0), only=["source.fixAll"])
    assert fix_all.edit is not None and fix_all.edit.document_changes
    assert [c.uri for c in fix_all.edit.document_changes if isinstance(c, types.CreateFile)] == [ignore_uri]
    assert not (d / ".dockerignore").exists()  # the server never writes: the editor applies the edit
    lsp.close(uri)


def test_quick_fix_exact_edits(lsp: Session, node_copy: Path) -> None:
    uri = from_fs_path(str(node_copy))
    diags = lsp.open(uri, NODE_TEXT)
    by_code = {d.code: d for d in diags}
    # DO201's quick fix writes the stages, with DO301's USER line (inside the stage it writes) and
    # nothing of DO101/DO102/DO107's RUN
    (stage,) = [a for a in lsp.actions(uri, by_code["DO201"].range, only=["quickfix"],
                                       diagnostics=[by_code["DO201"]]) if a.title.startswith("DO201")]
    assert stage.title.startswith("DO201+DO301: "), stage.title
    staged = _apply(NODE_TEXT, _edits(stage)[1])
    assert "FROM gcr.io/distroless/nodejs18-debian12" in staged and "USER 65532:65532" in staged
    assert "npm ci" not in staged and "--mount" not in staged
    # DO102 and DO107 edit the RUN DO101 writes: one combined quick fix that says so
    d101 = by_code["DO101"]
    actions = lsp.actions(uri, _r(2, 3, 2, 3), diagnostics=[d101])
    titles = [a.title for a in actions]
    assert titles[0] == ("DO101+DO102+DO107: Copy npm manifests and install before copying the source "
                         "(one fix: their edits cannot be separated) (review)")
    assert "Ignore DO101 for this instruction" in titles
    fix = actions[0]
    assert fix.kind == types.CodeActionKind.QuickFix
    assert fix.diagnostics is not None and fix.diagnostics[0].code == "DO101"
    doc_uri, edits = _edits(fix)
    assert doc_uri == uri
    assert _apply(NODE_TEXT, edits) == (
        "FROM node:18\nWORKDIR /app\nCOPY package.json package-lock.json ./\n"
        "RUN --mount=type=cache,target=/root/.npm npm ci\nCOPY . .\nRUN npm run build\nEXPOSE 3000\n"
        "CMD [\"node\", \"dist/server.js\"]\n"
    )
    lsp.close(uri)


def test_ignore_pragma_action(lsp: Session, node_copy: Path) -> None:
    uri = from_fs_path(str(node_copy))
    lsp.open(uri, NODE_TEXT)
    actions = lsp.actions(uri, _r(2, 0, 2, 0), only=["quickfix"])
    ignore = next(a for a in actions if a.title == "Ignore DO101 for this instruction")
    _, edits = _edits(ignore)
    assert edits == [types.TextEdit(_r(2, 0, 2, 0), "# dockeropt ignore=DO101\n")]
    ignored = _apply(NODE_TEXT, edits)
    # the pragma works: DO101 is gone after the edit, the other findings stay
    codes = sorted(str(d.code) for d in lsp.change(uri, ignored))
    assert codes == ["DO102", "DO107", "DO201", "DO301"]
    # a second rule on the same instruction extends the pragma line instead of adding one
    actions = lsp.actions(uri, _r(4, 5, 4, 5), only=["quickfix"])
    ignore107 = next(a for a in actions if a.title == "Ignore DO107 for this instruction")
    assert _edits(ignore107)[1] == [types.TextEdit(_r(4, 0, 4, 0), "# dockeropt ignore=DO107\n")]
    lsp.close(uri)


def test_ignore_keeps_indentation_and_crlf(lsp: Session, tmp_path: Path) -> None:
    uri = from_fs_path(str(tmp_path / "Dockerfile"))
    text = "FROM node:18\r\nWORKDIR /app\r\n# dockeropt ignore=DO107\r\n  RUN npm install\r\n"
    diags = lsp.open(uri, text)
    assert "DO102" in {d.code for d in diags}
    actions = lsp.actions(uri, _r(3, 6, 3, 6), only=["quickfix"])
    ignore = next(a for a in actions if a.title == "Ignore DO102 for this instruction")
    assert _edits(ignore)[1] == [types.TextEdit(_r(2, 0, 2, 24), "# dockeropt ignore=DO107,DO102")]
    text2 = "FROM node:18\r\nWORKDIR /app\r\n  RUN npm install\r\n"
    lsp.change(uri, text2)
    actions = lsp.actions(uri, _r(2, 6, 2, 6), only=["quickfix"])
    ignore = next(a for a in actions if a.title == "Ignore DO102 for this instruction")
    assert _edits(ignore)[1] == [types.TextEdit(_r(2, 0, 2, 0), "  # dockeropt ignore=DO102\r\n")]
    lsp.close(uri)


def test_fix_all(lsp: Session, node_copy: Path) -> None:
    from dockeropt.pipeline import fix_text
    from dockeropt.rules import PassContext
    from dockeropt.runner import make_context
    from dockeropt.settings import config_for

    uri = from_fs_path(str(node_copy))
    lsp.open(uri, NODE_TEXT)
    actions = lsp.actions(uri, _r(0, 0, 0, 0), only=["source.fixAll"])
    assert [a.kind for a in actions] == ["source.fixAll.dockeropt"]
    _, edits = _edits(actions[0])
    assert len(edits) == 1 and edits[0].range == _r(0, 0, 6, 0)  # the whole document
    cfg = config_for(node_copy)  # the server honours the nearest .dockeropt.toml too
    assert cfg.select == list(NODE_RULES)
    expected = fix_text(NODE_TEXT, PassContext(config=cfg, path=node_copy, context=make_context(node_copy, None))).fixed
    assert edits[0].new_text == expected
    assert expected.startswith("FROM node:18 AS build\nWORKDIR /app\nCOPY package.json package-lock.json ./\n")  # DO202 leaves build stages alone
    # nothing left to fix: no fixAll action
    lsp.change(uri, expected)
    assert lsp.actions(uri, _r(0, 0, 0, 0), only=["source.fixAll"]) == []
    # only= filters: quick fixes are not source actions
    lsp.change(uri, NODE_TEXT)
    assert lsp.actions(uri, _r(2, 0, 2, 0), only=["source"])[0].kind == "source.fixAll.dockeropt"
    assert all(a.kind == "quickfix" for a in lsp.actions(uri, _r(2, 0, 2, 0), only=["quickfix"]))
    lsp.close(uri)


def test_diagnostics_follow_changes_and_save(lsp: Session, node_copy: Path) -> None:
    uri = from_fs_path(str(node_copy))
    lsp.open(uri, NODE_TEXT)
    fixed_copy = NODE_TEXT.replace("COPY . .\n", "COPY package.json package-lock.json ./\n", 1)
    diags = lsp.change(uri, fixed_copy)
    assert "DO101" not in {d.code for d in diags}
    assert lsp.versions[uri] == lsp._next_version - 1
    # no longer a valid Dockerfile: one error diagnostic with BuildKit's one-line reason, on its line
    broken = "FROM node:18\nFROBNICATE x\nRUN <<EOF\n"
    (err,) = lsp.change(uri, broken)
    assert err.severity == types.DiagnosticSeverity.Error
    assert err.source == "dockeropt"
    assert err.message == "not a valid Dockerfile: unterminated heredoc"
    (err,) = lsp.change(uri, "FROM node:18\nFROBNICATE x\n")
    assert err.message == "line 2: unknown instruction 'FROBNICATE'"
    assert err.range == _r(1, 0, 1, 12)
    # saving re-reads the build context: a new lockfile is seen without an edit
    lsp.change(uri, NODE_TEXT)
    (node_copy.parent / "package-lock.json").unlink()
    diags = lsp.save(uri)
    d101 = next(d for d in diags if d.code == "DO101")
    assert "package-lock.json" not in d101.message
    lsp.close(uri)


def test_bad_documents_give_one_error(lsp: Session, tmp_path: Path) -> None:
    uri = from_fs_path(str(tmp_path / "Dockerfile"))
    cases = {
        "\x7fELF\x02\x01\x01\x00\x00\x00\x00garbage": "binary file (contains NUL bytes)",
        "": "empty file",
        "# just a comment\n": "not a valid Dockerfile: file with no instructions",
        "FROBNICATE x\n": "line 1: unknown instruction 'FROBNICATE'",
    }
    first = True
    for text, message in cases.items():
        diags = lsp.open(uri, text) if first else lsp.change(uri, text)
        first = False
        assert [(d.severity, d.message) for d in diags] == [(types.DiagnosticSeverity.Error, message)]
        assert lsp.actions(uri, _r(0, 0, 0, 0)) == []
        assert lsp.hover(uri, 0, 0) is None
    lsp.close(uri)
    # the server survived all of that
    diags = lsp.open(uri, "FROM alpine:3.19\nUSER 1000\nCMD [\"true\"]\n")
    assert all(d.severity != types.DiagnosticSeverity.Error for d in diags)
    lsp.close(uri)


def test_bad_config_is_an_error_diagnostic(lsp: Session, tmp_path: Path) -> None:
    (tmp_path / ".dockeropt.toml").write_text('select = ["DO999"]\n')
    uri = from_fs_path(str(tmp_path / "Dockerfile"))
    (d,) = lsp.open(uri, NODE_TEXT)
    assert d.severity == types.DiagnosticSeverity.Error
    assert ".dockeropt.toml: key 'select'" in d.message
    (tmp_path / ".dockeropt.toml").write_text('ignore = ["DO2"]\n')
    codes = {str(x.code) for x in lsp.save(uri)}
    assert "DO101" in codes and not any(c.startswith("DO2") for c in codes)
    lsp.close(uri)


def test_hover_shows_explanation_and_rule(lsp: Session, node_copy: Path) -> None:
    from dockeropt.rules import load_passes

    uri = from_fs_path(str(node_copy))
    lsp.open(uri, NODE_TEXT)
    h = lsp.hover(uri, 2, 4)
    assert h is not None and isinstance(h.contents, types.MarkupContent)
    assert h.contents.kind == types.MarkupKind.Markdown
    value = h.contents.value
    assert value.startswith("**DO101 split-dependency-copy (safe): Copy npm manifests and install before copying")
    assert "editing the source no longer re-runs the dependency install" in value
    assert load_passes()["DO101"].doc().render_text().rstrip() in value  # `dockeropt explain DO101`
    assert h.range == _r(2, 0, 2, 8)
    assert lsp.hover(uri, 1, 3) is None  # WORKDIR: nothing to say
    lsp.close(uri)


def test_utf16_columns(lsp: Session, tmp_path: Path) -> None:
    uri = from_fs_path(str(tmp_path / "Dockerfile"))
    text = "FROM node:18\nLABEL note=\"\U0001f433 é\"\nRUN npm install\n"
    diags = lsp.open(uri, text)
    d102 = next(d for d in diags if d.code == "DO102")
    assert d102.range == _r(2, 0, 2, 15)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(NODE / name, tmp_path / name)
    text = "FROM node:18\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN echo \U0001f433 && npm install\n"
    diags = lsp.change(uri, text)
    d107 = next(d for d in diags if d.code == "DO107")
    action = next(a for a in lsp.actions(uri, d107.range, only=["quickfix"]) if a.title.startswith("DO107"))
    # "npm install" starts after the emoji, which is two UTF-16 code units
    assert d107.range == _r(3, 0, 3, 26)
    assert _edits(action)[1] == [types.TextEdit(_r(3, 19, 3, 26), "ci")]
    lsp.close(uri)


def test_fix_all_resolved_lazily() -> None:
    s = Session()
    s.start(resolve_support=True)
    try:
        uri = from_fs_path(str(NODE / "Dockerfile"))
        s.open(uri, NODE_TEXT)
        (action,) = s.actions(uri, _r(0, 0, 0, 0), only=["source.fixAll.dockeropt"])
        assert action.edit is None and action.data is not None
        resolved = s.resolve(action)
        _, edits = _edits(resolved)
        # the whole fix: the manifest stage (DO113), then the build stage the runtime copies from (DO201)
        assert edits[0].new_text.startswith("FROM node:18 AS build-manifest\n") and "\nFROM node:18 AS build\n" in edits[0].new_text
    finally:
        s.stop()


def test_a_fix_held_back_by_the_safety_level_is_still_a_quick_fix(lsp: Session, tmp_path: Path) -> None:
    uri = from_fs_path(str(tmp_path / "Dockerfile"))
    text = "FROM alpine:3.19\nENV API_KEY=abc123\nCMD [\"sh\"]\n"
    diags = lsp.open(uri, text)
    d302 = next(d for d in diags if d.code == "DO302")
    actions = [a for a in lsp.actions(uri, d302.range, only=["quickfix"], diagnostics=[d302])
               if a.title.startswith("DO302")]
    assert actions and actions[0].title.endswith("(unsafe: needs your decision)"), [a.title for a in actions]
    assert "abc123" not in _apply(text, _edits(actions[0])[1])
    lsp.close(uri)
