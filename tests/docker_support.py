"""Shared helpers for the tests that need a Docker engine (marker ``docker``).

Engine detection: under ``CI=true`` a missing engine or base image is a test
failure (the lab is supposed to be there); elsewhere the tests are skipped with
the reason. The docker primitives themselves (build, inspect, smoke) live in
``dockeropt.verify`` so ``dockeropt verify``, these tests and
``benchmarks/lab_report.py`` measure the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from dockeropt.verify import SmokeSpec, _run, docker_binary, engine_problem

REPO = Path(__file__).resolve().parent.parent
APPS_DIR = REPO / "corpus" / "apps"
LAB_HINT = "start the lab with `bash tools/lab/up.sh`"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Fail under CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the Docker lab is required)", pytrace=False)
    pytest.skip(reason)


@cache
def _engine() -> tuple[str | None, str | None]:
    try:
        docker = docker_binary()
    except Exception as exc:  # noqa: BLE001 - reported as the skip reason
        return None, str(exc)
    return docker, engine_problem(docker)


def require_engine() -> str:
    """The docker CLI to use, or skip/fail with a clear reason."""
    docker, problem = _engine()
    if problem is not None or docker is None:
        unavailable(f"no Docker engine: {problem}; {LAB_HINT}")
    assert docker is not None
    return docker


def base_images(dockerfile_text: str) -> list[str]:
    """External images named by FROM (not earlier stages, not scratch)."""
    from dockeropt.syntax import parse

    doc = parse(dockerfile_text)
    names: set[str] = set()
    out: list[str] = []
    for stage in doc.stages:
        image = stage.base
        if image and image.lower() != "scratch" and image.lower() not in names and "$" not in image:
            if image not in out:
                out.append(image)
        if stage.name:
            names.add(stage.name.lower())
    return out


def missing_images(docker: str, images: list[str]) -> list[str]:
    missing = []
    for image in images:
        if _run([docker, "image", "inspect", "--format", "{{.Id}}", image], timeout=60).returncode != 0:
            missing.append(image)
    return missing


def require_images(docker: str, dockerfile_text: str) -> None:
    missing = missing_images(docker, base_images(dockerfile_text))
    if missing:
        unavailable(f"base image(s) not in the local engine: {', '.join(missing)}; {LAB_HINT}")


@dataclass
class App:
    name: str
    path: Path
    spec: SmokeSpec

    @property
    def dockerfile(self) -> Path:
        return self.path / "Dockerfile"


def app_names() -> list[str]:
    return sorted(p.name for p in APPS_DIR.iterdir() if (p / "app.json").is_file())


def load_app(name: str) -> App:
    path = APPS_DIR / name
    return App(name, path, SmokeSpec.load(path / "app.json"))


def all_rule_ids() -> list[str]:
    from dockeropt.rules import load_passes

    return list(load_passes())


def copy_app(app: App, dest: Path) -> Path:
    """A copy of the app folder (the thing `dockeropt fix` may rewrite)."""
    target = dest / app.name
    shutil.copytree(app.path, target, symlinks=True)
    return target


_PREPARED: dict[str, Path] = {}


def prepared_app(docker: str, app: App, base: Path) -> Path:
    """The app folder as a user's checkout has it: a copy with the app.json set-up run (lockfiles
    that embed a registry's address, a jar...), made once per session and shared by the tests."""
    if app.name not in _PREPARED:
        from dockeropt.verify import VerifyError, run_setup, setup_cache_dir

        folder = base / "prepared" / app.name
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(app.path, folder, symlinks=True)
        try:
            run_setup(docker, folder, app.spec, cache_dir=setup_cache_dir())
        except VerifyError as exc:
            pytest.fail(f"{app.name}: {exc}", pytrace=False)
        _PREPARED[app.name] = folder
    return _PREPARED[app.name]


def copy_folder(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


def fix_in_place(folder: Path, rules: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, `dockeropt fix Dockerfile`, in ``folder`` with every rule (opt-in ones too)."""
    argv = [sys.executable, "-m", "dockeropt", "fix", "Dockerfile"]
    ids = all_rule_ids() if rules is None else rules
    if ids:
        argv += ["--select", ",".join(ids)]
    return subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)


def results_dir() -> Path:
    base = os.environ.get("DOCKEROPT_RESULTS_DIR")
    path = Path(base) if base else Path(os.environ.get("TMPDIR", "/tmp")) / "dockeropt-results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_results(name: str, data: object) -> Path:
    path = results_dir() / name
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def ratio(before: float | int | None, after: float | int | None) -> float | None:
    if before in (None, 0) or after is None:
        return None
    return round(after / before, 3)
