"""DO201 add-runtime-stage: behaviour a user would notice, and convergence with every other rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockeropt.config import Config
from dockeropt.edits import Safety
from harness import ROOT, assert_sound, run_fix

FIXTURES = ROOT / "tests" / "fixtures" / "DO201"


def _ctx(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def _fix(text: str, context: Path | None, select: list[str] | None = None, **cfg: object) -> tuple[str, list[str], list[str]]:
    config = Config(select=select if select is not None else ["DO201"])
    for k, v in cfg.items():
        setattr(config, k, v)
    res = run_fix(text, config=config, context=context, path=(context / "Dockerfile") if context else None)
    assert res.converged and not res.errors, res.errors
    return res.fixed, [c.explanation for c in res.applied], [c.explanation for c in res.notes]


def _pkg(**kw: object) -> str:
    return json.dumps({"name": "x", **kw})


NODE = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD [\"npm\", \"start\"]\n"


def test_npm_start_resolves_to_node_file(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node lib/main.js --port 3000"}),
                          "lib/main.js": "require('child_process')\n"})
    fixed, _, _ = _fix(NODE, ctx)
    # child_process in the app: no distroless, node slim with a direct node CMD
    assert "FROM node:18-slim" in fixed
    assert fixed.rstrip().endswith('CMD ["node", "lib/main.js", "--port", "3000"]')


def test_prestart_hook_keeps_npm_start(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"prestart": "node migrate.js", "start": "node server.js"})})
    fixed, _, _ = _fix(NODE, ctx)
    assert "FROM node:18-slim" in fixed  # npm is still in node slim
    assert fixed.rstrip().endswith('CMD ["npm", "start"]')


def test_dev_dependency_used_at_start_is_not_pruned(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "ts-node src/index.ts"}, devDependencies={"ts-node": "^10"})})
    fixed, applied, _ = _fix(NODE, ctx)
    assert "npm prune" not in fixed
    assert "ts-node" in applied[0]


def test_dev_dependencies_pruned_after_build(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"build": "tsc", "start": "node dist/a.js"}, devDependencies={"typescript": "5"})})
    fixed, _, _ = _fix("FROM node:14\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm run build\nCMD npm start\n", ctx)
    build, runtime = fixed.split("\n\n")
    assert build.endswith("RUN npm prune --production")  # npm 6 has no --omit
    assert "COPY --from=build /app /app" in runtime


def test_stage_name_and_keyword_case_kept(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n", "app.py": ""})
    text = "from python:3.11 as app\nworkdir /srv\ncopy . .\nrun pip install -r requirements.txt\ncmd [\"python\", \"app.py\"]\n"
    fixed, _, _ = _fix(text, ctx)
    assert fixed.startswith("from python:3.11 as app-build\n")
    assert "\nfrom python:3.11-slim as app\n" in fixed  # `--target app` still builds the final image
    assert "copy --from=app-build /opt/venv /opt/venv" in fixed


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n"})
    text = "FROM python:3.11\r\nWORKDIR /app\r\nCOPY . .\r\nRUN pip install -r requirements.txt\r\nCMD [\"python\", \"app.py\"]\r\n"
    fixed, _, _ = _fix(text, ctx)
    assert "FROM python:3.11-slim" in fixed
    assert fixed.count("\n") == fixed.count("\r\n")


def test_pip_user_install_is_only_a_note(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n"})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install --user -r requirements.txt\nCMD [\"python\", \"app.py\"]\n"
    fixed, applied, notes = _fix(text, ctx)
    assert fixed == text and not applied
    assert "--user" in notes[0]


def test_psycopg2_source_build_gets_libpq_at_runtime(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2==2.9.9\n"})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n"
    fixed, _, _ = _fix(text, ctx)
    runtime = fixed.split("\n\n")[1]
    assert "apt-get install -y --no-install-recommends libpq5" in runtime


def test_binary_on_system_path_and_shell_cmd_go_to_debian_slim(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"go.mod": "module x\n", "main.go": "package main\n"})
    text = "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /usr/local/bin/app .\nCMD app --port $PORT\n"
    fixed, _, _ = _fix(text, ctx)
    assert "FROM debian:bookworm-slim" in fixed  # $PORT needs a shell
    assert "ca-certificates tzdata" in fixed
    assert "COPY --from=build /usr/local/bin/app /usr/local/bin/app" in fixed
    assert fixed.rstrip().endswith("CMD app --port $PORT")


def test_go_without_context_keeps_cgo_on_glibc_runtime_and_is_unsafe() -> None:
    text = "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /src/app .\nCMD [\"/src/app\"]\n"
    fixed, applied, notes = _fix(text, None)
    assert fixed == text and not applied  # unsafe: held back by default
    fixed, _, _ = _fix(text, None, unsafe_fixes=True)
    assert "gcr.io/distroless/base-debian12" in fixed and "CGO_ENABLED" not in fixed


def test_unknown_user_from_base_blocks(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n"})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nUSER www\nCMD [\"python\", \"app.py\"]\n"
    fixed, applied, notes = _fix(text, ctx)
    assert fixed == text and "USER www" in notes[0]


def test_fix_reports_review_safety(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n"})
    text = "FROM python:3.11\nCOPY . /app\nRUN pip install -r /app/requirements.txt\nCMD [\"python\", \"/app/app.py\"]\n"
    res = run_fix(text, config=Config(select=["DO201"]), context=ctx, path=ctx / "Dockerfile")
    assert [c.safety for c in res.applied] == [Safety.REVIEW]
    assert "COPY --from=build /app /app" in res.fixed


FIXTURE_CASES = sorted(p for p in FIXTURES.glob("*.Dockerfile") if not p.name.endswith(".fixed.Dockerfile"))


@pytest.mark.parametrize("case", FIXTURE_CASES, ids=[p.stem for p in FIXTURE_CASES])
def test_fixture_converges_with_every_rule(case: Path) -> None:
    """The whole pipeline (DO101 reorders, DO102 cache mounts, DO202 slim, DO301 user) reaches a fixpoint."""
    context = case.with_name(case.name[: -len(".Dockerfile")] + ".context")
    context_path = context if context.is_dir() else None
    text = case.read_text()
    res = run_fix(text, config=Config(), context=context_path, path=(context_path / "Dockerfile") if context_path else None)
    assert_sound(res, config=Config(), context=context_path)
    alone = run_fix(text, config=Config(select=["DO201"]), context=context_path,
                    path=(context_path / "Dockerfile") if context_path else None)
    if alone.fixed != text:
        # the runtime stage survives the other rules: the final FROM is not the toolchain image
        last_from = [ln for ln in res.fixed.splitlines() if ln.upper().startswith("FROM ")][-1]
        assert last_from.split()[1] == [ln for ln in alone.fixed.splitlines() if ln.upper().startswith("FROM ")][-1].split()[1]
