"""RunFacts are reused across model rebuilds only when the script and the state are the same (issue 10, linear time)."""

from __future__ import annotations

from dockeropt.model import ImageModel
from dockeropt.syntax import parse
from harness import count_classifications


def _runs(text: str) -> list:  # type: ignore[type-arg]
    m = ImageModel.build(parse(text))
    return [m.run(i) for i in m.doc.instructions if i.keyword == "RUN"]


def test_a_run_that_only_gained_a_mount_keeps_its_classification(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = count_classifications(monkeypatch)
    before = _runs("FROM python:3.12\nENV PIP_INDEX_URL=https://mirror.invalid/simple\nRUN pip install flask\n")
    n = len(calls)
    after = _runs("FROM python:3.12\nENV PIP_INDEX_URL=https://mirror.invalid/simple\n"
                  "RUN --mount=type=cache,target=/root/.cache/pip pip install flask\n")
    assert len(calls) == n  # reused, not classified again
    assert after[0].actions[0].packages == before[0].actions[0].packages == ("flask",)
    assert [mt.target for mt in after[0].mounts] == ["/root/.cache/pip"]  # but its own mounts
    assert after[0].instruction.text.startswith("RUN --mount")
    assert after[0].editable is not None and after[0].editable.instruction is after[0].instruction


def test_a_changed_state_or_script_is_classified_again() -> None:
    base = _runs("FROM python:3.12\nENV PIP_CACHE_DIR=/a\nRUN pip install flask\n")[0]
    other_env = _runs("FROM python:3.12\nENV PIP_CACHE_DIR=/b\nRUN pip install flask\n")[0]
    assert other_env.actions is not base.actions
    assert other_env.actions[0].env.value("PIP_CACHE_DIR") == "/b"
    other_user = _runs("FROM python:3.12\nENV PIP_CACHE_DIR=/a\nRUN useradd -u 1001 -m app\nUSER app\nRUN pip install flask\n")[1]
    assert other_user.actions[0].user.uid == 1001
    other_script = _runs("FROM python:3.12\nENV PIP_CACHE_DIR=/a\nRUN pip install django\n")[0]
    assert other_script.actions[0].packages == ("django",)


def test_state_keys_follow_the_instructions_that_change_state() -> None:
    m1 = ImageModel.build(parse("FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n"))
    m2 = ImageModel.build(parse("FROM node:20\nWORKDIR /app\nCOPY . /app\nRUN --mount=type=cache,target=/root/.npm npm ci\n"))
    m3 = ImageModel.build(parse("FROM node:20\nWORKDIR /srv\nCOPY . .\nRUN npm ci\n"))
    key = [m.state(m.doc.instructions[3]).key for m in (m1, m2, m3)]
    assert key[0] == key[1] != key[2]


def test_a_line_inserted_above_keeps_reuse_and_points_at_the_current_lines(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = count_classifications(monkeypatch)
    _runs("FROM node:20\nENV NODE_ENV=production\nRUN npm ci\n")
    n = len(calls)
    text = "FROM node:20\nRUN apt-get update && apt-get install -y tini\nENV NODE_ENV=production\nRUN npm ci\n"
    m = ImageModel.build(parse(text))
    assert len(calls) == n + 1  # only the new RUN is classified
    run = m.run([i for i in m.doc.instructions if i.keyword == "RUN"][1])
    var = run.actions[0].env["NODE_ENV"]  # type: ignore[union-attr]
    assert m.doc.instructions[var.instruction].text.startswith("ENV NODE_ENV")  # this round's index
