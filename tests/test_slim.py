"""DO202 slim-base: properties beyond the golden files (moved here from test_slim_and_user.py, plus the issue-11/12 cases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockeropt.config import Config
from harness import assert_sound, run_fix


def _ctx(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def _run(text: str, ctx: Path | None = None, select: tuple[str, ...] = ("DO202",)):  # type: ignore[no-untyped-def]
    res = run_fix(text, config=Config(select=list(select)), context=ctx, path=(ctx / "Dockerfile") if ctx else None)
    assert res.converged and not res.errors, res.errors
    return res


def test_do202_keeps_a_stage_using_gcc() -> None:
    text = "FROM python:3.11\nCOPY x.c .\nRUN gcc -o /x x.c\nCMD [\"/x\"]\n"
    result = _run(text)
    assert result.fixed == text
    assert any("gcc" in n.explanation for n in result.notes)


def test_do202_never_swaps_a_pinned_base() -> None:
    text = "FROM node:18@sha256:" + "a" * 64 + "\nCMD [\"node\"]\n"
    assert _run(text).fixed == text


def test_an_arg_base_gets_the_slim_tag_of_every_version() -> None:
    res = _run("ARG V=18\nFROM node:$V\nCMD [\"node\"]\n")
    assert res.fixed == "ARG V=18\nFROM node:$V-slim\nCMD [\"node\"]\n"
    # a tag made of more than the ARG cannot follow it
    text = "ARG V=18\nFROM node:$V-bookworm\nCMD [\"node\"]\n"
    assert _run(text).fixed == text


def test_do202_installs_missing_git_only_on_apt_bases() -> None:
    text = "FROM python:3.11\nRUN git clone https://example.com/r.git /src\nCMD [\"python\", \"/src/m.py\"]\n"
    fixed = _run(text).fixed
    assert fixed.startswith("FROM python:3.11-slim\nRUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates")


@pytest.mark.parametrize("lock", [
    ("poetry.lock", '[[package]]\nname = "psycopg2"\nversion = "2.9.9"\nfiles = [\n    {file = "psycopg2-2.9.9.tar.gz", hash = "x"},\n]\n',
     "poetry install --no-root"),
    ("Pipfile.lock", json.dumps({"default": {"psycopg2": {"version": "==2.9.9"}}}), "pipenv install --deploy --system"),
    ("uv.lock", '[[package]]\nname = "psycopg2"\nversion = "2.9.9"\nsdist = { url = "x", hash = "y" }\n', "uv sync --locked"),
], ids=["poetry", "pipenv", "uv"])
def test_lockfiles_get_the_same_native_build_check_as_requirements(tmp_path: Path, lock: tuple[str, str, str]) -> None:
    name, body, cmd = lock
    ctx = _ctx(tmp_path, {name: body, "pyproject.toml": "[project]\nname = 'x'\n", "Pipfile": "[packages]\npsycopg2 = '*'\n"})
    text = f"FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN {cmd}\nCMD [\"python\", \"app.py\"]\n"
    res = _run(text, ctx)
    assert res.fixed == text  # psycopg2 has no wheel: gcc and pg_config are needed to install it
    assert "psycopg2" in res.notes[0].explanation


def test_a_lockfile_release_without_wheels_blocks_even_unknown_packages(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"uv.lock": '[[package]]\nname = "odd-c-thing"\nversion = "1"\nsdist = { url = "x" }\n',
                          "pyproject.toml": "[project]\nname = 'x'\n"})
    res = _run("FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN uv sync\nCMD [\"python\", \"a.py\"]\n", ctx)
    assert "odd-c-thing" in res.notes[0].explanation and "no prebuilt wheel" in res.notes[0].explanation


def test_wheels_in_a_lockfile_slim(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"poetry.lock": '[[package]]\nname = "flask"\nversion = "3"\nfiles = [\n {file = "flask-3-py3-none-any.whl"},\n]\n',
                          "pyproject.toml": "[project]\nname = 'x'\n"})
    res = _run("FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN poetry install\nCMD [\"python\", \"a.py\"]\n", ctx)
    assert res.fixed.startswith("FROM python:3.12-slim\n")


def test_a_library_a_wheel_loads_is_installed_in_slim(tmp_path: Path) -> None:
    text = "FROM python:3.12\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCMD [\"python\"]\n"
    res = _run(text, _ctx(tmp_path, {"requirements.txt": "psycopg==3.1\n"}))
    assert "apt-get install -y --no-install-recommends libpq5" in res.fixed
    res = _run(text, _ctx(tmp_path, {"requirements.txt": "psycopg[binary]==3.1\n"}))  # the binary extra bundles libpq
    assert res.fixed.startswith("FROM python:3.12-slim\nCOPY")


def test_build_stages_copied_from_are_never_slimmed() -> None:
    text = ("FROM node:18 AS build\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm run build\n"
            "FROM nginx:1.27\nCOPY --from=build /app/dist /usr/share/nginx/html\n")
    res = _run(text)
    assert res.fixed == text and not res.notes  # it saves nothing in the final image, only adds risk


def test_the_final_stage_and_the_stage_it_is_built_from_are_checked() -> None:
    text = "FROM python:3.11 AS base\nWORKDIR /app\nFROM base\nCOPY app.py .\nCMD [\"python\", \"app.py\"]\n"
    res = _run(text)
    assert res.fixed.startswith("FROM python:3.11-slim AS base\n")


def test_jar_only_jdk_image_runs_on_distroless_java(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"target/app.jar": ""})
    text = "FROM openjdk:17\nWORKDIR /app\nCOPY target/app.jar app.jar\nENV PORT=8097\nCMD [\"java\", \"-jar\", \"app.jar\"]\n"
    res = _run(text, ctx)
    assert res.fixed == ("FROM gcr.io/distroless/java17-debian12\nWORKDIR /app\nCOPY target/app.jar app.jar\nENV PORT=8097\n"
                         'CMD ["app.jar"]\n')
    assert_sound(res, select=["DO202"], context=ctx)


def test_add_jar_at_the_default_workdir_is_not_a_false_blocker(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"app.jar": ""})
    res = _run("FROM eclipse-temurin:17-jdk\nADD app.jar app.jar\nCMD [\"java\", \"-Xmx256m\", \"-jar\", \"app.jar\"]\n", ctx)
    # java options before -jar: distroless java cannot take them, the JRE can
    assert res.fixed.startswith("FROM eclipse-temurin:17-jre\n")


def test_jdk_stage_that_compiles_is_left_to_the_runtime_stage() -> None:
    text = "FROM eclipse-temurin:17-jdk\nCOPY . .\nRUN javac Main.java\nCMD [\"java\", \"Main\"]\n"
    assert _run(text).fixed == text


def test_jdk_with_runs_on_another_os_is_not_swapped() -> None:
    text = "FROM openjdk:17\nRUN microdnf install -y curl\nCOPY app.jar .\nCMD [\"java\", \"-jar\", \"app.jar\"]\n"
    assert _run(text).fixed == text  # openjdk:17 is Oracle Linux; the JRE image is Ubuntu


def test_native_gem_keeps_the_full_ruby_image(tmp_path: Path) -> None:
    lock = "GEM\n  remote: https://example/\n  specs:\n    pg (1.5.4)\n\nPLATFORMS\n  ruby\n"
    ctx = _ctx(tmp_path, {"Gemfile": "gem 'pg'\n", "Gemfile.lock": lock})
    text = "FROM ruby:3.3\nWORKDIR /app\nCOPY Gemfile Gemfile.lock ./\nRUN bundle install\nCMD [\"ruby\", \"app.rb\"]\n"
    res = _run(text, ctx)
    assert res.fixed == text and "pg" in res.notes[0].explanation


def test_pure_gems_slim(tmp_path: Path) -> None:
    lock = "GEM\n  remote: https://example/\n  specs:\n    rack (3.0.8)\n\nPLATFORMS\n  ruby\n"
    ctx = _ctx(tmp_path, {"Gemfile": "gem 'rack'\n", "Gemfile.lock": lock})
    text = "FROM ruby:3.3\nWORKDIR /app\nCOPY Gemfile Gemfile.lock ./\nRUN bundle install\nCMD [\"ruby\", \"app.rb\"]\n"
    assert _run(text, ctx).fixed.startswith("FROM ruby:3.3-slim\n")


def test_slim_waits_for_the_runtime_stage_and_converges(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2\n", "app.py": ""})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n"
    res = _run(text, ctx, select=("DO201", "DO202"))
    assert [c.rule_id for c in res.applied] == ["DO201"]  # DO202 never slims the build stage DO201 made
    assert res.fixed.startswith("FROM python:3.11 AS build\n")
