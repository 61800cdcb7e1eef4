"""The package-manager catalog: recognising commands, cache folders per user and env."""

from __future__ import annotations

import pytest

from dockeropt.catalog import catalog, expand_path
from dockeropt.shell import parse_script


def _inv(script: str, has_file=None):  # type: ignore[no-untyped-def]
    cmd = parse_script(script).commands[0]
    return catalog().match(cmd, has_file)


@pytest.mark.parametrize(
    ("script", "manager", "sub", "downloads"),
    [
        ("apt-get update", "apt", "update", True),
        ("sudo -E apt-get -o Acquire::Retries=3 install -y curl", "apt", "install", True),
        ("apt-get purge -y curl", "apt", "purge", False),
        ("apk add --no-cache curl", "apk", "add", True),
        ("microdnf install -y tar", "dnf", "install", True),
        ("yum clean all", "dnf", "clean", False),
        ("pip install -r requirements.txt", "pip", "install", True),
        ("pip3.11 install flask", "pip", "install", True),
        ("python3 -m pip install --upgrade pip", "pip", "install", True),
        ("pip freeze", "pip", "freeze", False),
        ("uv pip install --system -r requirements.txt", "uv-pip", "install", True),
        ("uv sync --frozen", "uv", "sync", True),
        ("uv tool install ruff", "uv", "tool install", True),
        ("poetry install --no-root", "poetry", "install", True),
        ("pipenv install --deploy --system", "pipenv", "install", True),
        ("npm ci --omit=dev", "npm", "ci", True),
        ("npm run build", "npm", "run", False),
        ("npm --prefix web install", "npm", "install", True),
        ("yarn", "yarn-classic", "", True),
        ("yarn build", "yarn-classic", "build", False),
        ("pnpm install --frozen-lockfile", "pnpm", "install", True),
        ("go mod download", "go", "mod download", True),
        ("go build -o /app ./cmd/app", "go", "build", True),
        ("go version", "go", "version", False),
        ("cargo build --release", "cargo", "build", True),
        ("mvn -B -q package -DskipTests", "maven", "package", True),
        ("./mvnw dependency:go-offline", "maven", "dependency:go-offline", True),
        ("./gradlew build --no-daemon", "gradle", "build", True),
        ("bundle install --jobs 4", "bundler", "install", True),
        ("bundle", "bundler", "", True),
        ("gem install bundler", "gem", "install", True),
        ("composer install --no-dev", "composer", "install", True),
    ],
)
def test_recognises_package_manager_commands(script: str, manager: str, sub: str, downloads: bool) -> None:
    invs = _inv(script)
    assert [i.manager.id for i in invs] == [manager]
    assert invs[0].subcommand == sub
    assert invs[0].downloads is downloads


@pytest.mark.parametrize("script", ["echo apt-get install", "ls", "make install", "python app.py", "$PIP install x"])
def test_other_commands_are_not_package_managers(script: str) -> None:
    assert _inv(script) == []


def test_yarn_berry_is_recognised_from_its_rc_file() -> None:
    assert _inv("yarn install --immutable", lambda f: f == ".yarnrc.yml")[0].manager.id == "yarn-berry"
    assert _inv("yarn install", lambda f: False)[0].manager.id == "yarn-classic"


def test_cache_folders_follow_home_and_env() -> None:
    pip = catalog().by_id["pip"]
    assert [p for _, p in pip.cache_dirs({}, "/root")] == ["/root/.cache/pip"]
    assert [p for _, p in pip.cache_dirs({}, "/home/app")] == ["/home/app/.cache/pip"]
    assert [p for _, p in pip.cache_dirs({"PIP_CACHE_DIR": "/cache/pip"}, "/root")] == ["/cache/pip"]
    assert [p for _, p in pip.cache_dirs({"XDG_CACHE_HOME": "/xdg"}, "/root")] == ["/xdg/pip"]
    # unknown value or unknown HOME: no guess
    assert [p for _, p in pip.cache_dirs({"PIP_CACHE_DIR": None}, "/root")] == [None]
    assert [p for _, p in pip.cache_dirs({}, None)] == [None]
    go = catalog().by_id["go"]
    assert [p for _, p in go.cache_dirs(catalog().image_env("golang:1.22"), "/root")] == ["/go/pkg/mod", "/root/.cache/go-build"]
    composer = catalog().by_id["composer"]
    assert [p for _, p in composer.cache_dirs(catalog().image_env("composer:2"), "/root")] == ["/tmp/cache"]
    assert [p for _, p in composer.cache_dirs({}, "/root")] == ["/root/.cache/composer"]


def test_expand_path_templates() -> None:
    assert expand_path("${A:-${B:-~/x}}/y", {"B": "/b"}, "/h") == "/b/y"
    assert expand_path("${A:+${A}/c}", {"A": "/a"}, "/h") == "/a/c"
    assert expand_path("${A:+${A}/c}", {}, "/h") == ""
    assert expand_path("${A:-/d}", {"A": None}, "/h") is None


def test_cache_disabling_flags_and_cleanups_are_recorded() -> None:
    c = catalog()
    assert "--no-cache-dir" in c.by_id["pip"].no_cache_flags
    assert "--no-cache" in c.by_id["apk"].no_cache_flags
    npm_clean = parse_script("npm cache clean --force").commands[0]
    assert c.is_cache_clean(npm_clean, c.by_id["npm"])
    assert not c.is_cache_clean(parse_script("npm cache verify").commands[0], c.by_id["npm"])
    assert c.by_id["npm"].lockfiles == ("package-lock.json", "npm-shrinkwrap.json")
    assert c.by_id["pip"].cache_disabled_by_env({"PIP_NO_CACHE_DIR": "1"}) == "PIP_NO_CACHE_DIR"


def test_image_defaults() -> None:
    c = catalog()
    assert c.image_default_user("python:3.11-slim") == "root"
    assert c.image_default_user("docker.io/library/node:18") == "root"
    assert c.image_default_user("gcr.io/distroless/static-debian12:nonroot") == "nonroot"
    assert c.image_default_user("registry.example/team/builder:1") is None
    assert c.image_users("node:18-slim")["node"]["uid"] == 1000


def test_every_manager_is_complete() -> None:
    for m in catalog().managers:
        assert m.programs and m.caches, m.id
        assert m.downloads, m.id
        assert m.mount or m.mount_note, m.id
