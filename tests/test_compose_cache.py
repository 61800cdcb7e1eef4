"""DO112 compose-build-cache on real folders: the CLI diff and write, compose files outside the context."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.pipeline import fix_text
from dockeropt.rules import PassContext

DOCKERFILE = 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD ["node", "server.js"]\n'
COMPOSE = """\
# stack
services:
  api:
    build: .  # this folder
  worker:
    build:
      context: .
      target: worker   # keep
  other:
    build: ./other
"""


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--select", "DO112", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cli_diff_shows_compose_change_and_fix_writes_valid_compose(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Dockerfile").write_text(DOCKERFILE)
    diff = _cli(tmp_path, "--diff", "Dockerfile")
    assert "+++ b/compose.yaml" in diff.stdout and "+      cache_from:" in diff.stdout, diff.stdout + diff.stderr
    assert (tmp_path / "compose.yaml").read_text() == COMPOSE  # --diff writes nothing
    res = _cli(tmp_path, "Dockerfile")
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "compose.yaml").read_text()
    assert text.startswith("# stack\n") and "# keep" in text and "# this folder" in text
    data = YAML(typ="safe").load(text)
    assert data["services"]["api"]["build"] == {
        "context": ".",
        "cache_from": ["type=local,src=.buildx-cache/api"],
        "cache_to": ["type=local,dest=.buildx-cache/api,mode=max"],
    }
    assert data["services"]["worker"]["build"]["target"] == "worker"
    assert data["services"]["worker"]["build"]["cache_to"] == ["type=local,dest=.buildx-cache/worker,mode=max"]
    assert data["services"]["other"]["build"] == "./other"  # another Dockerfile: untouched
    assert ".buildx-cache" in (tmp_path / ".dockerignore").read_text().splitlines()
    again = _cli(tmp_path, "--check", "Dockerfile")
    assert again.returncode == 0 and again.stdout == ""  # idempotent on disk


def test_compose_outside_the_context_gets_a_note_only(tmp_path: Path) -> None:
    ctx_dir = tmp_path / "ctx"
    df_dir = tmp_path / "docker"
    ctx_dir.mkdir()
    df_dir.mkdir()
    (df_dir / "Dockerfile").write_text(DOCKERFILE)
    compose = "services:\n  web:\n    build:\n      context: ../ctx\n      dockerfile: ../docker/Dockerfile\n"
    (df_dir / "compose.yaml").write_text(compose)
    pctx = PassContext(config=Config(select=["DO112"]), path=df_dir / "Dockerfile",
                       context=BuildContext(ctx_dir, dockerfile=df_dir / "Dockerfile"))
    r = fix_text(DOCKERFILE, pctx)
    assert not r.files and not r.applied
    (note,) = r.notes
    assert note.fix is None and "outside the build context" in note.explanation and "`web`" in note.explanation


def test_dockerfile_in_subfolder_matched_through_dockerfile_key(tmp_path: Path) -> None:
    (tmp_path / "services" / "api").mkdir(parents=True)
    df = tmp_path / "services" / "api" / "Dockerfile"
    df.write_text(DOCKERFILE)
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  api:\n    build:\n      context: .\n      dockerfile: services/api/Dockerfile\n"
        "  web:\n    build: .\n"
    )
    (tmp_path / ".dockerignore").write_text(".buildx-cache/\n")
    pctx = PassContext(config=Config(select=["DO112"]), path=df, context=BuildContext(tmp_path, dockerfile=df))
    r = fix_text(DOCKERFILE, pctx)
    assert set(r.files) == {"docker-compose.yml"}  # .dockerignore already covers the cache
    data = YAML(typ="safe").load(r.files["docker-compose.yml"][1])
    assert "cache_from" in data["services"]["api"]["build"]
    assert data["services"]["web"]["build"] == "."  # builds ./Dockerfile, not this one
