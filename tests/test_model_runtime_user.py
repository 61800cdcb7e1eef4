"""Model facts for the runtime passes: private homes, programs the image has, where the app's source is."""

from __future__ import annotations

import json
from pathlib import Path

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.model import ImageModel
from dockeropt.model.homes import move_for, private_writes
from dockeropt.model.programs import programs
from dockeropt.syntax import parse


def model(text: str, context: Path | None = None) -> ImageModel:
    return ImageModel.build(parse(text), BuildContext(context) if context is not None else None, Config())


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def _private(text: str) -> list[tuple[str, str, str | None, int]]:
    m = model(text)
    final = m.graph.final
    assert final is not None
    return [(w.tool, w.kind, w.path, w.instruction.start_line) for w in private_writes(m, final.index)]


# --------------------------------------------------------------------------- private homes


def test_pip_user_npm_prefix_pipenv_and_poetry_land_in_roots_home() -> None:
    assert _private("FROM python:3.11\nWORKDIR /app\nRUN pip install --user -r requirements.txt\n") == [
        ("pip", "home", "/root/.local", 3)]
    assert _private("FROM node:18\nENV NPM_CONFIG_PREFIX=/root/.npm-global\nRUN npm install -g pm2\n") == [
        ("npm", "prefix", "/root/.npm-global", 3)]
    assert _private("FROM python:3.11\nWORKDIR /app\nRUN pipenv install --deploy\n") == [
        ("pipenv", "home", "/root/.local/share/virtualenvs", 3)]
    assert _private("FROM python:3.11\nWORKDIR /app\nRUN poetry install\n")[0][:2] == ("poetry", "home")


def test_shared_folders_are_not_private() -> None:
    assert _private("FROM python:3.11\nENV PYTHONUSERBASE=/opt/python-user\nRUN pip install --user flask\n") == []
    assert _private("FROM node:18\nRUN npm install -g pm2\n") == []  # /usr/local
    assert _private("FROM python:3.11\nWORKDIR /app\nENV PIPENV_VENV_IN_PROJECT=1\nRUN pipenv install --deploy\n") == []
    assert _private("FROM python:3.11\nWORKDIR /app\nRUN pipenv install --deploy --system\n") == []


def test_corepack_downloads_the_package_manager_into_home_on_first_use() -> None:
    text = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN corepack enable\nRUN yarn install --immutable\n"
    assert _private(text) == [("corepack", "home", "/root/.cache/node/corepack", 5)]
    # no corepack: yarn 1 from the image, nothing downloaded
    assert _private("FROM node:18\nWORKDIR /app\nCOPY . .\nRUN yarn install --frozen-lockfile\n") == []
    shared = "FROM node:18\nENV COREPACK_HOME=/opt/corepack\nWORKDIR /app\nCOPY . .\nRUN corepack enable\nRUN yarn install\n"
    assert _private(shared) == []


def test_yarn_4_plug_n_play_keeps_its_packages_in_roots_home(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {"package.json": json.dumps({"name": "a", "packageManager": "yarn@4.5.3"}),
                          "yarn.lock": "__metadata:\n  version: 8\n", ".yarnrc.yml": "nodeLinker: pnp\n"})
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN yarn install --immutable\n"
    m = model(text, ctx)
    final = m.graph.final
    assert final is not None
    writes = private_writes(m, final.index)
    assert [(w.tool, w.kind, w.path, w.instruction.start_line) for w in writes] == [
        ("yarn-berry", "pnp-cache", "/root/.yarn/berry/cache", 4)]
    mv = move_for(writes[0])
    assert mv is not None and not mv["apply"] and "enableGlobalCache: false" in mv["fix"]
    (tmp_path / ".yarnrc.yml").write_text("nodeLinker: pnp\nenableGlobalCache: false\n")
    m = model(text, tmp_path)
    assert private_writes(m, 0) == []  # the project's .yarn/cache


def test_copies_into_roots_home_and_moves() -> None:
    m = model("FROM python:3.11\nCOPY --from=build /root/.local /root/.local\nRUN pip install --user x\n")
    final = m.graph.final
    assert final is not None
    writes = private_writes(m, final.index)
    assert [w.tool for w in writes] == ["copy", "pip"]
    assert move_for(writes[0]) is None
    mv = move_for(writes[1])
    assert mv is not None and mv["set_env"] == "PYTHONUSERBASE"


# --------------------------------------------------------------------------- programs


def test_programs_from_the_base_and_from_installs() -> None:
    m = model("FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl tini\nCMD x\n")
    have = programs(m, 0)
    assert set(have) >= {"curl", "tini"} and "wget" not in have and "python3" not in have
    assert have["curl"].instruction == 1
    m = model("FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl && apt-get purge -y curl\n")
    assert "curl" not in programs(m, 0)
    assert "python3" in programs(model("FROM python:3.11-slim\n"), 0)
    assert programs(model("FROM gcr.io/distroless/nodejs18-debian12\n"), 0)["node"].path == "/nodejs/bin/node"
    assert programs(model("FROM gcr.io/distroless/static-debian12\n"), 0) == {}
    assert "wget" in programs(model("FROM alpine:3.20\n"), 0)
    m = model("FROM python:3.11-slim\nCOPY --from=probe /ko/grpc_health_probe /bin/grpc_health_probe\n")
    assert programs(m, 0)["grpc_health_probe"].path == "/bin/grpc_health_probe"


# --------------------------------------------------------------------------- where the app is, and how it listens


def test_app_source_is_found_through_copy_from_a_build_stage(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {"package.json": json.dumps({"dependencies": {"express": "^4"}}),
                          "server.js": "const app = require('express')();\napp.get('/healthz', f);\napp.listen(process.env.PORT || 3000);\n"})
    m = model("FROM node:18 AS build\nWORKDIR /app\nCOPY . .\nRUN npm ci\n"
              "FROM gcr.io/distroless/nodejs18-debian12\nWORKDIR /app\nCOPY --from=build /app /app\nEXPOSE 3000\nCMD [\"server.js\"]\n", ctx)
    rt = m.runtime
    assert rt is not None and rt.app_context_dir == "."
    assert rt.protocol == "http" and rt.health_routes == ("/healthz",) and rt.probe_port_text() == "${PORT:-3000}"


def test_app_source_is_found_from_the_parts_copied_into_the_working_folder(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {"requirements.txt": "fastapi\nuvicorn\n", "app/__init__.py": "",
                          "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n@app.get(\"/items\")\ndef items(): ...\n"})
    m = model("FROM python:3.11\nWORKDIR /code\nCOPY ./requirements.txt /code/requirements.txt\nCOPY ./app /code/app\n"
              "CMD [\"uvicorn\", \"app.main:app\", \"--port\", \"8103\"]\n", ctx)
    rt = m.runtime
    assert rt is not None and rt.app_context_dir == "."
    assert rt.routes == ("/items",) and rt.health_routes == () and rt.frameworks == ("fastapi",)


def test_python_http_server_port_is_its_argument() -> None:
    rt = model("FROM python:3.11-slim\nCMD [\"python3\", \"-m\", \"http.server\", \"8123\"]\n").runtime
    assert rt is not None and rt.protocol == "http" and rt.listen is not None and rt.listen.number == 8123


def test_app_source_is_found_through_files_copied_by_name_from_a_build_stage(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {"package.json": json.dumps({"dependencies": {"express": "^4"}}),
                          "src/server.js": "const app = require('express')();\napp.get('/health', f);\napp.listen(process.env.PORT || 3000);\n"})
    m = model("FROM node:18 AS build\nWORKDIR /usr/src/app\nCOPY . .\nRUN npm ci\n"
              "FROM node:18-slim AS deps\nWORKDIR /usr/src/app\nCOPY package.json ./\nRUN npm ci --omit=dev\n"
              "FROM gcr.io/distroless/nodejs18-debian12\nENV PORT=8081\nWORKDIR /usr/src/app\n"
              "COPY --from=deps /usr/src/app /usr/src/app\nCOPY --from=build /usr/src/app/package.json /usr/src/app/src /usr/src/app/\n"
              "EXPOSE 8081\nCMD [\"src/server.js\"]\n", ctx)
    rt = m.runtime
    assert rt is not None and rt.app_context_dir == "." and rt.health_routes == ("/health",)
    assert rt.probe_port_text(m.end_state(2).env) == "${PORT:-8081}"


# --------------------------------------------------------------------------- project files that write under $HOME


def _home_sources(text: str, ctx: Path) -> list[tuple[str, str | None, int, str]]:
    m = model(text, ctx)
    final = m.graph.final
    assert final is not None
    return [(w.tool, w.path, w.instruction.start_line, w.what) for w in private_writes(m, final.index)
            if w.kind == "home-source"]


def test_a_project_script_run_as_root_that_uses_the_home_is_a_private_write(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {
        "dl.py": "from pathlib import Path\n(Path.home() / '.cache').mkdir()\n",
        "pkg/warm/__main__.py": "import os\nos.makedirs(os.path.expanduser('~/.cache/x'))\n",
        "warm.js": "const d = require('os').homedir();\n",
        "package.json": json.dumps({"scripts": {"prep": "node warm.js", "chain": "node warm.js && true"}}),
    })
    head = "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\n"
    assert _home_sources(head + "RUN python dl.py\n", ctx) == [
        ("project-script", "/root", 4, "what dl.py writes under $HOME")]
    assert _home_sources(head + "RUN python3 -u -m pkg.warm\n", ctx) == [
        ("project-script", "/root", 4, "what pkg/warm/__main__.py writes under $HOME")]
    node = "FROM node:18-slim\nWORKDIR /app\nCOPY . .\n"
    assert _home_sources(node + "RUN node warm.js\n", ctx) == [
        ("project-script", "/root", 4, "what warm.js writes under $HOME")]
    assert _home_sources(node + "RUN npm run prep\n", ctx) == [
        ("project-script", "/root", 4, "what warm.js writes under $HOME")]
    # not root, HOME outside /root, inline code, a script needing a shell, a file the context lacks: nothing
    assert _home_sources(node + "USER node\nRUN npm run prep\n", ctx) == []
    assert _home_sources(head + "ENV HOME=/opt/home\nRUN python dl.py\n", ctx) == []
    assert _home_sources(head + "RUN python -c 'import dl'\n", ctx) == []
    assert _home_sources(node + "RUN npm run chain\n", ctx) == []
    assert _home_sources(head + "RUN python missing.py\n", ctx) == []


def test_a_project_script_that_does_not_use_the_home_is_not_a_private_write(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {"dl.py": "open('/app/model.bin', 'w').write('x')\n"})
    assert _home_sources("FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN python dl.py\n", ctx) == []
