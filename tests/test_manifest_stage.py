"""DO113 manifest-stage: the cut-down manifests are what the install needs, and only edits that change no
dependency leave them byte-identical (the stage's own commands are run here, as the build would run them)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from dockeropt.config import Config
from harness import run_fix


def _ctx(tmp: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return tmp


def _stage_run(dockerfile: str, context: Path) -> str:
    """The RUN of the manifest stage DO113 (and the default rules) write for ``dockerfile``."""
    res = run_fix(dockerfile, config=Config(select=["DO113"]), context=context, path=context / "Dockerfile")
    assert res.converged and not res.errors, res.errors
    stage = re.search(r"^FROM \S+ AS (\S*manifest\S*)\n(.*?)\n\n", res.fixed, re.M | re.S)
    assert stage is not None, res.fixed
    return next(ln for ln in stage.group(2).splitlines() if ln.startswith("RUN "))


def _run(run_line: str, name: str, content: str, tmp: Path) -> bytes:
    """Run the stage's command on a file called ``name`` holding ``content``; what it leaves there."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / name).write_text(content, encoding="utf-8")
    argv = shlex.split(run_line.removeprefix("RUN "))
    program = shutil.which(argv[0])
    if program is None:
        pytest.fail(f"{argv[0]} is needed to run the manifest stage's command")
    subprocess.run([program, *argv[1:]], cwd=tmp, check=True, timeout=60)
    return (tmp / name).read_bytes()


NODE = "FROM node:18\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci --omit=dev\nCOPY . .\nCMD [\"node\", \"s.js\"]\n"
LOCK = json.dumps({"name": "x", "lockfileVersion": 3, "packages": {"": {"name": "x"}}})


def test_package_json_keeps_what_npm_installs_from(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "ctx", {"package.json": json.dumps({"name": "x", "dependencies": {"ms": "2"}}), "package-lock.json": LOCK})
    run = _stage_run(NODE, ctx)
    base = {"name": "x", "version": "1.0.0", "description": "d", "scripts": {"start": "node s.js", "postinstall": "node fix.js"},
            "dependencies": {"express": "4"}, "devDependencies": {"jest": "29"}, "overrides": {"qs": "6"}, "engines": {"node": ">=18"}}
    out = json.loads(_run(run, "package.json", json.dumps(base), tmp_path / "a"))
    assert out == {"name": "x", "dependencies": {"express": "4"}, "devDependencies": {"jest": "29"}, "overrides": {"qs": "6"},
                   "engines": {"node": ">=18"}, "scripts": {"postinstall": "node fix.js"}}
    first = _run(run, "package.json", json.dumps(base, indent=2), tmp_path / "b")
    # the lab's dependency edit (a new field), a version bump, a description or start-script edit: byte-identical
    for i, v in enumerate([dict(base, labEdit="x"), dict(base, version="1.0.1"), dict(base, description="other"),
                           dict(base, scripts={"start": "node other.js", "postinstall": "node fix.js"})]):
        assert _run(run, "package.json", json.dumps(v), tmp_path / f"s{i}") == first, v
    # a dependency, an override or an install script: not
    for i, v in enumerate([dict(base, dependencies={"express": "5"}), dict(base, overrides={"qs": "7"}),
                           dict(base, scripts={"postinstall": "node other.js"})]):
        assert _run(run, "package.json", json.dumps(v), tmp_path / f"d{i}") != first, v
    assert _run(run, "package.json", "\ufeff" + json.dumps(base), tmp_path / "bom") == first  # npm accepts a BOM


def test_yarn_and_pnpm_keep_their_own_fields(tmp_path: Path) -> None:
    pkg = json.dumps({"name": "x", "dependencies": {"ms": "2"}})
    yarn = _stage_run(NODE.replace("package-lock.json", "yarn.lock").replace("npm ci --omit=dev", "yarn install --frozen-lockfile"),
                      _ctx(tmp_path / "y", {"package.json": pkg, "yarn.lock": "# yarn lockfile v1\n"}))
    pnpm = _stage_run(NODE.replace("package-lock.json", "pnpm-lock.yaml").replace("npm ci --omit=dev", "pnpm install --frozen-lockfile"),
                      _ctx(tmp_path / "p", {"package.json": pkg, "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"}))
    full = {"name": "x", "version": "1", "dependencies": {"ms": "2"}, "resolutions": {"ms": "2"}, "packageManager": "pnpm@9.0.0",
            "pnpm": {"overrides": {"ms": "2"}}}
    assert json.loads(_run(yarn, "package.json", json.dumps(full), tmp_path / "ry")) == {
        "name": "x", "dependencies": {"ms": "2"}, "resolutions": {"ms": "2"}, "packageManager": "pnpm@9.0.0"}
    assert json.loads(_run(pnpm, "package.json", json.dumps(full), tmp_path / "rp")) == {
        "name": "x", "dependencies": {"ms": "2"}, "resolutions": {"ms": "2"}, "packageManager": "pnpm@9.0.0",
        "pnpm": {"overrides": {"ms": "2"}}}


def test_requirements_lose_comments_and_blank_lines_only(tmp_path: Path) -> None:
    text = "flask==3.0.3\ngunicorn==22.0.0  # server\n"
    ctx = _ctx(tmp_path / "ctx", {"requirements.txt": text})
    run = _stage_run("FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt ./\nRUN pip install -r requirements.txt\n"
                     "COPY . .\nCMD [\"python\", \"app.py\"]\n", ctx)
    first = _run(run, "requirements.txt", text, tmp_path / "a")
    assert first == text.encode()  # nothing to drop: the pins and their trailing comment stay as written
    edited = "# web server\n" + text + "\n# dockeropt lab: manifest edit 1\n   \n"
    assert _run(run, "requirements.txt", edited, tmp_path / "b") == first
    assert _run(run, "requirements.txt", text.replace("3.0.3", "3.0.4"), tmp_path / "c") != first


@pytest.mark.parametrize("requirements", ["-r base.txt\nflask==3.0.3\n", "flask==3.0.3 \\\n  --hash=sha256:abc\n",
                                          "./libs/shared\nflask==3.0.3\n", "-e git+https://example.invalid/x.git#egg=x\n"])
def test_requirements_that_name_other_files_or_continue_lines_are_left_alone(tmp_path: Path, requirements: str) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": requirements, "base.txt": "gunicorn\n"})
    text = "FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt ./\nRUN pip install -r requirements.txt\nCOPY . .\n"
    res = run_fix(text, config=Config(select=["DO113"]), context=ctx, path=ctx / "Dockerfile")
    assert res.fixed == text and not res.errors


def test_default_rules_put_the_deps_stage_manifests_through_the_cut(tmp_path: Path) -> None:
    # DO201 writes the deps stage; DO113 then takes its package.json from the cut-down copy
    ctx = _ctx(tmp_path, {"package.json": json.dumps({"name": "x", "scripts": {"start": "node s.js"}, "dependencies": {"ms": "2"}}),
                          "package-lock.json": LOCK, "s.js": "require('ms')\n"})
    text = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD [\"npm\", \"start\"]\n"
    res = run_fix(text, config=Config(), context=ctx, path=ctx / "Dockerfile")
    assert res.converged and not res.errors, res.errors
    assert "COPY --from=deps-manifest /manifest/package.json /manifest/package-lock.json ./" in res.fixed, res.fixed
    assert res.fixed.index("AS deps-manifest") < res.fixed.index("AS deps\n")
    assert {"DO113", "DO201"} <= {c.rule_id for c in res.applied}
    again = run_fix(res.fixed, config=Config(), context=ctx, path=ctx / "Dockerfile")
    assert again.fixed == res.fixed  # a fixpoint: the cut-down copy is not cut again
