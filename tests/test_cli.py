"""The command line as a user runs it: diffs, checks, writes, stdin, errors."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import unprivileged
from harness import ROOT

EXAMPLE = ROOT / "examples" / "node-naive"


def run(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "dockeropt", *args], cwd=cwd, input=stdin, capture_output=True, timeout=120
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    dst = tmp_path / "app"
    shutil.copytree(EXAMPLE, dst)
    return dst


def test_diff_moves_manifest_copy_and_git_applies(app: Path) -> None:
    before = (app / "Dockerfile").read_bytes()
    res = run("fix", "--diff", "--select", "DO101", "Dockerfile", cwd=app)
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    assert "+COPY package.json package-lock.json ./\n+RUN npm install\n COPY . .\n" in out
    assert "-RUN npm install && npm run build\n+RUN npm run build\n" in out
    assert "Dockerfile:3 DO101 split-dependency-copy (safe): Copy npm manifests and install before copying the source" in out
    assert (app / "Dockerfile").read_bytes() == before  # --diff writes nothing
    subprocess.run(["git", "init", "-q"], cwd=app, check=True)
    applied = subprocess.run(["git", "apply", "-v", "-"], cwd=app, input=res.stdout, capture_output=True)
    assert applied.returncode == 0, applied.stderr
    fixed = run("fix", "-", "--select", "DO101", "--stdin-filename", "Dockerfile", cwd=app, stdin=before).stdout
    assert (app / "Dockerfile").read_bytes() == fixed


def test_check_exits_1_when_changes_pending_and_0_when_clean(app: Path) -> None:
    res = run("fix", "--check", "Dockerfile", cwd=app)
    assert res.returncode == 1
    assert b"DO101" in res.stdout and b"---" not in res.stdout
    assert run("fix", "Dockerfile", cwd=app).returncode == 0
    again = run("fix", "--check", "Dockerfile", cwd=app)
    assert again.returncode == 0 and again.stdout == b""


def test_fix_in_place_keeps_mode_crlf_bom_and_missing_final_newline(app: Path) -> None:
    df = app / "Dockerfile"
    text = "\ufeff" + df.read_text().replace("\n", "\r\n").rstrip("\r\n")
    df.write_bytes(text.encode())
    os.chmod(df, 0o640)
    res = run("fix", "--select", "DO101", "Dockerfile", cwd=app)
    assert res.returncode == 0, res.stderr
    out = df.read_bytes().decode()
    assert out.startswith("\ufeff")
    assert "\r\n" in out and "\n" not in out.replace("\r\n", "")
    assert not out.endswith("\n")
    assert "COPY package.json package-lock.json ./\r\nRUN npm install\r\nCOPY . .\r\n" in out
    assert stat.S_IMODE(df.stat().st_mode) == 0o640
    assert not [p for p in app.iterdir() if p.name.startswith(".Dockerfile.")]  # no temp files left


def test_stdin_writes_fixed_text_and_explains_on_stderr(app: Path) -> None:
    src = (app / "Dockerfile").read_bytes()
    with_ctx = run("fix", "-", "--select", "DO101", "--stdin-filename", str(app / "Dockerfile"), stdin=src)
    assert with_ctx.returncode == 0
    assert b"COPY package.json package-lock.json ./" in with_ctx.stdout
    assert b"DO101" in with_ctx.stderr
    # no context known: only names the Dockerfile proves (npm install proves package.json)
    no_ctx = run("fix", "-", "--select", "DO101", stdin=src, cwd=app.parent)
    assert b"COPY package.json ./\n" in no_ctx.stdout


def test_select_and_ignore(app: Path) -> None:
    assert run("fix", "--check", "--select", "DO1", "Dockerfile", cwd=app).returncode == 1
    assert run("fix", "--check", "--ignore", "DO101", "--select", "DO101", "Dockerfile", cwd=app).returncode == 0
    bad = run("fix", "--check", "--select", "XX9", "Dockerfile", cwd=app)
    assert bad.returncode == 2
    assert bad.stderr.decode().count("\n") == 1 and "XX9" in bad.stderr.decode()  # one line, no usage dump


def test_pragma_ignores_next_instruction(app: Path) -> None:
    df = app / "Dockerfile"
    df.write_text(df.read_text().replace("COPY . .", "# dockeropt ignore=DO101\nCOPY . ."))
    assert run("fix", "--check", "--select", "DO101", "Dockerfile", cwd=app).returncode == 0


def test_rules_and_explain() -> None:
    rules = run("rules")
    assert rules.returncode == 0 and b"DO101  split-dependency-copy" in rules.stdout
    exp = run("explain", "DO101").stdout.decode()
    for section in ("What it does:", "Why:", "Example:", "Fix safety:"):
        assert section in exp
    assert run("explain", "split-dependency-copy").stdout.decode() == exp
    bad = run("explain", "DO999")
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr


BAD_INPUTS = {
    "binary": b"\x7fELF\x00\x00\x01",
    "latin1": "FROM alpine\nLABEL author=J\xfcrgen\n".encode("latin-1"),
    "empty": b"",
    "comments-only": b"# nothing here\n\n",
    "unknown-instruction": b"FROM alpine\nFOO bar\n",
    "unterminated-heredoc": b"FROM alpine\nRUN <<EOF\necho\n",
    "bad-json": b'FROM alpine\nCMD ["a", 1]\n',
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_one_line_error_exit_2_file_untouched_others_processed(tmp_path: Path, kind: str, app: Path) -> None:
    bad = tmp_path / "bad.Dockerfile"
    bad.write_bytes(BAD_INPUTS[kind])
    good = app / "Dockerfile"
    res = run("fix", "--select", "DO101", str(bad), str(good))
    err = res.stderr.decode()
    assert res.returncode == 2
    assert b"Traceback" not in res.stderr
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and "bad.Dockerfile" in lines[0], err
    assert bad.read_bytes() == BAD_INPUTS[kind]
    assert b"RUN npm install\nCOPY . .\n" in good.read_bytes()  # the good file was still fixed


def test_missing_directory_and_huge_inputs(tmp_path: Path) -> None:
    huge = tmp_path / "huge.Dockerfile"
    huge.write_bytes(b"FROM alpine\n" + b"RUN echo hello\n" * (10 * 1024 * 1024 // 15))
    empty_dir = tmp_path / "nothing-here"
    empty_dir.mkdir()
    for target in (tmp_path / "missing.Dockerfile", empty_dir, huge):
        res = run("fix", "--check", str(target))
        assert res.returncode == 2, target
        err = res.stderr.decode()
        errors = [line for line in err.splitlines() if "error" in line]
        assert len(errors) == 1 and target.name in errors[0] and "Traceback" not in err


def test_unreadable_file() -> None:
    # as an unprivileged user (CI runs as root, and root reads files regardless of their mode)
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="dockeropt-unreadable-"))
    try:
        d.chmod(0o755)
        f = d / "Dockerfile"
        f.write_text("FROM alpine\n")
        f.chmod(0)
        res = unprivileged.run("fix", str(f), cwd=d)
        assert res.returncode == 2 and "cannot read" in res.stderr and "Traceback" not in res.stderr, res.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_cli_does_not_load_the_go_parser_before_forking_workers() -> None:
    # workers fork from the CLI process; BuildKit's Go runtime must not be loaded there first
    code = "import sys, dockeropt.cli, dockeropt.migrate, dockeropt.runner; print('dockerfile' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
