"""The conventions a ruff or hadolint user reaches for: `check`, --statistics, --show-fixes, --exit-zero,
--extend-select/--extend-ignore, --output-format, -q, --stdin-filename, --force-exclude, comma lists in
--exclude, --color, width-aware wrapping, clean --help, lower-case `dockerfile`, one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ROOT, read_all

NODE = ROOT / "examples" / "node-naive"


def run(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockeropt", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture
def app(tmp_path: Path) -> Path:
    d = tmp_path / "app"
    shutil.copytree(NODE, d)
    return d


def test_check_reports_writes_nothing_and_exits_1_when_changes_are_pending(app: Path) -> None:
    before = (app / "Dockerfile").read_bytes()
    res = run("check", "Dockerfile", cwd=app)
    assert res.returncode == 1, res.stderr
    assert "Dockerfile:3 DO101 split-dependency-copy (safe)" in res.stdout and "+++" not in res.stdout
    assert (app / "Dockerfile").read_bytes() == before
    assert run("check", cwd=app).returncode == 1  # no path: the current folder
    assert run("fix", "Dockerfile", cwd=app).returncode == 0
    clean = run("check", "Dockerfile", cwd=app)
    assert clean.returncode == 0 and clean.stdout == ""
    assert run("check", "--exit-zero", "Dockerfile", cwd=app).returncode == 0


def test_exit_zero_keeps_errors_at_2(app: Path) -> None:
    (app / "bad.Dockerfile").write_text("FROM alpine\nFOO bar\n")
    assert run("check", "--exit-zero", "Dockerfile", cwd=app).returncode == 0
    assert run("check", "--exit-zero", "bad.Dockerfile", "Dockerfile", cwd=app).returncode == 2


def test_statistics(app: Path) -> None:
    res = run("check", "--statistics", "Dockerfile", cwd=app)
    assert res.returncode == 1
    rows = res.stdout.splitlines()
    assert "    1  DO101  [*] split-dependency-copy" in rows
    assert all(re.match(r"^ +\d+  DO\d{3}  \[[* ]\] \S+$", r) for r in rows), rows
    assert "Copies package.json" not in res.stdout  # counts instead of explanations
    data = json.loads(run("check", "--statistics", "--output-format", "json", "Dockerfile", cwd=app).stdout)
    assert {"code": "DO101", "name": "split-dependency-copy", "count": 1, "fixable": True} in data


def test_show_fixes(app: Path) -> None:
    res = run("check", "--show-fixes", "Dockerfile", cwd=app)
    assert "+COPY package.json package-lock.json ./" in res.stdout and "DO101" in res.stdout
    res = run("fix", "--show-fixes", "Dockerfile", cwd=app)
    assert res.returncode == 0 and "+++ b/Dockerfile" in res.stdout
    assert "npm ci" in (app / "Dockerfile").read_text()


def test_extend_select_adds_an_opt_in_rule_and_extend_ignore_drops_one(app: Path) -> None:
    base = {c["rule"] for c in json.loads(run("check", "--output-format", "json", "Dockerfile", cwd=app).stdout)
            ["files"][0]["changes"]}
    assert "DO304" not in base and "DO101" in base
    ext = {c["rule"] for c in json.loads(run("check", "--output-format", "json", "--extend-select", "DO304",
                                             "Dockerfile", cwd=app).stdout)["files"][0]["changes"]}
    assert ext == base | {"DO304"}
    less = {c["rule"] for c in json.loads(run("check", "--output-format", "json", "--extend-ignore", "DO1",
                                              "Dockerfile", cwd=app).stdout)["files"][0]["changes"]}
    assert less == {r for r in base if not r.startswith("DO1")}
    # the same keys in the configuration file
    (app / ".dockeropt.toml").write_text('extend-select = ["DO304"]\nextend-ignore = ["DO403"]\n')
    conf = {c["rule"] for c in json.loads(run("check", "--output-format", "json", "Dockerfile", cwd=app).stdout)
            ["files"][0]["changes"]}
    assert conf == (base | {"DO304"}) - {"DO403"}


def test_output_format_and_the_format_alias(app: Path) -> None:
    a = run("check", "--output-format", "github", "Dockerfile", cwd=app).stdout
    b = run("fix", "--check", "--format", "github", "Dockerfile", cwd=app).stdout
    assert a == b and a.startswith("::warning file=Dockerfile,line=")


def test_quiet(app: Path) -> None:
    res = run("fix", "--diff", "-q", "Dockerfile", cwd=app)
    assert res.stdout.startswith("--- a/Dockerfile") and "DO101 split-dependency-copy" not in res.stdout
    (app / "sub").mkdir()
    shutil.copy(app / "Dockerfile", app / "sub" / "Dockerfile")
    loud = run("check", ".", cwd=app)
    quiet = run("check", "-q", ".", cwd=app)
    assert "files scanned" in loud.stderr and "files scanned" not in quiet.stderr
    assert quiet.stdout == loud.stdout and quiet.returncode == 1


def test_stdin_filename_gives_a_build_context_and_real_names(app: Path) -> None:
    text = (app / "Dockerfile").read_text()
    bare = run("check", "-", cwd=app.parent, stdin=text)
    assert "-:3 DO101" in bare.stdout
    named = run("check", "-", "--stdin-filename", "app/Dockerfile", cwd=app.parent, stdin=text)
    assert "app/Dockerfile:3 DO101" in named.stdout and "-:" not in named.stdout
    assert "package-lock.json" in named.stdout  # read from the build context next to the named path
    fixed = run("fix", "-", "--stdin-filename", "app/Dockerfile", cwd=app.parent, stdin=text)
    assert fixed.returncode == 0 and "COPY package.json package-lock.json ./" in fixed.stdout
    assert "app/Dockerfile:3 DO101" in fixed.stderr
    res = run("check", "--stdin-filename", "x/Dockerfile", cwd=app)
    assert res.returncode == 2 and res.stderr.count("\n") == 1  # names stdin, but no '-'


def test_force_exclude_and_comma_lists(app: Path) -> None:
    (app / ".dockeropt.toml").write_text('exclude = ["legacy"]\n')
    (app / "legacy").mkdir()
    shutil.copy(app / "Dockerfile", app / "legacy" / "Dockerfile")
    shutil.copy(app / "Dockerfile", app / "Dockerfile.dev")
    shutil.copy(app / "Dockerfile", app / "Dockerfile.ci")
    # named files are processed unless --force-exclude (what pre-commit passes)
    assert "legacy/Dockerfile:" in run("check", "legacy/Dockerfile", cwd=app).stdout
    res = run("check", "--force-exclude", "legacy/Dockerfile", cwd=app)
    assert res.returncode == 0 and res.stdout == "", res.stderr
    # --exclude takes comma-separated patterns
    res = run("check", "--exclude", "*.dev,*.ci", ".", cwd=app)
    shown = set(re.findall(r"^(\S+):\d+ DO", res.stdout, re.M))
    assert shown == {"Dockerfile"}, shown
    # standard input named as an excluded file: handed back untouched
    text = (app / "Dockerfile").read_text()
    res = run("fix", "-", "--stdin-filename", "legacy/Dockerfile", "--force-exclude", cwd=app, stdin=text)
    assert res.returncode == 0 and res.stdout == text


def test_lower_case_dockerfile_is_discovered(tmp_path: Path) -> None:
    d = tmp_path / "svc"
    shutil.copytree(NODE, d)
    (d / "Dockerfile").rename(d / "dockerfile")
    res = run("check", ".", cwd=tmp_path)
    assert "svc/dockerfile:3 DO101" in res.stdout, res.stdout + res.stderr


def _pty_run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "dockeropt", *args], cwd=cwd, stdout=slave, stderr=slave,
                              timeout=120, env={**os.environ, "TERM": "xterm", **env})
    finally:
        os.close(slave)
    out = read_all(master)
    assert proc.returncode in (0, 1)
    return out


def test_colour_on_a_terminal_plain_otherwise(app: Path) -> None:
    env = {k: "" for k in ("NO_COLOR", "FORCE_COLOR")}
    assert "\x1b[" not in run("check", "Dockerfile", cwd=app, env=env).stdout  # piped: plain
    assert "\x1b[" in run("check", "--color", "always", "Dockerfile", cwd=app, env=env).stdout
    tty = _pty_run(["check", "Dockerfile"], app, {"COLUMNS": "100", **env})
    assert "\x1b[" in tty and "DO101" in tty
    plain = _pty_run(["check", "--color", "never", "Dockerfile"], app, {"COLUMNS": "100", **env})
    assert "\x1b[" not in plain
    assert "\x1b[" not in _pty_run(["check", "Dockerfile"], app, {"COLUMNS": "100", "NO_COLOR": "1"})


def test_explanations_wrap_to_the_terminal_width(app: Path) -> None:
    def widths(out: str) -> list[int]:
        return [len(ln) for ln in out.splitlines() if ln.startswith("    ")]

    narrow = _pty_run(["check", "--color", "never", "Dockerfile"], app, {"COLUMNS": "60"})
    wide = _pty_run(["check", "--color", "never", "Dockerfile"], app, {"COLUMNS": "160"})
    assert max(widths(narrow.replace("\r\n", "\n"))) <= 60
    assert max(widths(wide.replace("\r\n", "\n"))) > 100
    piped = run("check", "Dockerfile", cwd=app, env={"COLUMNS": ""}).stdout
    assert max(widths(piped)) <= 96


@pytest.mark.parametrize("command", ["fix", "check", "report", "verify", "lsp", "explain", ""])
def test_help_is_plain_and_complete(tmp_path: Path, command: str) -> None:
    res = run(*([command] if command else []), "--help", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "<list[str]>" not in res.stdout and "<str>" not in res.stdout and "<path>" not in res.stdout.split(
        "Arguments:")[0], res.stdout
    if command in ("fix", "check"):
        for flag in ("--statistics", "--show-fixes", "--exit-zero", "--extend-select", "--extend-ignore",
                     "--output-format", "--quiet", "--stdin-filename", "--force-exclude", "--exclude", "--color"):
            assert flag in res.stdout, flag
        assert "exit codes:" in res.stdout


def test_bad_arguments_are_one_line_exit_2(tmp_path: Path) -> None:
    for args in (["fix", "--bogus", "x"], ["frobnicate"], ["check", "--output-format", "xml"],
                 ["check", "--extend-select", "XX1"], ["fix"], ["check", "--color", "purple"]):
        res = run(*args, cwd=tmp_path)
        assert res.returncode == 2, args
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("dockeropt: error:"), (args, res.stderr)
        assert "Traceback" not in res.stderr


def test_an_internal_error_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from dockeropt import cli

    def boom(opts: object) -> int:
        raise RuntimeError("something broke")

    monkeypatch.setattr(cli, "run_fix", boom)
    monkeypatch.setattr(sys, "argv", ["dockeropt", "check", "."])
    monkeypatch.delenv("DOCKEROPT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.run()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError: something broke" in err


def test_diff_with_check_prints_the_diff_and_exits_1(app: Path) -> None:
    res = run("fix", "--diff", "--check", "Dockerfile", cwd=app)
    assert res.returncode == 1 and res.stdout.startswith("--- a/Dockerfile"), res.stderr
    assert run("fix", "--diff", "Dockerfile", cwd=app).returncode == 0
