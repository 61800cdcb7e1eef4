"""DO201 add-runtime-stage: behaviour a user would notice, per ecosystem, and convergence with every other rule."""

from __future__ import annotations

import json
import re
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


def _stages(fixed: str) -> dict[str, str]:
    """Stage text by name (the unnamed final stage is 'final')."""
    out: dict[str, str] = {}
    for part in re.split(r"\n(?=FROM )", fixed):
        head = part.splitlines()[0].split()
        out[head[-1] if len(head) >= 4 and head[-2].upper() == "AS" else "final"] = part
    return out


def _installs(fixed: str, words: str = r"npm (ci|install)|yarn install|pnpm install") -> int:
    return len(re.findall(rf"^RUN .*\b({words})\b", fixed, re.M))


NODE = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD [\"npm\", \"start\"]\n"
LOCK = json.dumps({"name": "x", "lockfileVersion": 3, "packages": {"": {"name": "x"}}})


# --------------------------------------------------------------------------- node: one install, the app from the context


def test_node_without_a_build_step_installs_once_and_copies_only_node_modules_from_it(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node server.js"}, dependencies={"express": "4"},
                                               devDependencies={"jest": "29"}),
                          "package-lock.json": LOCK, "server.js": "require('express')\n", "lib/a.js": ""})
    fixed, applied, _ = _fix(NODE, ctx)
    st = _stages(fixed)
    assert set(st) == {"deps", "final"}  # no build stage: nothing is built, so nothing installs twice
    assert _installs(fixed) == 1
    assert st["deps"].splitlines()[1:] == ["WORKDIR /app", "COPY package.json package-lock.json ./", "RUN npm ci --omit=dev"]
    final = st["final"]
    assert final.startswith("FROM gcr.io/distroless/nodejs18-debian12\n")
    # node_modules from the one install (all it adds: copying /app would make BuildKit checksum the whole node
    # image), then the app exactly as the original COPY brought it: no frozen file list
    copies = [ln for ln in final.splitlines() if ln.startswith("COPY")]
    assert copies == ["COPY --from=deps /app/node_modules /app/node_modules", "COPY . ."]
    assert final.rstrip().endswith('CMD ["server.js"]')
    assert "the devDependencies (jest)" in applied[0]


def test_node_with_a_build_step_builds_once_prunes_and_copies_the_build_folder(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"build": "tsc", "start": "node dist/index.js"}, devDependencies={"typescript": "5"}),
                          "package-lock.json": LOCK, "tsconfig.json": "{}", "src/index.ts": ""})
    fixed, _, _ = _fix("FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\nRUN npm run build\nCMD [\"npm\", \"start\"]\n", ctx)
    st = _stages(fixed)
    assert set(st) == {"build", "final"}  # no second, production-only install beside the build's
    assert _installs(fixed) == 1
    assert st["build"].rstrip().endswith("RUN npm prune --omit=dev")
    assert "COPY --from=build /app /app" in st["final"]


def test_npm_start_resolves_to_node_file(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node lib/main.js --port 3000"}),
                          "lib/main.js": "require('child_process')\n"})
    fixed, _, _ = _fix(NODE, ctx)
    # child_process in the app: no distroless, node slim with a direct node CMD
    assert "FROM node:18-slim" in fixed
    assert fixed.rstrip().endswith('CMD ["node", "lib/main.js", "--port", "3000"]')


def test_prestart_hook_keeps_npm_start(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"prestart": "node migrate.js", "start": "node server.js"})})
    fixed, applied, _ = _fix(NODE, ctx)
    assert "FROM node:18-slim" in fixed  # npm is still in node slim
    assert fixed.rstrip().endswith('CMD ["npm", "start"]')
    assert "prestart" in applied[0]


def test_dev_dependency_used_at_start_is_not_pruned(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "ts-node src/index.ts"}, devDependencies={"ts-node": "^10"})})
    fixed, applied, _ = _fix(NODE, ctx)
    assert "npm prune" not in fixed and "--omit=dev" not in fixed
    assert "ts-node" in applied[0]


def test_dev_dependencies_pruned_after_build_with_old_npm(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"build": "tsc", "start": "node dist/a.js"}, devDependencies={"typescript": "5"})})
    fixed, _, _ = _fix("FROM node:14\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm run build\nCMD npm start\n", ctx)
    build, runtime = fixed.split("\n\n")
    assert build.endswith("RUN npm prune --production")  # npm 6 has no --omit
    assert "COPY --from=build /app /app" in runtime


def test_npm_install_stays_npm_install_when_the_lock_may_drift(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node s.js"}, dependencies={"ms": "2"}), "package-lock.json": LOCK})
    text = NODE.replace("RUN npm ci", "RUN npm install --legacy-peer-deps --production=false")
    fixed, _, _ = _fix(text, ctx)
    assert "RUN npm install --omit=dev --legacy-peer-deps\n" in _stages(fixed)["deps"]  # never turned into `npm ci`


def test_host_node_modules_must_be_dockerignored(tmp_path: Path) -> None:
    files = {"package.json": _pkg(scripts={"start": "node s.js"}), "s.js": "", "node_modules/x/index.js": ""}
    fixed, applied, notes = _fix(NODE, _ctx(tmp_path, files))
    assert fixed == NODE and not applied
    assert "node_modules" in notes[0] and ".dockerignore" in notes[0] and "line 3" in notes[0]
    # with DO203 in the same run, .dockerignore gets node_modules first and the split follows
    res = run_fix(NODE, config=Config(select=["DO201", "DO203"]), context=tmp_path, path=tmp_path / "Dockerfile")
    assert "node_modules" in res.files[".dockerignore"][1]
    assert "FROM node:18 AS deps" in res.fixed


def test_yarn_classic_installs_production_only_and_runs_node(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node src/server.js"}, dependencies={"ms": "2"}), "yarn.lock": "",
                          "src/server.js": ""})
    fixed, _, _ = _fix(NODE.replace("RUN npm ci", "RUN yarn install --frozen-lockfile").replace('"npm", "start"', '"yarn", "start"'), ctx)
    st = _stages(fixed)
    assert "COPY package.json yarn.lock ./" in st["deps"]
    assert "RUN yarn install --production --frozen-lockfile" in st["deps"]
    assert st["final"].rstrip().endswith('CMD ["src/server.js"]')


def test_yarn_berry_through_corepack_needs_no_yarn_at_start(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node src/server.js"}, packageManager="yarn@4.5.3"), "yarn.lock": "",
                          ".yarnrc.yml": "nodeLinker: node-modules\n", "src/server.js": ""})
    text = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN corepack enable\nRUN yarn install --immutable\nCMD [\"yarn\", \"start\"]\n"
    fixed, applied, _ = _fix(text, ctx)
    st = _stages(fixed)
    assert "RUN corepack enable" in st["deps"] and "COPY package.json yarn.lock .yarnrc.yml ./" in st["deps"]
    # corepack would download yarn again at container start: the start command no longer needs it
    assert "corepack" not in st["final"] and "yarn" not in st["final"]
    assert st["final"].rstrip().endswith('CMD ["src/server.js"]')


_BERRY_TEXT = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN corepack enable\n{}RUN {}yarn install --immutable\nCMD [\"yarn\", \"start\"]\n"


def _berry(tmp_path: Path, rc: str | None, **pkg: object) -> Path:
    files = {"package.json": _pkg(scripts={"start": "node src/server.js"}, packageManager="yarn@4.5.3", **pkg),
             "yarn.lock": "__metadata:\n  version: 8\n", "src/server.js": "", ".dockerignore": "node_modules\n"}
    if rc is not None:
        files[".yarnrc.yml"] = rc
    return _ctx(tmp_path, files)


@pytest.mark.parametrize(("rc", "line", "change"), [
    ("nodeLinker: pnp\n", "line 3 copies `.yarnrc.yml`, whose `nodeLinker: pnp`", "Set `nodeLinker: node-modules` in .yarnrc.yml"),
    ("enableGlobalCache: true\n", "line 5 installs with yarn's Plug'n'Play", "Set `nodeLinker: node-modules` in .yarnrc.yml"),
    (None, "line 5 installs with yarn's Plug'n'Play", "Add a .yarnrc.yml with `nodeLinker: node-modules`"),
])
def test_yarn_berry_plug_n_play_is_a_note_naming_the_line(tmp_path: Path, rc: str | None, line: str, change: str) -> None:
    # plain node loads neither .pnp.cjs nor yarn's cache (in .yarn/cache or ~/.yarn/berry): a runtime would fail with Cannot find module
    text = _BERRY_TEXT.format("", "")
    fixed, applied, notes = _fix(text, _berry(tmp_path, rc))
    assert fixed == text and not applied
    assert line in notes[0] and change in notes[0], notes


def test_yarn_berry_node_modules_from_a_variable_is_split_but_not_from_a_command(tmp_path: Path) -> None:
    ctx = _berry(tmp_path, "nodeLinker: pnp\n")
    for env, prefix in (("ENV YARN_NODE_LINKER=node-modules\n", ""), ("", "YARN_NODE_LINKER=node-modules ")):
        fixed, _, _ = _fix(_BERRY_TEXT.format(env, prefix), ctx)
        st = _stages(fixed)
        assert "YARN_NODE_LINKER=node-modules" in st["deps"] and st["final"].rstrip().endswith('CMD ["src/server.js"]')
    # the deps stage repeats only the install: a `yarn config set` before it would be lost
    text = _BERRY_TEXT.format("", "yarn config set nodeLinker node-modules && ")
    fixed, _, notes = _fix(text, ctx)
    assert fixed == text and "line 5 sets yarn's `nodeLinker: node-modules` in a RUN" in notes[0]
    # ... unless the stage is kept whole as the build stage (a build step)
    ctx2 = _berry(tmp_path / "b", "nodeLinker: pnp\n", devDependencies={"typescript": "5"})
    text2 = text.replace("yarn install --immutable", "yarn install --immutable && yarn tsc")
    fixed, _, _ = _fix(text2, ctx2)
    assert "FROM node:18 AS build" in fixed and "yarn config set nodeLinker node-modules" in _stages(fixed)["build"]


def test_yarn_berry_without_yarnrc_gets_no_classic_production_flag(tmp_path: Path) -> None:
    # packageManager yarn@4 and a berry yarn.lock: yarn 2+ rejects `--production`
    fixed, _, _ = _fix(_BERRY_TEXT.format("ENV YARN_NODE_LINKER=node-modules\n", ""), _berry(tmp_path, None))
    assert "RUN yarn install --immutable" in _stages(fixed)["deps"] and "--production" not in fixed


def test_node_notes_name_the_install_that_blocks(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node s.js"}), "package-lock.json": LOCK, "yarn.lock": "# yarn lockfile v1\n",
                          "s.js": "", ".dockerignore": "node_modules\n"})
    base = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm ci\n{}CMD [\"node\", \"s.js\"]\n"
    cases = {"RUN npm install\nRUN yarn install\n": "line 6 installs with npm and yarn-classic",
             "RUN npm ci\nRUN npm install --prefix /srv\n": "line 6 installs node packages in more than one folder",
             "RUN npm ci\nRUN npm install ms@2\n": "line 6 installs `ms@2`, named on the command line"}
    for extra, expected in cases.items():
        text = base.format(extra)
        fixed, _, notes = _fix(text, ctx)
        assert fixed == text and expected in notes[0], notes


def test_pnpm_installs_production_only_with_its_tool_in_the_deps_stage(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node src/server.js"}), "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
                          "src/server.js": ""})
    text = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm install -g pnpm@9\nRUN pnpm install --frozen-lockfile\nCMD [\"pnpm\", \"start\"]\n"
    fixed, _, _ = _fix(text, ctx)
    st = _stages(fixed)
    assert st["deps"].splitlines()[1:] == ["RUN npm install -g pnpm@9", "WORKDIR /app", "COPY package.json pnpm-lock.yaml ./",
                                           "RUN pnpm install --prod --frozen-lockfile"]
    assert "pnpm" not in st["final"]


def test_pnpm_start_of_a_non_node_script_is_a_note(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "next start"}, dependencies={"next": "14"}), "pnpm-lock.yaml": ""})
    text = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm i -g pnpm\nRUN pnpm install\nCMD [\"pnpm\", \"start\"]\n"
    fixed, _, notes = _fix(text, ctx)
    assert fixed == text
    assert "line 6" in notes[0] and "pnpm" in notes[0]


def test_global_tool_the_image_starts_is_installed_in_the_runtime(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(dependencies={"ms": "2"}), "package-lock.json": LOCK, "server.js": ""})
    text = ("FROM node:18\nENV NPM_CONFIG_PREFIX=/root/.npm-global\nENV PATH=$PATH:/root/.npm-global/bin\nRUN npm install -g pm2\n"
            "WORKDIR /app\nCOPY . .\nRUN npm install\nCMD [\"pm2-runtime\", \"server.js\"]\n")
    fixed, _, _ = _fix(text, ctx)
    final = _stages(fixed)["final"].splitlines()
    assert final[0] == "FROM node:18-slim"  # pm2 runs on node: npm is needed for the global install
    assert final.index("ENV NPM_CONFIG_PREFIX=/root/.npm-global") < final.index("RUN npm install -g pm2") < final.index("COPY . .")
    assert "pm2" not in _stages(fixed)["deps"]


@pytest.mark.parametrize("change", [
    {"package.json": _pkg(scripts={"postinstall": "node setup.js", "start": "node server.js"})},
    {"package.json": _pkg(scripts={"start": "node server.js"}, dependencies={"shared": "file:../shared"})},
    {"package.json": _pkg(scripts={"start": "node server.js"}, workspaces=["packages/*"])},
], ids=["install-script", "local-package", "workspaces"])
def test_source_needed_by_the_install_keeps_the_build_stage(tmp_path: Path, change: dict[str, str]) -> None:
    fixed, _, _ = _fix("FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD [\"npm\", \"start\"]\n",
                       _ctx(tmp_path, {"package-lock.json": LOCK, "server.js": "", **change}))
    assert "AS deps" not in fixed
    assert "COPY --from=build /app /app" in fixed


def test_alpine_native_module_builds_in_the_deps_stage_only(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node s.js"}, dependencies={"bcrypt": "5"}), "package-lock.json": LOCK,
                          "s.js": ""})
    text = ("FROM node:20-alpine\nRUN apk add --no-cache python3 make g++\nWORKDIR /app\nCOPY . .\nRUN npm ci\n"
            "CMD [\"node\", \"s.js\"]\n")
    fixed, applied, _ = _fix(text, ctx)
    st = _stages(fixed)
    assert st["deps"].splitlines()[:2] == ["FROM node:20-alpine AS deps", "RUN apk add --no-cache python3 make g++"]
    assert st["final"].startswith("FROM node:20-alpine\nWORKDIR /app\n")  # no compiler, no python3 in the runtime
    assert "python3, make, g++" in applied[0]


def test_static_site_is_served_by_nginx_on_the_same_port(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"build": "node build.js"}, devDependencies={"esbuild": "0.24"}),
                          "package-lock.json": LOCK, "build.js": "", "src/main.js": ""})
    text = ("FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm install\nRUN npm run build\nRUN npm install -g http-server\n"
            "EXPOSE 8098\nCMD [\"http-server\", \"dist\", \"-p\", \"8098\"]\n")
    fixed, applied, _ = _fix(text, ctx)
    final = _stages(fixed)["final"]
    assert final.startswith("FROM nginx:")
    assert "listen 8098;" in final and "root /usr/share/nginx/html;" in final
    assert "COPY --from=build /app/dist/ /usr/share/nginx/html/" in final
    assert "CMD" not in final  # nginx's own command runs
    assert "EXPOSE 8098" in final


def test_static_server_with_flags_dockeropt_does_not_know_stays_on_node(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"build": "node b.js"}), "b.js": ""})
    text = ("FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm install\nRUN npm run build\nRUN npm install -g http-server\n"
            "CMD [\"http-server\", \"dist\", \"--proxy\", \"http://api\"]\n")
    fixed, _, _ = _fix(text, ctx)
    assert "nginx" not in fixed and "FROM node:18-slim" in fixed


def test_quoted_app_folder_is_only_a_note(tmp_path: Path) -> None:
    text = NODE.replace("WORKDIR /app", 'WORKDIR "/my app"')
    fixed, applied, notes = _fix(text, _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node s.js"})}))
    assert fixed == text and not applied  # not `COPY --from=build //"/my app" ...`
    assert "/my app" in notes[0]


def test_deps_stage_converges_with_every_rule(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node s.js"}, dependencies={"ms": "2"}), "package-lock.json": LOCK,
                          "s.js": ""})
    res = run_fix(NODE, config=Config(), context=ctx, path=ctx / "Dockerfile")
    assert_sound(res, config=Config(), context=ctx)
    deps = _stages(res.fixed)["deps"]
    assert "--mount=type=cache,target=/root/.npm npm ci --omit=dev" in deps  # DO102 caches the one install


# --------------------------------------------------------------------------- python

PY = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n"


def test_python_with_only_wheels_is_left_to_the_slim_base(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask==3.0\n", "app.py": ""})
    fixed, applied, notes = _fix(PY, ctx)
    assert fixed == PY and not applied and not notes  # a second stage would save nothing
    fixed, _, _ = _fix(PY, ctx, select=["DO201", "DO202"])
    assert fixed.startswith("FROM python:3.11-slim\n") and fixed.count("FROM ") == 1


def test_psycopg2_source_build_gets_libpq_at_runtime(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2==2.9.9\n"})
    fixed, _, _ = _fix(PY, ctx)
    build, runtime = fixed.split("\n\n")
    assert "apt-get install -y --no-install-recommends libpq5" in runtime
    # the venv is made before the manifests arrive, so a requirements edit does not make it again
    lines = build.splitlines()
    assert lines.index("RUN python -m venv /opt/venv") < lines.index("COPY . .") < lines.index("RUN pip install -r requirements.txt")
    assert runtime.splitlines()[-2:] == ["COPY . .", 'CMD ["python", "app.py"]']  # the app from the build context


@pytest.mark.parametrize("lock", [
    ("poetry.lock", '[[package]]\nname = "psycopg2"\nversion = "2.9.9"\nfiles = [\n    {file = "psycopg2-2.9.9.tar.gz", hash = "x"},\n]\n'),
    ("Pipfile.lock", json.dumps({"default": {"psycopg2": {"version": "==2.9.9"}}})),
    ("uv.lock", '[[package]]\nname = "psycopg2"\nversion = "2.9.9"\nsdist = { url = "x", hash = "y" }\n'),
], ids=["poetry", "pipenv", "uv"])
def test_lockfile_sdist_is_built_in_the_build_stage(tmp_path: Path, lock: tuple[str, str]) -> None:
    name, text = lock
    tool = {"poetry.lock": "poetry install --no-root", "Pipfile.lock": "pipenv install --deploy", "uv.lock": "uv sync --locked"}[name]
    launcher = {"poetry.lock": "poetry", "Pipfile.lock": "pipenv", "uv.lock": "uv"}[name]
    ctx = _ctx(tmp_path, {name: text, "pyproject.toml": "[project]\nname='x'\n", "Pipfile": "[packages]\npsycopg2 = '*'\n", "app.py": ""})
    df = (f"FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install {launcher}\nRUN {tool}\n"
          f"CMD [\"{launcher}\", \"run\", \"python\", \"app.py\"]\n")
    fixed, applied, _ = _fix(df, ctx)
    st = _stages(fixed)
    assert "libpq5" in st["final"]
    assert st["final"].rstrip().endswith('CMD ["python", "app.py"]')  # the launcher resolved
    assert launcher not in st["final"].replace(".venv", "")
    assert "psycopg2" in applied[0]


def test_pipenv_venv_comes_before_its_install_and_the_shell_start_is_resolved(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"Pipfile": "[packages]\ngunicorn = '*'\n", "Pipfile.lock": json.dumps({"default": {"gunicorn": {}}}), "app.py": ""})
    text = ("FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install pipenv\nRUN pipenv install --deploy\n"
            "CMD [\"sh\", \"-c\", \"pipenv run gunicorn --bind 0.0.0.0:$PORT app:app\"]\n")
    fixed, _, _ = _fix(text, ctx)
    build = _stages(fixed)["build"].splitlines()
    # pipenv itself stays out of the venv; the install goes into it (VIRTUAL_ENV)
    # (pipenv 2024+ on Python 3.11 fills the venv with its vendored pip: the venv is made without its own)
    assert build.index("RUN pip install pipenv") < build.index("RUN python -m venv --without-pip /opt/venv") < build.index("RUN pipenv install --deploy")
    assert 'ENV VIRTUAL_ENV=/opt/venv PATH="/opt/venv/bin:$PATH"' in build
    assert fixed.rstrip().endswith('CMD ["sh", "-c", "gunicorn --bind 0.0.0.0:$PORT app:app"]')


def test_uv_project_venv_is_copied_and_uv_run_resolved(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"pyproject.toml": "[project]\nname='x'\n", "uv.lock": "", "app.py": ""})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install uv\nRUN uv sync --locked\nCMD [\"uv\", \"run\", \"app.py\"]\n"
    fixed, applied, _ = _fix(text, ctx)
    final = _stages(fixed)["final"]
    assert 'ENV PATH="/app/.venv/bin:$PATH"' in final
    assert "COPY --from=build /app/.venv /app/.venv" in final
    assert final.rstrip().endswith('CMD ["python", "app.py"]')
    assert "uv run" in applied[0]


def test_uv_run_with_options_dockeropt_does_not_translate_is_a_note(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"pyproject.toml": "[project]\nname='x'\n", "uv.lock": "", "app.py": ""})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install uv\nRUN uv sync\nCMD [\"uv\", \"run\", \"--with\", \"rich\", \"app.py\"]\n"
    fixed, _, notes = _fix(text, ctx)
    assert fixed == text and "uv run" in notes[0] and "line 6" in notes[0]


def test_pip_user_install_copies_the_user_site(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n"})
    text = PY.replace("pip install", "pip install --user")
    fixed, _, _ = _fix(text, ctx)
    assert "COPY --from=build /root/.local /root/.local" in fixed and "/opt/venv" not in fixed


def test_alpine_build_packages_stay_in_a_build_stage_on_the_same_base(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2==2.9.9\n", "app.py": ""})
    text = ("FROM python:3.12-alpine\nRUN apk add --no-cache gcc musl-dev postgresql-dev\nWORKDIR /app\nCOPY . .\n"
            "RUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n")
    fixed, applied, _ = _fix(text, ctx)
    final = _stages(fixed)["final"]
    assert final.startswith("FROM python:3.12-alpine\nRUN apk add --no-cache libpq\n")
    assert "gcc" not in final and "musl-dev" not in final
    assert "gcc, musl-dev, postgresql-dev" in applied[0]


def test_stage_name_and_keyword_case_kept(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n", "app.py": ""})
    text = "from python:3.11 as app\nworkdir /srv\ncopy . .\nrun pip install -r requirements.txt\ncmd [\"python\", \"app.py\"]\n"
    fixed, _, _ = _fix(text, ctx)
    assert fixed.startswith("from python:3.11 as app-build\n")
    assert "\nfrom python:3.11-slim as app\n" in fixed  # `--target app` still builds the final image
    assert "copy --from=app-build /opt/venv /opt/venv" in fixed and "run python -m venv /opt/venv" in fixed


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n"})
    fixed, _, _ = _fix(PY.replace("\n", "\r\n"), ctx)
    assert "FROM python:3.11-slim" in fixed
    assert fixed.count("\n") == fixed.count("\r\n")


def test_unknown_user_from_base_blocks(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n"})
    text = PY.replace("CMD", "USER www\nCMD")
    fixed, applied, notes = _fix(text, ctx)
    assert fixed == text and "`www`" in notes[0] and "line 5" in notes[0]


def test_fix_reports_review_safety(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n"})
    text = "FROM python:3.11\nCOPY . /app\nRUN pip install -r /app/requirements.txt\nCMD [\"python\", \"/app/app.py\"]\n"
    res = run_fix(text, config=Config(select=["DO201"]), context=ctx, path=ctx / "Dockerfile")
    assert [c.safety for c in res.applied] == [Safety.REVIEW]
    assert res.fixed.rstrip().splitlines()[-2] == "COPY . /app"


def test_runtime_packages_and_users_come_before_env(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2==2.9.9\n"})
    text = ("FROM python:3.11\nARG VERSION\nENV APP_VERSION=$VERSION\nRUN useradd --create-home app\nWORKDIR /app\n"
            "COPY . .\nRUN pip install -r requirements.txt\nUSER app\nCMD [\"python\", \"app.py\"]\n")
    fixed, _, _ = _fix(text, ctx)
    final = fixed.split("\n\n")[1].splitlines()
    # a new VERSION must not re-run apt-get or useradd in the runtime stage
    assert final.index("ARG VERSION") > final.index("RUN useradd --create-home app")
    assert any("libpq5" in ln for ln in final[: final.index("ARG VERSION")])
    assert "--chown" not in "\n".join(final)  # the app stays root-owned, as it was


def test_env_the_runtime_runs_may_read_stays_first(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2==2.9.9\n"})
    text = ("FROM python:3.11\nENV DEBIAN_FRONTEND=noninteractive\nWORKDIR /app\n"
            "COPY . .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n")
    final = _fix(text, ctx)[0].split("\n\n")[1].splitlines()
    assert final[1] == "ENV DEBIAN_FRONTEND=noninteractive" and "libpq5" in final[2]


def test_arg_base_keeps_the_arg_in_the_runtime_base(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n"})
    text = "ARG PY=3.11\n" + PY.replace("FROM python:3.11", "FROM python:${PY}")
    fixed, _, _ = _fix(text, ctx)
    assert "FROM python:${PY} AS build" in fixed and "\nFROM python:${PY}-slim\n" in fixed


def test_heredoc_run_is_read(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n"})
    text = "# syntax=docker/dockerfile:1\n" + PY.replace("RUN pip install -r requirements.txt", "RUN <<EOF\npip install -r requirements.txt\nEOF")
    fixed, _, _ = _fix(text, ctx)
    assert "FROM python:3.11-slim" in fixed and "libpq5" in fixed


def test_pip_install_with_a_console_script_path_on_usr_local_is_a_note(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n"})
    fixed, _, notes = _fix(PY.replace('["python", "app.py"]', '["/usr/local/bin/gunicorn", "app:app"]'), ctx)
    assert "/usr/local/bin/gunicorn" in notes[0]


# --------------------------------------------------------------------------- go

GO = "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /out/app .\nCMD [\"/out/app\"]\n"


def test_go_sqlite_in_go_mod_keeps_cgo_on_glibc(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"go.mod": "module x\n\ngo 1.22\n\nrequire github.com/mattn/go-sqlite3 v1.14.22\n",
                          "main.go": 'package main\n\nimport _ "github.com/mattn/go-sqlite3"\n\nfunc main() {}\n'})
    fixed, applied, _ = _fix(GO, ctx)
    assert "CGO_ENABLED" not in fixed  # go-sqlite3 builds without cgo and fails at run time
    assert "gcr.io/distroless/base-debian12" in fixed
    assert "go-sqlite3" in applied[0]


def test_go_stdlib_is_static_stripped_and_never_rebuilds_the_standard_library(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"go.mod": "module x\n", "main.go": "package main\n\nfunc main() {}\n"})
    fixed, _, _ = _fix(GO, ctx)
    build = _stages(fixed)["build"]
    assert "ENV CGO_ENABLED=0\nRUN go build -ldflags=\"-s -w\" -o /out/app ." in build
    assert not re.search(r"go build .*(-a\b|-trimpath|-installsuffix)", fixed)
    assert "gcr.io/distroless/static-debian12:nonroot" in fixed


def test_go_volume_is_owned_by_the_nonroot_runtime_user(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"go.mod": "module x\n", "main.go": "package main\n\nfunc main() {}\n"})
    fixed, applied, _ = _fix(GO.replace("CMD", "VOLUME /data\nCMD"), ctx)
    st = _stages(fixed)
    assert "RUN mkdir -p /data" in st["build"]
    assert "COPY --from=build --chown=65532:65532 /data /data" in st["final"]
    assert "owned by nonroot" in applied[0]


def test_go_app_that_writes_files_keeps_root_and_says_who_owns_the_volume(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"go.mod": "module x\n", "main.go": 'package main\n\nimport "os"\n\nfunc main() { os.Create("/data/x") }\n'})
    fixed, applied, _ = _fix(GO.replace("CMD", "VOLUME /data\nCMD"), ctx)
    assert ":nonroot" not in fixed and "--chown" not in fixed
    assert "/data is created by Docker as root, and the app runs as root" in applied[0]


def test_go_existing_ldflags_are_left_alone(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"go.mod": "module x\n", "main.go": "package main\n\nfunc main() {}\n"})
    fixed, _, _ = _fix(GO.replace("go build", "go build -ldflags=-X=main.v=1"), ctx)
    assert fixed.count("-ldflags") == 1


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


# --------------------------------------------------------------------------- java, rust, .NET, ruby, php


def test_javac_build_runs_on_distroless_java(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"src/lab/Main.java": "class Main {}\n", "manifest.txt": "Main-Class: lab.Main\n"})
    text = ("FROM eclipse-temurin:17-jdk\nWORKDIR /app\nCOPY . /app\nRUN mkdir -p build && javac -d build $(find src -name '*.java') && "
            "jar cfm app.jar manifest.txt -C build .\nCMD java -jar app.jar\n")
    fixed, _, _ = _fix(text, ctx)
    final = _stages(fixed)["final"]
    assert final.startswith("FROM gcr.io/distroless/java17-debian12\n")
    assert "COPY --from=build /app/app.jar /app/app.jar" in final and final.rstrip().endswith('CMD ["app.jar"]')


def test_java_files_beside_the_jar_come_along_on_distroless(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"src/lab/Main.java": "class Main {}\n", "manifest.txt": "", "config/app.yml": "port: 1\n"})
    text = ("FROM eclipse-temurin:17-jdk\nWORKDIR /app\nCOPY . /app\nRUN javac -d build $(find src -name '*.java') && "
            "jar cfm app.jar manifest.txt -C build .\nCMD [\"java\", \"-jar\", \"app.jar\"]\n")
    fixed, applied, _ = _fix(text, ctx)
    final = _stages(fixed)["final"]
    assert final.startswith("FROM gcr.io/distroless/java17-debian12\n")
    # the whole folder, not a list of today's files; then the built jar over it, as the build wrote it after the COPY
    assert "COPY . /app\nCOPY --from=build /app/app.jar /app/app.jar" in final
    assert "config" in applied[0]


def test_rust_dependencies_build_from_the_manifests_first(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"Cargo.toml": '[package]\nname = "my-app"\nversion = "0.1.0"\n', "Cargo.lock": "", "src/main.rs": ""})
    text = "FROM rust:1.77\nWORKDIR /app\nCOPY . .\nRUN cargo build --release\nCMD [\"./target/release/my-app\"]\n"
    fixed, _, _ = _fix(text, ctx)
    build = _stages(fixed)["build"].splitlines()
    assert build[2] == "COPY Cargo.toml Cargo.lock ./"
    assert "rm -rf src target/release/deps/my_app-*" in build[3]
    assert build.index("COPY . .") > 3


def test_dotnet_web_app_runs_on_aspnet_and_restores_first(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"Api.csproj": '<Project Sdk="Microsoft.NET.Sdk.Web"></Project>\n', "Program.cs": ""})
    text = ("FROM mcr.microsoft.com/dotnet/sdk:8.0\nWORKDIR /src\nCOPY . .\nRUN dotnet publish -c Release -o /app/publish\n"
            "WORKDIR /app/publish\nENTRYPOINT [\"dotnet\", \"Api.dll\"]\n")
    fixed, _, _ = _fix(text, ctx)
    st = _stages(fixed)
    assert st["final"].startswith("FROM mcr.microsoft.com/dotnet/aspnet:8.0\n")
    assert "COPY Api.csproj ./\nRUN dotnet restore\nCOPY . ." in st["build"]
    assert "COPY --from=build /app/publish /app/publish" in st["final"]


def test_dotnet_run_is_a_note(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"Api.csproj": '<Project Sdk="Microsoft.NET.Sdk.Web"></Project>\n'})
    text = ("FROM mcr.microsoft.com/dotnet/sdk:8.0\nWORKDIR /src\nCOPY . .\nRUN dotnet publish -o /app/out\n"
            "CMD [\"dotnet\", \"run\"]\n")
    fixed, _, notes = _fix(text, ctx)
    assert fixed == text and "dotnet run" in notes[0]


def test_ruby_gems_on_slim_with_their_runtime_libraries(tmp_path: Path) -> None:
    lock = "GEM\n  remote: https://example/\n  specs:\n    pg (1.5.4)\n    rack (3.0.8)\n\nPLATFORMS\n  ruby\n"
    ctx = _ctx(tmp_path, {"Gemfile": "gem 'pg'\n", "Gemfile.lock": lock, "app.rb": ""})
    text = ("FROM ruby:3.3\nWORKDIR /app\nCOPY Gemfile Gemfile.lock ./\nRUN bundle install\nCOPY . .\n"
            "CMD [\"bundle\", \"exec\", \"ruby\", \"app.rb\"]\n")
    fixed, applied, _ = _fix(text, ctx)
    final = _stages(fixed)["final"]
    assert final.startswith("FROM ruby:3.3-slim\n") and "libpq5" in final
    assert "COPY --from=build /usr/local/bundle /usr/local/bundle" in final
    assert 'CMD ["bundle", "exec", "ruby", "app.rb"]' in final and "bundle exec" in applied[0]


def test_gem_install_is_not_a_false_blocker(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"app.rb": ""})
    text = "FROM ruby:3.3\nWORKDIR /app\nRUN gem install sinatra\nCOPY . .\nCMD [\"ruby\", \"app.rb\"]\n"
    fixed, _, notes = _fix(text, ctx)
    assert "FROM ruby:3.3-slim" in fixed, notes
    assert "COPY --from=build /usr/local/bundle /usr/local/bundle" in fixed


# --------------------------------------------------------------------------- every golden converges


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


@pytest.mark.parametrize(("base", "tool_install", "bare"), [
    ("python:3.12", "pip install poetry", True),
    ("python:3.12", "pip install poetry==2.1.3", True),
    ("python:3.12", "pip install poetry==1.8.3", False),  # a release dockeropt has not checked without pip
    ("python:3.8", "pip install poetry", False),  # unpinned on a Python poetry 2 does not run on: an older poetry
    ("python:3.12", "pip install 'poetry<2'", False),
    ("python:3.12", "pip install poetry && pip install flask", False),  # pip installs into the venv too
])
def test_poetry_venv_is_made_without_pip_only_for_checked_releases(tmp_path: Path, base: str, tool_install: str, bare: bool) -> None:
    ctx = _ctx(tmp_path, {"pyproject.toml": '[tool.poetry]\nname = "a"\nversion = "0"\n[tool.poetry.dependencies]\npython = "^3.8"\nflask = "*"\n',
                          "poetry.lock": '[[package]]\nname = "flask"\nversion = "3.0.3"\n', "app.py": "print(1)\n"})
    fixed, applied, _ = _fix(f"FROM {base}\nWORKDIR /app\nRUN {tool_install}\nCOPY pyproject.toml poetry.lock ./\n"
                             "RUN poetry install --no-root\nCOPY . .\nCMD [\"poetry\", \"run\", \"python\", \"app.py\"]\n", ctx)
    assert "RUN python -m venv " in fixed, fixed
    assert ("python -m venv --without-pip /opt/venv" in fixed) is bare, fixed
    assert ("made without pip" in " ".join(applied)) is bare


def _workspaces(tmp_path: Path, n: int) -> Path:
    names = [f"p{i}" for i in range(n)]
    lock = {"name": "mono", "lockfileVersion": 3, "requires": True, "packages": {
        "": {"name": "mono", "workspaces": ["packages/*"]},
        "node_modules/ms": {"version": "2.1.3"},
        **{f"node_modules/@m/{p}": {"resolved": f"packages/{p}", "link": True} for p in names},
        **{f"packages/{p}": {"name": f"@m/{p}", "version": "1.0.0", "dependencies": {"ms": "2"}} for p in names}}}
    files = {"package.json": json.dumps({"name": "mono", "private": True, "workspaces": ["packages/*"]}),
             "package-lock.json": json.dumps(lock)}
    for p in names:
        files[f"packages/{p}/package.json"] = json.dumps({"name": f"@m/{p}", "version": "1.0.0", "dependencies": {"ms": "2"}})
        files[f"packages/{p}/index.js"] = ""
    return _ctx(tmp_path, files)


@pytest.mark.parametrize("n", [2, 8, 9])
def test_workspaces_copy_node_modules_and_each_package_folder_up_to_the_catalog_limit(tmp_path: Path, n: int) -> None:
    text = "FROM node:18\nWORKDIR /repo\nCOPY . .\nRUN npm ci\nCMD [\"node\", \"packages/p0/index.js\"]\n"
    fixed, _, _ = _fix(text, _workspaces(tmp_path, n))
    copies = [ln for ln in _stages(fixed)["final"].splitlines() if ln.startswith("COPY --from=deps")]
    if n <= 8:  # node_modules (with the links to each package) and each package's folder: its own node_modules, if any
        assert copies == ["COPY --from=deps /repo/node_modules /repo/node_modules",
                          *(f"COPY --from=deps /repo/packages/p{i} /repo/packages/p{i}" for i in range(n))]
    else:  # past install_output_workspaces_max: one COPY of the project folder
        assert copies == ["COPY --from=deps /repo /repo"]
