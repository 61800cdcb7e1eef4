"""Issue 7's proof: an NPM_TOKEN build argument and .npmrc write become a secret mount that builds with --secret."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from docker_support import require_engine, require_images
from harness import run_fix

pytestmark = pytest.mark.docker

DOCKERFILE = """FROM debian:bookworm-slim
ARG NPM_TOKEN
ENV NPM_TOKEN=$NPM_TOKEN
WORKDIR /app
RUN echo "//npm.example.invalid/:_authToken=${NPM_TOKEN}" > .npmrc && \\
    sha256sum .npmrc | cut -d' ' -f1 > /app/npmrc.sha256 && \\
    rm -f .npmrc
CMD ["cat", "/app/npmrc.sha256"]
"""

TOKEN = "npm_demo_0123456789abcdef"


def _build(docker: str, ctx: Path, tag: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    return subprocess.run(
        [docker, "build", "--network", "host", "-q", "-t", tag, *extra, str(ctx)],
        capture_output=True, text=True, env=env, timeout=600,
    )


def test_secret_build_arg_becomes_secret_mount(tmp_path: Path) -> None:
    docker = require_engine()
    require_images(docker, DOCKERFILE)
    result = run_fix(DOCKERFILE, select=["DO302"])
    fixed = result.fixed
    assert "ARG NPM_TOKEN" not in fixed and "ENV NPM_TOKEN" not in fixed
    assert "--mount=type=secret,id=npm_token" in fixed
    expl = " ".join(c.explanation for c in result.applied)
    assert "docker build --secret id=npm_token,src=" in expl and TOKEN not in expl

    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(fixed)
    secret = tmp_path / "npm_token"
    secret.write_text(TOKEN)
    tag = "dockeropt-e2e-secret:fixed"
    built = _build(docker, ctx, tag, "--secret", f"id=npm_token,src={secret}")
    assert built.returncode == 0, built.stderr
    try:
        out = subprocess.run([docker, "run", "--rm", "--network", "host", tag], capture_output=True, text=True, timeout=120)
        expected = hashlib.sha256(f"//npm.example.invalid/:_authToken={TOKEN}\n".encode()).hexdigest()
        assert out.stdout.strip() == expected  # the RUN saw the token
        config = json.loads(subprocess.run([docker, "image", "inspect", tag], capture_output=True, text=True, check=True).stdout)
        assert not any(e.startswith("NPM_TOKEN=") for e in config[0]["Config"].get("Env") or [])
        history = subprocess.run([docker, "history", "--no-trunc", tag], capture_output=True, text=True, check=True).stdout
        assert TOKEN not in history
        saved = subprocess.run([docker, "save", tag], capture_output=True, check=True).stdout
        assert TOKEN.encode() not in saved  # in no layer, config or history
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True)

    # required=true: a pipeline that still passes only --build-arg fails at once, naming the secret,
    # instead of building with an empty token (and failing later with a 401)
    tag1 = "dockeropt-e2e-secret:no-secret"
    missing = _build(docker, ctx, tag1, "--no-cache", "--build-arg", f"NPM_TOKEN={TOKEN}")
    subprocess.run([docker, "rmi", "-f", tag1], capture_output=True)
    assert missing.returncode != 0, "a build without --secret must fail"
    assert "npm_token" in missing.stderr and TOKEN not in missing.stderr, missing.stderr[-2000:]

    # the original, for contrast, leaks the token into the image config
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    tag0 = "dockeropt-e2e-secret:original"
    built0 = _build(docker, ctx, tag0, "--build-arg", f"NPM_TOKEN={TOKEN}")
    assert built0.returncode == 0, built0.stderr
    try:
        config0 = subprocess.run([docker, "image", "inspect", tag0], capture_output=True, text=True, check=True).stdout
        assert TOKEN in config0
    finally:
        subprocess.run([docker, "rmi", "-f", tag0], capture_output=True)
