"""Running dockeropt as an unprivileged user, for the tests about permissions.

CI runs as root, and root may read and write anything; these tests run the command line as uid
65534 (``setpriv``) so that the permission checks are the kernel's. Run by a non-root user, the
command runs as that user.

The interpreter must be one that user can run. When it is not (a Python installed under a
private ``/root``, as the extra Python 3.10 run of ``tools/test.sh`` may use), the tests skip with
that reason, unless ``DOCKEROPT_REQUIRE_UNPRIVILEGED=1`` (set by ``tools/test.sh`` for its main
run), where that is a failure instead: the permission tests are never silently skipped there.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

NOBODY = 65534
ROOT_USER = os.geteuid() == 0


def _prefix() -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if ROOT_USER else []


@functools.lru_cache(maxsize=1)
def _usable() -> str | None:
    """None when the unprivileged user can run this interpreter with dockeropt; else why not."""
    if not ROOT_USER:
        return None
    try:
        res = subprocess.run([*_prefix(), sys.executable, "-c", "import dockeropt.cli"], capture_output=True,
                             text=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run setpriv: {exc}"
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["?"])[-1]
        return f"uid {NOBODY} cannot run {sys.executable}: {last}"
    return None


def require() -> None:
    why = _usable()
    if why is None:
        return
    if os.environ.get("DOCKEROPT_REQUIRE_UNPRIVILEGED") == "1":
        pytest.fail(why)
    pytest.skip(why)


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``dockeropt ARGS`` as the unprivileged user, in ``cwd`` (which that user must be able to reach)."""
    require()
    env = {**os.environ, "HOME": str(cwd), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([*_prefix(), sys.executable, "-m", "dockeropt", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)
