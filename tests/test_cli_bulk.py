"""Bulk runs through the real CLI: discovery, .gitignore, exclude, pool, one patch, summary, report,
config files and pragmas end to end, and bad input that must never stop the other files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import unprivileged
from dockeropt.migrate import discover, is_dockerfile_name
from harness import read_all

NAIVE = (
    "FROM python:3.11-slim\n"
    "WORKDIR /app\n"
    "COPY . .\n"
    "RUN pip install -r requirements.txt\n"
    'CMD ["python", "app.py"]\n'
)
CLEAN = "FROM scratch\nCOPY app /app\n"


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "dockeropt", *args], cwd=cwd, capture_output=True, timeout=timeout)


def service(root: Path, rel: str, text: str = NAIVE, *, raw: bytes | None = None) -> Path:
    df = root / rel
    df.parent.mkdir(parents=True, exist_ok=True)
    df.write_bytes(raw if raw is not None else text.encode())
    (df.parent / "requirements.txt").write_text("flask\n")
    return df


def git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=root, capture_output=True, env=env)


def test_dockerfile_names() -> None:
    for yes in ("Dockerfile", "Dockerfile.dev", "Dockerfile.prod.arm64", "api.Dockerfile", "Containerfile",
                "web.dockerfile", "dockerfile", "containerfile"):
        assert is_dockerfile_name(yes), yes
    for no in ("Dockerfile.dockerignore", "Containerfile.containerignore", ".Dockerfile", "Dockerfile.orig",
               "Dockerfile~", "README.md", "dockerfile.txt", ".dockerignore", "docker-compose.yml"):
        assert not is_dockerfile_name(no), no


@pytest.mark.parametrize("use_git", [True, False])
def test_discovery_honours_gitignore_and_exclude(tmp_path: Path, use_git: bool) -> None:
    for rel in ("svc/a/Dockerfile", "svc/a/Dockerfile.dev", "svc/b/api.Dockerfile", "svc/c/Containerfile",
                "svc/node_modules/x/Dockerfile", "svc/build/Dockerfile", "svc/legacy/Dockerfile"):
        service(tmp_path, rel)
    (tmp_path / "svc/a/Dockerfile.dockerignore").write_text("node_modules\n")
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    (tmp_path / "svc" / ".gitignore").write_text("/build\n")
    (tmp_path / ".dockeropt.toml").write_text('exclude = ["svc/legacy"]\n')
    if use_git:
        assert git(tmp_path, "init", "-q").returncode == 0
    res = run("fix", "--check", "--format", "json", "svc", cwd=tmp_path)
    paths = [f["path"] for f in json.loads(res.stdout)["files"]]
    assert paths == ["svc/a/Dockerfile", "svc/a/Dockerfile.dev", "svc/b/api.Dockerfile", "svc/c/Containerfile"]
    # --exclude on the command line adds to the file's list
    res = run("fix", "--check", "--format", "json", "--exclude", "*.dev", "svc", cwd=tmp_path)
    assert "svc/a/Dockerfile.dev" not in [f["path"] for f in json.loads(res.stdout)["files"]]
    # a file named on the command line is processed even when excluded
    res = run("fix", "--check", "--format", "json", "svc/legacy/Dockerfile", cwd=tmp_path)
    assert [f["path"] for f in json.loads(res.stdout)["files"]] == ["svc/legacy/Dockerfile"]


def test_discover_api_is_sorted_and_deduplicated(tmp_path: Path) -> None:
    for rel in ("b/Dockerfile", "a/Dockerfile", "a/z.Dockerfile"):
        service(tmp_path, rel)
    d = discover([str(tmp_path), str(tmp_path / "a" / "Dockerfile")])
    assert [p.relative_to(tmp_path).as_posix() for p in d.files] == ["a/Dockerfile", "a/z.Dockerfile", "b/Dockerfile"]
    assert d.errors == []


def test_one_patch_for_many_files_applies_with_git(tmp_path: Path) -> None:
    service(tmp_path, "crlf/Dockerfile", raw=NAIVE.replace("\n", "\r\n").encode())
    service(tmp_path, "nonl/Dockerfile", NAIVE.rstrip("\n"))
    service(tmp_path, "bom/Dockerfile", "\ufeff" + NAIVE)
    service(tmp_path, "plain/Dockerfile.prod")
    service(tmp_path, "clean/Dockerfile", CLEAN)
    assert git(tmp_path, "init", "-q").returncode == 0
    git(tmp_path, "add", "-A")
    assert git(tmp_path, "commit", "-qm", "x").returncode == 0
    res = run("fix", "--diff", ".", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    patch = tmp_path / "all.patch"
    patch.write_bytes(res.stdout)
    assert res.stdout.count(b"\n+++ b/") + res.stdout.startswith(b"+++") == 4
    chk = git(tmp_path, "apply", "--check", "-v", str(patch))
    assert chk.returncode == 0, chk.stderr
    # applying the patch gives byte for byte what 'fix' writes
    expected_dir = tmp_path.parent / "expected"
    shutil.copytree(tmp_path, expected_dir)
    assert run("fix", ".", cwd=expected_dir).returncode == 0
    assert git(tmp_path, "apply", str(patch)).returncode == 0
    for rel in ("crlf/Dockerfile", "nonl/Dockerfile", "bom/Dockerfile", "plain/Dockerfile.prod", "clean/Dockerfile"):
        assert (tmp_path / rel).read_bytes() == (expected_dir / rel).read_bytes(), rel
    assert (tmp_path / "crlf/Dockerfile").read_bytes().count(b"\r\n") > 5
    assert not (tmp_path / "nonl/Dockerfile").read_bytes().endswith(b"\n")
    assert (tmp_path / "bom/Dockerfile").read_bytes().startswith(b"\xef\xbb\xbf")
    # summary on stderr
    err = res.stderr.decode()
    assert "5 files scanned: 4 changed, 1 unchanged, 0 failed" in err
    assert "changes per rule:" in err and "DO101 split-dependency-copy" in err
    assert "\x1b[" not in err  # piped: no progress bar


def test_pool_matches_serial_and_keeps_order(tmp_path: Path) -> None:
    for i in range(40):
        service(tmp_path, f"s{i:02d}/Dockerfile", NAIVE if i % 3 else CLEAN)
    serial = run("fix", "--diff", "--jobs", "1", ".", cwd=tmp_path, timeout=60)
    pooled = run("fix", "--diff", "--jobs", "2", ".", cwd=tmp_path, timeout=60)  # 40 files: a process pool
    assert serial.returncode == pooled.returncode == 0, pooled.stderr
    assert pooled.stdout == serial.stdout
    heads = [ln for ln in pooled.stdout.decode().splitlines() if ln.startswith("+++ b/")]
    assert heads == sorted(heads) and len(heads) == 26


def test_bad_inputs_fail_alone(tmp_path: Path) -> None:
    good = service(tmp_path, "good/Dockerfile")
    cases = {
        "binary/Dockerfile": (b"FROM x\x00\x01\x02", "binary file"),
        "latin1/Dockerfile": ("FROM x\nLABEL a=\xe9\n".encode("latin-1"), "not UTF-8"),
        "empty/Dockerfile": (b"", "empty file"),
        "unknown/Dockerfile": (b"FROM x\nFOO bar\n", "unknown instruction 'FOO'"),
        "huge/Dockerfile": (b"FROM x\n" + b"# padding padding padding\n" * 400_000, "file too large"),
    }
    before = {}
    for rel, (data, _) in cases.items():
        service(tmp_path, rel, raw=data)
        before[rel] = data
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "README.md").write_text("no Dockerfiles here\n")
    (tmp_path / "dir-named" / "Dockerfile").mkdir(parents=True)
    res = run("fix", ".", "nothing", "missing/Dockerfile", "dir-named/Dockerfile", cwd=tmp_path)
    assert res.returncode == 2
    err = res.stderr.decode()
    errors = [ln for ln in err.splitlines() if ln.startswith("dockeropt: error:")]
    for rel, (_, words) in cases.items():
        assert any(f"{rel}: " in ln and words in ln for ln in errors), (rel, err)
        assert (tmp_path / rel).read_bytes() == before[rel]  # untouched
    assert any("nothing: no Dockerfiles found" in ln for ln in errors)
    assert any("missing/Dockerfile: no such file" in ln for ln in errors)
    assert any("dir-named/Dockerfile: no Dockerfiles found" in ln for ln in errors)  # a folder: searched
    assert good.read_text() != NAIVE  # the good file was still fixed
    assert "failed" in err and "1 changed" in err


def test_unreadable_file() -> None:
    # as an unprivileged user (CI runs as root, and root reads files regardless of their mode)
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="dockeropt-unreadable-"))
    try:
        d.chmod(0o755)
        df = service(d, "a/Dockerfile")
        df.chmod(0)
        res = unprivileged.run("fix", "a/Dockerfile", cwd=d)
        assert res.returncode == 2 and "a/Dockerfile: cannot read" in res.stderr, res.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_fifo_is_refused_not_read(tmp_path: Path) -> None:
    good = service(tmp_path, "good/Dockerfile")
    os.mkfifo(tmp_path / "Dockerfile.pipe")  # opening it would block forever
    res = run("fix", "Dockerfile.pipe", "good/Dockerfile", cwd=tmp_path, timeout=60)
    assert res.returncode == 2
    assert b"Dockerfile.pipe: not a regular file" in res.stderr
    assert good.read_text() != NAIVE


def test_bulk_write_keeps_mode_and_report(tmp_path: Path) -> None:
    a = service(tmp_path, "svc/api/Dockerfile")
    b = service(tmp_path, "svc/web/Dockerfile", raw=NAIVE.replace("\n", "\r\n").encode())
    service(tmp_path, "svc/web/Dockerfile.clean", CLEAN)
    a.chmod(0o600)
    res = run("fix", "svc", "--report", "report.md", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert a.stat().st_mode & 0o777 == 0o600 and a.read_text() != NAIVE
    assert b"\r\n" in b.read_bytes() and b"\n" not in b.read_bytes().replace(b"\r\n", b"")
    md = (tmp_path / "report.md").read_text()
    assert "# dockeropt migration report" in md
    assert "## svc/api" in md and "## svc/web" in md
    assert "### `svc/web/Dockerfile.clean` — unchanged" in md
    assert "| 3 | DO101 split-dependency-copy | safe |" in md
    # the JSON report, per service
    b.write_bytes(NAIVE.encode())
    res = run("fix", "--check", "svc", "--report", "report.json", cwd=tmp_path)
    assert res.returncode == 1
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["version"] == 1
    assert [s["service"] for s in rep["services"]] == ["svc/api", "svc/web"]
    web = {f["path"]: f for f in rep["services"][1]["files"]}
    assert web["svc/web/Dockerfile"]["status"] == "changed" and web["svc/web/Dockerfile"]["diff"].startswith("--- a/")
    assert rep["summary"]["changed"] == 1 and rep["summary"]["unchanged"] == 2


def test_config_file_through_the_cli(tmp_path: Path) -> None:
    service(tmp_path, "a/Dockerfile")
    service(tmp_path, "b/Dockerfile")
    (tmp_path / ".dockeropt.toml").write_text('select = ["DO101"]\n')
    (tmp_path / "b" / "pyproject.toml").write_text('[tool.dockeropt]\nselect = ["DO102"]\n')
    res = run("fix", "--check", "--format", "json", "a", "b", cwd=tmp_path)
    rules = {f["path"]: {c["rule"] for c in f["changes"]} for f in json.loads(res.stdout)["files"]}
    assert rules == {"a/Dockerfile": {"DO101"}, "b/Dockerfile": {"DO102"}}  # the nearest config wins
    res = run("fix", "--check", "--format", "json", "--select", "DO301", "a", "b", cwd=tmp_path)
    rules = {f["path"]: {c["rule"] for c in f["changes"]} for f in json.loads(res.stdout)["files"]}
    assert rules == {"a/Dockerfile": {"DO301"}, "b/Dockerfile": {"DO301"}}  # the flag overrides the files
    # --config names the file to use
    (tmp_path / "other.toml").write_text('ignore = ["DO1"]\n')
    res = run("fix", "--check", "--format", "json", "--config", "other.toml", "a", cwd=tmp_path)
    assert not any(c["rule"].startswith("DO1") for c in json.loads(res.stdout)["files"][0]["changes"])


def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    df = service(tmp_path, "a/Dockerfile")
    (tmp_path / "pyproject.toml").write_text('[tool.dockeropt]\nignore = ["DO101"]\nsafe-only = "yes"\n')
    res = run("fix", "a", cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == b""
    err = res.stderr.decode()
    assert err.count("\n") == 1
    assert "pyproject.toml" in err and "key 'tool.dockeropt.safe-only'" in err
    assert df.read_text() == NAIVE


def test_per_file_ignores_and_syntax_flag(tmp_path: Path) -> None:
    service(tmp_path, "a/Dockerfile")
    service(tmp_path, "a/Dockerfile.dev")
    (tmp_path / ".dockeropt.toml").write_text('[per-file-ignores]\n"*.dev" = ["DO3"]\n')
    res = run("fix", "--check", "--format", "json", "a", cwd=tmp_path)
    rules = {f["path"]: {c["rule"] for c in f["changes"]} for f in json.loads(res.stdout)["files"]}
    assert "DO301" in rules["a/Dockerfile"] and "DO301" not in rules["a/Dockerfile.dev"]
    assert run("fix", "--check", "--syntax-directive", "a", cwd=tmp_path).returncode == 1
    assert run("fix", "--check", "--no-syntax-directive", "a", cwd=tmp_path).returncode == 1


def test_pragmas_end_to_end(tmp_path: Path) -> None:
    text = NAIVE.replace("RUN pip", "# dockeropt ignore=DO102\nRUN pip")
    service(tmp_path, "local/Dockerfile", text)
    service(tmp_path, "global/Dockerfile", "# dockeropt global ignore=DO101,DO3\n" + NAIVE)
    res = run("fix", "--check", "--format", "json", "local", "global", cwd=tmp_path)
    rules = {f["path"]: {c["rule"] for c in f["changes"]} for f in json.loads(res.stdout)["files"]}
    assert "DO102" not in rules["local/Dockerfile"] and "DO101" in rules["local/Dockerfile"]
    assert "DO101" not in rules["global/Dockerfile"] and "DO301" not in rules["global/Dockerfile"]
    assert "DO102" in rules["global/Dockerfile"]
    # the pragma survives a rewrite and the fixed file is stable
    assert run("fix", "local", "global", cwd=tmp_path).returncode == 0
    assert "# dockeropt ignore=DO102\n" in (tmp_path / "local/Dockerfile").read_text()
    assert run("fix", "--check", "local", "global", cwd=tmp_path).returncode == 0


def test_stdin_with_files_keeps_argument_order(tmp_path: Path) -> None:
    service(tmp_path, "a/Dockerfile")
    res = subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--check", "--format", "json", "a", "-",
                          "--stdin-filename", "x/Dockerfile"], cwd=tmp_path, input=NAIVE.encode(),
                         capture_output=True, timeout=120)
    assert [f["path"] for f in json.loads(res.stdout)["files"]] == ["a/Dockerfile", "x/Dockerfile"]


def test_cold_start_imports_stay_light() -> None:
    code = "import sys, dockeropt.cli; print(' '.join(sorted(sys.modules)))"
    mods = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    heavy = {"dockerfile", "tree_sitter", "dockeropt.syntax", "dockeropt.pipeline", "pygls", "rich", "rich.progress",
             "dockeropt.transforms", "typer", "pydantic", "click"}
    assert not heavy & set(mods)


def test_pre_commit_hooks_match_the_same_files_as_discovery() -> None:
    import re

    text = (Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text()
    ids = re.findall(r"^- id: (\S+)$", text, re.M)
    entries = re.findall(r"^  entry: (.+)$", text, re.M)
    files = [re.compile(p) for p in re.findall(r"^  files: (.+)$", text, re.M)]
    excludes = [re.compile(p) for p in re.findall(r"^  exclude: (.+)$", text, re.M)]
    assert ids == ["dockeropt-check", "dockeropt-fix"]
    assert entries == ["dockeropt check --force-exclude", "dockeropt fix --force-exclude"]
    names = ["Dockerfile", "svc/Dockerfile.dev", "a/api.Dockerfile", "Containerfile", "x/Dockerfile.dockerignore",
             "README.md", "docs/Dockerfile-guide.md", "b/web.dockerfile", "c/dockerfile", "containerfile",
             "dockerfile.txt", "docs/dockerfile-notes.md"]
    for f, x in zip(files, excludes):
        for path in names:
            hooked = bool(f.search(path)) and not x.search(path)
            assert hooked == is_dockerfile_name(path.rsplit("/", 1)[-1]), path


def test_summary_reports_size_savings_when_the_catalog_knows_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    from dockeropt import migrate
    from dockeropt.pipeline import FixResult
    from dockeropt.runner import FileOutcome

    sizes = {"python:3.11": 1_000_000_000, "python:3.11-slim": 150_000_000}
    monkeypatch.setattr(migrate, "_LOOKUP", [sizes.get])
    a = FileOutcome(Path("a/Dockerfile"), "a/Dockerfile",
                    result=FixResult("FROM python:3.11\nRUN x\n", "FROM python:3.11-slim\nRUN x\n"))
    b = FileOutcome(Path("b/Dockerfile"), "b/Dockerfile", error="empty file")
    s = migrate.Summary.of([a, b])
    assert (s.scanned, s.changed, s.unchanged, s.failed) == (2, 1, 0, 1)
    assert s.to_dict()["base_image_bytes"] == {"before": 1_000_000_000, "after": 150_000_000}
    assert "base images (final stages, changed files): 1000 MB -> 150 MB (85% smaller)" in s.render()
    monkeypatch.setattr(migrate, "_LOOKUP", [None])  # a catalog without sizes: the line is left out
    assert "base images" not in migrate.Summary.of([a]).render()


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    import pty

    for i in range(3):
        service(tmp_path, f"s{i}/Dockerfile")
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--diff", "--jobs", "1", "."], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=slave, timeout=120,
                              env={**os.environ, "TERM": "xterm", "COLUMNS": "100"})
    finally:
        os.close(slave)
    err = read_all(master)
    assert proc.returncode == 0
    assert "\x1b[" in err and "3/3" in err  # rich drew (and cleared) a bar
    assert b"\x1b[" not in proc.stdout  # the patch on stdout stays clean
