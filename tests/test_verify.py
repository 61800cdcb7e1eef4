"""`dockeropt verify`: argument checks, smoke specs, default --touch, table, no-engine error.

Everything here runs without Docker except the one test marked ``docker``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from docker_support import APPS_DIR, app_names, require_engine, require_images
from dockeropt.cli import app as cli_app
from dockeropt.verify import (
    Measurement,
    SmokeSpec,
    VerifyError,
    _copied_sources,
    append_comment,
    build_spec,
    check_touch,
    comment_line,
    default_touch,
    regression,
    render_table,
    table_rows,
)


def spec_args(**kw: object) -> dict[str, object]:
    base: dict[str, object] = dict(
        app=None, smoke_cmd=None, http=None, port=None, expect=None, port_env=None, touch=None, timeout=None
    )
    base.update(kw)
    return base


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(smoke_cmd="true", http="/"), "either --smoke-cmd or --http"),
        (dict(http="/health", expect="ok"), "needs a port"),
        (dict(http="/health", port=8080), "needs the text to expect"),
        (dict(http="health", port=8080, expect="ok"), "must start with '/'"),
        (dict(port=8080), "--port only applies"),
        (dict(port_env="APP_PORT", smoke_cmd="x"), "--port-env only applies"),
        (dict(http="/", port=70000, expect="ok"), "port out of range"),
        (dict(http="/", port=80, expect="ok", port_env="1BAD"), "not an environment variable name"),
        (dict(smoke_cmd="echo 'unterminated"), "--smoke-cmd"),
        (dict(smoke_cmd="true", timeout=0.0), "timeout must be positive"),
    ],
)
def test_contradictory_or_incomplete_smoke_options_are_rejected(kw: dict[str, object], message: str) -> None:
    with pytest.raises(VerifyError, match=message):
        build_spec(**spec_args(**kw))  # type: ignore[arg-type]


def test_app_file_cannot_be_combined_with_inline_options(tmp_path: Path) -> None:
    f = tmp_path / "app.json"
    f.write_text('{"cmd": ["true"]}')
    with pytest.raises(VerifyError, match="--app gives the smoke test"):
        build_spec(**spec_args(app=f, expect="x"))  # type: ignore[arg-type]


def test_http_options_make_an_http_probe_with_the_port_in_the_named_variable() -> None:
    spec = build_spec(**spec_args(http="/health", port=8099, expect="ok", port_env="APP_PORT"))  # type: ignore[arg-type]
    assert (spec.kind, spec.port, spec.port_env, spec.http_path) == ("http", 8099, "APP_PORT", "/health")


def test_smoke_cmd_is_split_like_a_shell_and_empty_means_default_cmd() -> None:
    spec = build_spec(**spec_args(smoke_cmd="python -c 'print(1)'", expect="1"))  # type: ignore[arg-type]
    assert spec.cmd == ["python", "-c", "print(1)"]
    assert build_spec(**spec_args(smoke_cmd="")).cmd == []  # type: ignore[arg-type]
    assert build_spec(**spec_args(expect="hello")).cmd == []  # type: ignore[arg-type]
    assert build_spec(**spec_args()).kind == "none"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data, message",
    [
        ([1], "JSON object"),
        ({"http": {"path": "/", "port": "80", "expect": "x"}}, "http.port must be an integer"),
        ({"http": {"path": "/", "port": 80, "expect": "x", "host": "h"}}, "unknown key http.host"),
        ({"cmd": "echo hi"}, "'cmd' must be a list"),
        ({"cmd": [], "smoke": 1}, "unknown key 'smoke'"),
        ({"http": {"path": "/", "port": 80, "expect": "x"}, "cmd": []}, "not both"),
        ({"http": {"path": "/", "port": 80}, "expect": "x"}, "inside 'http'"),
    ],
)
def test_bad_app_json_is_rejected_with_a_reason(data: object, message: str) -> None:
    with pytest.raises(VerifyError, match=message):
        SmokeSpec.from_json(data)


def test_invalid_json_file_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "app.json"
    f.write_text("{nope")
    with pytest.raises(VerifyError, match="app.json: not valid JSON"):
        SmokeSpec.load(f)


@pytest.mark.parametrize("name", app_names())
def test_every_corpus_app_has_a_valid_smoke_spec_and_touch_file(name: str) -> None:
    spec = SmokeSpec.load(APPS_DIR / name / "app.json")
    assert spec.kind in ("http", "fcgi", "grpc", "cmd")
    assert spec.expect, "a smoke test must check some output"
    assert spec.touch and check_touch(APPS_DIR / name, spec.touch) == spec.touch


def test_http_ports_of_corpus_apps_are_distinct() -> None:
    ports = [SmokeSpec.load(APPS_DIR / n / "app.json").port for n in app_names()]
    ports = [p for p in ports if p is not None]
    assert len(ports) == len(set(ports))


def test_touch_outside_the_context_or_missing_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    assert check_touch(tmp_path, "./a.py") == "a.py"
    with pytest.raises(VerifyError, match="inside the build context"):
        check_touch(tmp_path, "../etc/passwd")
    with pytest.raises(VerifyError, match="no such file"):
        check_touch(tmp_path, "b.py")


# --------------------------------------------------------------------------- default --touch


def _tree(root: Path, files: dict[str, str]) -> None:
    now = time.time() - 1000
    for i, (rel, text) in enumerate(files.items()):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.utime(p, (now + i * 10, now + i * 10))  # later entries are newer


def test_default_touch_is_the_newest_copied_source_file_not_a_manifest(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "src/old.js": "1",
        "src/new.js": "2",
        "package.json": "{}",  # newer, but a manifest
        "README.md": "docs",  # newer, but not code
    })
    assert default_touch(tmp_path, "FROM node:18\nCOPY . .\n") == "src/new.js"


def test_default_touch_only_considers_what_the_dockerfile_copies(tmp_path: Path) -> None:
    _tree(tmp_path, {"app/main.py": "1", "tools/newer.py": "2"})
    text = "FROM python:3.11\nCOPY app/ /srv/app/\nCOPY --from=builder /x /tools/y.py\n"
    assert default_touch(tmp_path, text) == "app/main.py"
    assert default_touch(tmp_path, "FROM python:3.11\nRUN true\n") is None


def test_default_touch_honours_dockerignore_and_skips_dependency_folders(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "main.go": "package main",
        "node_modules/x/index.js": "1",
        "scripts/gen.go": "package gen",
        ".dockerignore": "scripts\n",
    })
    assert default_touch(tmp_path, "FROM golang:1.19\nCOPY . .\n") == "main.go"


def test_default_touch_of_every_corpus_app_is_a_source_file() -> None:
    for name in app_names():
        folder = APPS_DIR / name
        text = (folder / "Dockerfile").read_text()
        rel = default_touch(folder, text, folder / "Dockerfile")
        if rel is None:  # an app that only copies a build output made at set-up (a jar): nothing to pick
            assert SmokeSpec.load(folder / "app.json").setup is not None, name
            assert all(s.startswith("target/") for s in _copied_sources(text)), name
            continue
        assert (folder / rel).is_file(), name
        assert Path(rel).name not in ("package.json", "requirements.txt", "go.mod", "app.json"), name


# --------------------------------------------------------------------------- the edit


@pytest.mark.parametrize(
    "name, start",
    [("a.js", "// "), ("b.ts", "// "), ("c.go", "// "), ("D.java", "// "), ("e.py", "# "), ("f.sh", "# "),
     ("g.css", "/* "), ("h.html", "<!-- "), ("Makefile", "# ")],
)
def test_warm_rebuild_edit_is_a_comment_in_the_file_type_syntax(name: str, start: str) -> None:
    assert comment_line(name).startswith(start)


def test_append_comment_adds_one_line_and_keeps_the_content(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("print(1)")  # no trailing newline
    append_comment(f)
    lines = f.read_text().splitlines()
    assert lines[0] == "print(1)" and lines[1].startswith("# dockeropt verify") and len(lines) == 2
    append_comment(f)
    lines = f.read_text().splitlines()
    assert len(lines) == 3 and lines[1] != lines[2], "each edit is unique, so a cache from an earlier run never hits"


# --------------------------------------------------------------------------- table and verdict


def _m(label: str, **kw: object) -> Measurement:
    base: dict[str, object] = dict(
        build_ok=True, size=700_000_000, layers=10, user="root", cold_seconds=40.0, warm_seconds=20.0,
        ready_seconds=1.5, smoke_ok=True, smoke_detail="ok",
    )
    base.update(kw)
    return Measurement(label, **base)  # type: ignore[arg-type]


def _render(original: Measurement, fixed: Measurement | None) -> str:
    console = Console(record=True, width=120)
    console.print(render_table(original, fixed))
    return console.export_text()


def test_table_shows_every_row_side_by_side_with_relative_change() -> None:
    orig = _m("original")
    fixed = _m("fixed", size=175_000_000, layers=4, user="65532:65532", cold_seconds=44.0, warm_seconds=5.0)
    rows = {r[0]: r[1:] for r in table_rows(orig, fixed)}
    assert list(rows) == ["build ok", "image size", "layers", "user", "cold build", "warm rebuild",
                          "start to ready", "smoke test", "health"]
    assert rows["image size"] == ("700.0 MB", "175.0 MB", "-75%")
    assert rows["warm rebuild"] == ("20.0 s", "5.0 s", "-75%")
    assert rows["cold build"][2] == "+10%"
    assert rows["user"] == ("root", "65532:65532", "")
    text = _render(orig, fixed)
    assert "-75%" in text and "65532:65532" in text and "original" in text


def test_table_reports_a_failed_smoke_test_and_a_failed_build() -> None:
    orig = _m("original")
    broken = _m("fixed", smoke_ok=False, smoke_detail="HTTP 500: boom")
    assert "FAIL: HTTP 500: boom" in _render(orig, broken)
    nobuild = Measurement("fixed", build_ok=False)
    rows = {r[0]: r[1:] for r in table_rows(orig, nobuild)}
    assert rows["build ok"][:2] == ("yes", "NO") and rows["smoke test"][1] == "not run"
    assert rows["image size"][1] == "-" and rows["image size"][2] == ""


def test_unchanged_dockerfile_renders_one_measured_column() -> None:
    text = _render(_m("original"), None)
    assert "fixed (no changes)" in text


def test_regression_verdict() -> None:
    ok = _m("original")
    assert regression(ok, _m("fixed")) is None
    assert "does not build" in (regression(ok, Measurement("fixed", build_ok=False)) or "")
    assert "smoke test" in (regression(ok, _m("fixed", smoke_ok=False, smoke_detail="x")) or "")
    # both broken: the fix did not make anything worse
    bad = Measurement("original", build_ok=False)
    assert regression(bad, Measurement("fixed", build_ok=False)) is None


# --------------------------------------------------------------------------- the command without an engine


def _write_app(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text("print('hi')\n")
    df = tmp_path / "Dockerfile"
    df.write_text("FROM python:3.11\nCOPY . /app\nCMD [\"python\", \"/app/main.py\"]\n")
    return df


def test_no_docker_cli_is_a_one_line_error_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _write_app(tmp_path)
    monkeypatch.setenv("DOCKEROPT_DOCKER", str(tmp_path / "no-such-docker"))
    r = CliRunner().invoke(cli_app, ["verify", str(df), "--smoke-cmd", "", "--expect", "hi"])
    assert r.exit_code == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "docker" in err[0].lower() and err[0].startswith("dockeropt: error:")


@pytest.mark.skipif(not Path("/usr/bin/docker").exists() and shutil.which("docker") is None, reason="no docker CLI")
def test_unreachable_docker_host_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _write_app(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    r = CliRunner().invoke(cli_app, ["verify", str(df), "--smoke-cmd", ""])
    assert r.exit_code == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "no Docker engine reachable" in err[0] and "nothing.sock" in err[0]


def test_argument_errors_come_before_any_docker_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _write_app(tmp_path)
    monkeypatch.setenv("DOCKEROPT_DOCKER", str(tmp_path / "no-such-docker"))
    r = CliRunner().invoke(cli_app, ["verify", str(df), "--http", "/", "--expect", "x"])
    assert r.exit_code == 2 and "needs a port" in r.stderr
    r = CliRunner().invoke(cli_app, ["verify", str(df), "--smoke-cmd", "", "--touch", "missing.py"])
    assert r.exit_code == 2 and "missing.py: no such file" in r.stderr
    r = CliRunner().invoke(cli_app, ["verify", str(tmp_path / "nope"), "--smoke-cmd", ""])
    assert r.exit_code == 2 and "no such file" in r.stderr


# --------------------------------------------------------------------------- one real run


@pytest.mark.docker
def test_real_verify_run_on_a_corpus_app_leaves_the_tree_alone(tmp_path: Path) -> None:
    require_engine()
    folder = APPS_DIR / "debian-tool"
    require_images(require_engine(), (folder / "Dockerfile").read_text())
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    r = CliRunner().invoke(
        cli_app,
        ["verify", str(folder / "Dockerfile"), "--app", str(folder / "app.json"), "--json", "--keep-cache"],
    )
    assert r.exit_code == 0, r.output + r.stderr
    data = json.loads(r.stdout)
    assert data["original"]["build_ok"] and data["original"]["smoke_ok"]
    assert data["touch"] == "report.sh"
    assert data["original"]["warm_seconds"] is not None and data["original"]["size"] > 0
    if data["changed"]:
        assert data["fixed"]["build_ok"] and data["fixed"]["smoke_ok"], data
        assert data["regression"] is None
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before, "verify must not write into the user's tree"


# --------------------------------------------------------------------------- the command flow, docker faked


def _fake_engine(monkeypatch: pytest.MonkeyPatch, results: dict[str, Measurement], calls: list[dict[str, object]]) -> None:
    import dockeropt.verify as v

    def fake_measure(docker: str, context: Path, text: str, spec: SmokeSpec, **kw: object) -> Measurement:
        calls.append({"text": text, "context": context, **kw})
        return results[str(kw["label"])]

    monkeypatch.setattr(v, "docker_binary", lambda: "docker")
    monkeypatch.setattr(v, "engine_problem", lambda docker=None: None)
    monkeypatch.setattr(v, "has_buildx", lambda docker: False)
    monkeypatch.setattr(v, "measure", fake_measure)


def _naive_node_app(tmp_path: Path) -> Path:
    (tmp_path / "package.json").write_text('{"name": "x", "version": "1.0.0"}\n')
    (tmp_path / "package-lock.json").write_text('{"name": "x", "lockfileVersion": 3, "packages": {}}\n')
    (tmp_path / "server.js").write_text("console.log('hi')\n")
    df = tmp_path / "Dockerfile"
    df.write_text("FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm install\nCMD [\"node\", \"server.js\"]\n")
    return df


def test_fixed_image_failing_where_the_original_passed_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _naive_node_app(tmp_path)
    calls: list[dict[str, object]] = []
    _fake_engine(monkeypatch, {"original": _m("original"), "fixed": _m("fixed", smoke_ok=False, smoke_detail="HTTP 500")}, calls)
    r = CliRunner().invoke(cli_app, ["verify", str(df), "--http", "/", "--port", "8123", "--expect", "hi"])
    assert r.exit_code == 1, r.output
    assert "FAIL: HTTP 500" in r.stdout and "fails its smoke test" in r.stderr
    # the original is built from the file as it is, the fixed one from the pipeline's output; the edit defaults to server.js
    assert calls[0]["text"] == df.read_text() and calls[1]["text"] != calls[0]["text"]
    assert calls[0]["touch"] == calls[1]["touch"] == "server.js" and calls[0]["cold"] is True


def test_json_output_and_keep_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _naive_node_app(tmp_path)
    calls: list[dict[str, object]] = []
    _fake_engine(monkeypatch, {"original": _m("original"), "fixed": _m("fixed", size=100_000_000)}, calls)
    r = CliRunner().invoke(cli_app, ["verify", str(df), "--smoke-cmd", "", "--json", "--keep-cache", "--touch", "server.js"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["changed"] and data["regression"] is None and data["rules"]
    assert data["fixed"]["size"] == 100_000_000 and data["touch"] == "server.js"
    assert all(c["cold"] is False for c in calls)
    assert df.read_text().startswith("FROM node:18\nWORKDIR /app\nCOPY . .\n"), "the user's Dockerfile is not rewritten"


@pytest.mark.parametrize("spec_kw", [
    {"http_path": "/health", "port": 18999},  # a server: `docker run -d`, then the probe
    {"cmd": ["true"]},  # a command: `docker run --rm` in the foreground
])
def test_interrupted_smoke_run_removes_its_container(monkeypatch: pytest.MonkeyPatch, spec_kw: dict) -> None:
    """Ctrl-C or SIGTERM (as lab_report turns it into SystemExit) while `docker run` is under way: the engine
    may already have started the container, and one left running keeps its port for the next run."""
    from dockeropt import verify

    calls: list[list[str]] = []

    def fake_run(argv: list[str], timeout: float | None = None, **kw: object) -> object:
        calls.append(list(argv))
        if argv[1] == "run":
            raise KeyboardInterrupt
        return verify.subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(verify, "_run", fake_run)
    monkeypatch.setattr(verify, "image_healthcheck", lambda docker, tag: None)
    monkeypatch.setattr(verify, "port_in_use", lambda port: False)
    with pytest.raises(KeyboardInterrupt):
        verify.run_smoke("docker", "img", verify.SmokeSpec(**spec_kw))
    name = calls[0][calls[0].index("--name") + 1]
    assert calls[-1][:4] == ["docker", "rm", "-f", "-v"] and calls[-1][-1] == name
