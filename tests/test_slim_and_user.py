"""DO301 non-root-user: properties beyond the golden files (DO202's moved to test_slim.py)."""

from __future__ import annotations

import re

import pytest

from dockeropt.catalog.images import lookup
from harness import assert_sound, run_fix


@pytest.mark.parametrize(
    "base",
    ["node:18", "node:20-alpine", "python:3.11-slim", "python:3.12-alpine", "debian:bookworm", "ubuntu:22.04",
     "eclipse-temurin:17-jre", "gcr.io/distroless/python3-debian12", "mcr.microsoft.com/dotnet/aspnet:8.0"],
)
def test_do301_user_exists_in_the_image_or_is_created_first(base: str) -> None:
    text = f"FROM {base}\nWORKDIR /app\nCOPY . .\nCMD [\"run\"]\n"
    result = run_fix(text, select=["DO301"])
    assert_sound(result, select=["DO301"])
    users = re.findall(r"^USER (\d+):(\d+)$", result.fixed, re.M)
    assert len(users) == 1, result.fixed  # numeric uid:gid (Kubernetes runAsNonRoot, hadolint DL3066)
    uid = int(users[0][0])
    info = lookup(base)
    assert info is not None
    created = re.search(r"(?:useradd .*--uid|adduser .*-u) (\d+) ", result.fixed)
    assert uid in info.users.values() or (created is not None and int(created.group(1)) == uid)
    if created:  # the user is created before anything refers to it
        assert result.fixed.index(created.group(0)) < result.fixed.index("USER ")
    assert uid != 0


def test_do301_user_goes_after_every_root_run() -> None:
    text = (
        "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl\nWORKDIR /app\n"
        "COPY . .\nRUN make -C /app\nENV X=1\nCMD [\"/app/run\"]\n"
    )
    fixed = run_fix(text, select=["DO301"]).fixed
    lines = fixed.splitlines()
    user_at = next(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert all(not line.startswith("RUN ") or "chown" in line for line in lines[user_at:])
    assert lines.index("RUN make -C /app") < user_at < lines.index("ENV X=1")


def test_do301_leaves_build_stages_root() -> None:
    text = "FROM node:18 AS build\nWORKDIR /app\nRUN npm ci\nFROM node:18-slim\nWORKDIR /app\nCOPY --from=build /app /app\nCMD [\"node\", \"/app\"]\n"
    fixed = run_fix(text, select=["DO301"]).fixed
    build, final = fixed.split("FROM node:18-slim")
    assert "USER" not in build and "--chown" not in build
    assert "USER 1000:1000" in final and "COPY --chown=1000:1000 --from=build /app /app" in final
