"""Writes and permissions, as an unprivileged user would meet them.

CI runs as root, and root may write anything; these tests create the files as root and run
dockeropt as an unprivileged uid (``setpriv``), so the permission checks are the kernel's. Run by
a non-root user, they run dockeropt as that user and set up only what that user can.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import unprivileged
from harness import ROOT

NOBODY = unprivileged.NOBODY
ROOT_USER = unprivileged.ROOT_USER
NAIVE = (ROOT / "examples" / "node-naive" / "Dockerfile").read_text()


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="dockeropt-perm-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        for p in d.rglob("*"):
            try:
                p.chmod(0o700 if p.is_dir() else 0o600)
            except OSError:
                pass
        shutil.rmtree(d, ignore_errors=True)


def as_user(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run dockeropt as an unprivileged user (uid 65534 when we are root, else ourselves)."""
    return unprivileged.run(*args, cwd=cwd)


def user_owns(p: Path) -> None:
    if ROOT_USER:
        os.chown(p, NOBODY, NOBODY)


def app(d: Path, *, owner_user: bool = True) -> Path:
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / "examples" / "node-naive" / name, d / name)
        user_owns(d / name)
    df = d / "Dockerfile"
    df.write_text(NAIVE)
    if owner_user:
        user_owns(d)
        user_owns(df)
    return df


def one_error(res: subprocess.CompletedProcess[str], *words: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1, res.stderr
    for w in words:
        assert w in errors[0], res.stderr


def test_the_unprivileged_user_really_is_unprivileged(shared: Path) -> None:
    unprivileged.require()
    # the tests below mean nothing if the kernel lets this user write everything
    f = shared / "root-only"
    f.write_text("x")
    f.chmod(0o644)
    if not ROOT_USER:
        pytest.skip("not root: the tests run as this user")
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "sh", "-c", f"echo y > {f}"]
    assert subprocess.run(cmd, capture_output=True).returncode != 0
    assert f.read_text() == "x"


def test_a_read_only_file_is_refused_not_rewritten(shared: Path) -> None:
    df = app(shared)
    df.chmod(0o444)
    res = as_user("fix", "Dockerfile", cwd=shared)
    one_error(res, "Dockerfile", "cannot write", "permission denied")
    assert df.read_text() == NAIVE and stat.S_IMODE(df.stat().st_mode) == 0o444


@pytest.mark.skipif(not ROOT_USER, reason="needs a file owned by another user (root creates it)")
def test_someone_elses_file_in_a_folder_the_user_may_write_is_refused(shared: Path) -> None:
    # the atomic rename would succeed here (the folder is writable) and hand the file to the user
    df = app(shared, owner_user=False)
    user_owns(shared)
    df.chmod(0o644)
    res = as_user("fix", "Dockerfile", cwd=shared)
    one_error(res, "cannot write")
    st = df.stat()
    assert df.read_text() == NAIVE and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o644


@pytest.mark.skipif(not ROOT_USER, reason="needs a file owned by another user (root creates it)")
def test_a_file_the_user_may_write_in_a_folder_it_may_not_is_written_in_place(shared: Path) -> None:
    df = app(shared, owner_user=False)  # root's folder (0755), root's file, writable by all
    df.chmod(0o666)
    res = as_user("fix", "Dockerfile", cwd=shared)
    assert res.returncode == 0, res.stderr
    st = df.stat()
    assert df.read_text() != NAIVE and "npm ci" in df.read_text()
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o666  # still root's, same mode


def test_hard_links_and_mode_survive_a_fix(shared: Path) -> None:
    df = app(shared)
    df.chmod(0o640)
    other = shared / "Dockerfile.link"
    os.link(df, other)
    ino = df.stat().st_ino
    res = as_user("fix", "Dockerfile", cwd=shared)
    assert res.returncode == 0, res.stderr
    assert df.stat().st_ino == ino and df.stat().st_nlink == 2
    assert other.read_text() == df.read_text() != NAIVE
    assert stat.S_IMODE(df.stat().st_mode) == 0o640
    assert not [p for p in shared.iterdir() if p.name.startswith(".Dockerfile")]  # no temporary files left


def test_a_created_file_in_a_folder_the_user_may_not_write_refuses_the_whole_fix(shared: Path) -> None:
    # DO203 wants to create .dockerignore beside the Dockerfile; the folder is root's
    (shared / "node_modules").mkdir()
    (shared / "node_modules" / "x.js").write_text("1")
    df = app(shared, owner_user=False)
    if ROOT_USER:
        os.chown(df, NOBODY, NOBODY)
    res = as_user("fix", "--select", "DO101,DO203", "Dockerfile", cwd=shared)
    if not ROOT_USER and os.access(shared, os.W_OK):
        pytest.skip("the folder is ours: nothing to refuse")
    one_error(res, "cannot write", ".dockerignore")
    assert df.read_text() == NAIVE and not (shared / ".dockerignore").exists()  # nothing half-done


@pytest.mark.parametrize("use_git", [False, True])
def test_an_unreadable_subfolder_is_a_warning_not_a_crash(shared: Path, use_git: bool) -> None:
    svc = shared / "svc"
    svc.mkdir()
    app(svc)
    secret = shared / "data"
    (secret / "pg").mkdir(parents=True)
    (secret / "pg" / "Dockerfile").write_text("FROM postgres:16\n")
    secret.chmod(0o700)  # root's: the user may not enter it
    unprivileged.require()
    if use_git:
        subprocess.run(["git", "init", "-q", str(shared)], check=True)
        subprocess.run(["git", "-C", str(shared), "config", "--global", "--add", "safe.directory", "*"],
                       env={**os.environ, "HOME": str(shared)}, check=True, capture_output=True)
    res = as_user("fix", "--check", ".", cwd=shared)
    assert "Traceback" not in res.stderr, res.stderr
    if not ROOT_USER:
        pytest.skip("not root: the folder is ours and readable")
    assert res.returncode == 1, res.stderr  # changes pending in svc/Dockerfile: the unreadable folder is no error
    assert "svc/Dockerfile" in res.stdout
    warnings = [ln for ln in res.stderr.splitlines() if "warning" in ln and "data" in ln]
    assert warnings and "cannot read this folder" in warnings[0], res.stderr


def test_a_failed_write_puts_the_file_back(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a hard-linked file is rewritten in place; a write error half-way must leave the old text
    from dockeropt import runner

    f = shared / "Dockerfile"
    f.write_text(NAIVE)
    os.link(f, shared / "twin")
    real = os.ftruncate
    calls = {"n": 0}

    def failing(fd: int, n: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.EIO, "I/O error")
        real(fd, n)

    monkeypatch.setattr(runner.os, "ftruncate", failing)
    with pytest.raises(OSError):
        runner.write_file(f, "FROM scratch\n" + "# much longer text\n" * 40, expected=NAIVE)
    assert f.read_text() == NAIVE and (shared / "twin").read_text() == NAIVE


def test_a_file_changed_meanwhile_is_not_overwritten(shared: Path) -> None:
    from dockeropt import runner

    f = shared / "Dockerfile"
    f.write_text("FROM alpine:3.19\n")
    with pytest.raises(OSError, match="changed while dockeropt was fixing"):
        runner.write_file(f, "FROM alpine:3.20\n", expected=NAIVE)
    assert f.read_text() == "FROM alpine:3.19\n"
