"""What the fix loop reports, as a user reads it: notes about the final text, each distinct change
once, line numbers of the user's file, per-change edits that belong to that change, and pragmas."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dockeropt.config import Config
from dockeropt.edits import apply_edits
from harness import ROOT, run_fix

NODE = ROOT / "examples" / "node-naive"


def cli(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockeropt", *args], cwd=cwd, capture_output=True, text=True,
                          input=None if stdin is None else stdin.decode(), timeout=120)


def node_app(tmp_path: Path, dockerfile: str | None = None) -> Path:
    d = tmp_path / "app"
    d.mkdir()
    for name in ("package.json", "package-lock.json"):
        (d / name).write_bytes((NODE / name).read_bytes())
    shutil.copytree(NODE / "src", d / "src")  # DO403 probes a route the source defines
    (d / "Dockerfile").write_text(dockerfile if dockerfile is not None else (NODE / "Dockerfile").read_text())
    return d


# ----------------------------------------------------------------------------- notes describe the final text


APT_SPLIT = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nCMD [\"curl\", \"--version\"]\n"


def test_no_stale_note_after_a_later_fix_did_what_it_asks() -> None:
    # round 1: DO103 merges the lonely `apt-get update` into the install, and DO102 says it cannot
    # mount the apt cache because "the RUN on line 3 installs packages without its own apt-get update";
    # after DO103's fix that is no longer true, and DO102 adds the mount: the note must not be printed
    r = run_fix(APT_SPLIT, select=["DO102", "DO103"])
    assert {c.rule_id for c in r.applied} == {"DO102", "DO103"}
    assert "--mount=type=cache" in r.fixed
    assert not [n for n in r.notes if "without its own apt-get update" in n.explanation], r.notes


def test_every_distinct_note_is_kept(tmp_path: Path) -> None:
    # two RUNs, each with its own reason for having no cache mount: both notes, not one per (rule, title)
    text = ("FROM golang:1.19 AS deps\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n\n"
            "FROM golang:1.19\nCOPY --from=deps /go/pkg/mod /go/pkg/mod\nCOPY . .\nRUN go build -o /app .\n")
    (tmp_path / "Dockerfile").write_text(text)
    res = cli("fix", "--check", "--select", "DO102", "Dockerfile", cwd=tmp_path)
    heads = [ln for ln in res.stdout.splitlines() if ln.startswith("Dockerfile:")]
    assert [h.split()[0] for h in heads] == ["Dockerfile:4", "Dockerfile:9"], res.stdout


GO_SPLIT = ("FROM golang:1.22-alpine AS build\nWORKDIR /src\nCOPY . .\nRUN go mod download && \\\n"
            "    go build -o /bin/app .\n\nFROM alpine:3.19\nCOPY --from=build /bin/app /usr/local/bin/app\n"
            "CMD [\"app\"]\n")


def test_the_same_block_is_never_printed_twice(tmp_path: Path) -> None:
    # DO101 splits the RUN in two and DO102 mounts the cache on both halves: both map to the same
    # original line, in the same words; the user sees one block
    (tmp_path / "Dockerfile").write_text(GO_SPLIT)
    (tmp_path / "go.mod").write_text("module x\n")
    (tmp_path / "go.sum").write_text("")
    res = cli("fix", "--diff", "--select", "DO101,DO102", "Dockerfile", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    blocks = re.split(r"\n(?=Dockerfile:\d)", res.stdout[res.stdout.index("\nDockerfile:") + 1:])
    assert len(blocks) == len(set(blocks)), res.stdout
    assert sum(1 for b in blocks if re.match(r"Dockerfile:\d+ DO102 ", b)) == 1


def test_summary_counts_each_distinct_change_once(tmp_path: Path) -> None:
    # DO201 writes a deps stage and a runtime stage, and DO301 adds USER to the stage it wrote: one change
    # of each per file, counted once in the summary and printed once
    npm = (ROOT / "corpus" / "dockerfiles" / "npm-install-naive")
    for i in range(3):
        d = tmp_path / f"svc{i}"
        d.mkdir()
        for f in npm.iterdir():
            if f.is_file():
                (d / f.name).write_bytes(f.read_bytes())
    res = cli("fix", "--diff", ".", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    counts = dict(re.findall(r"^  (DO\d+) \S+\s+(\d+)$", res.stderr, re.M))
    assert counts["DO201"] == "3" and counts["DO301"] == "3", res.stderr
    assert res.stdout.count("DO201 add-runtime-stage (review)") == 3
    assert res.stdout.count("DO301 non-root-user (review)") == 3


YARN = ("FROM node:18-alpine\nRUN apk add --no-cache python3 make g++\nWORKDIR /srv/notify\nCOPY . .\n"
        "RUN yarn install --frozen-lockfile\nRUN yarn build\nEXPOSE 4000\nCMD [\"yarn\", \"start\"]\n")


def test_explanations_cite_lines_of_the_users_file(tmp_path: Path) -> None:
    # DO402 inserts a RUN (tini) above line 2 in round 1; DO109 then merges it with the original
    # line 2. Its explanation must not call the inserted RUN "line 2" and the original one "line 3".
    (tmp_path / "package.json").write_text('{"scripts": {"start": "node server.js"}}')
    (tmp_path / "yarn.lock").write_text("")
    r = run_fix(YARN, select=["DO109", "DO402"], context=tmp_path, path=tmp_path / "Dockerfile")
    (d109,) = [c for c in r.applied if c.rule_id == "DO109"]
    original = YARN.splitlines()
    cited = [int(n) for n in re.findall(r"\blines? ((?:\d+(?:, | and )?)+)", d109.explanation) for n in
             re.findall(r"\d+", n)]
    assert cited, d109.explanation
    for n in cited:
        assert original[n - 1].startswith("RUN "), (n, d109.explanation)
    assert "3" not in re.findall(r"\d+", d109.explanation)


# ----------------------------------------------------------------------------- per-change edits


def test_per_change_edits_are_that_changes_own_and_rebuild_the_fix(tmp_path: Path) -> None:
    app = node_app(tmp_path)
    text = (app / "Dockerfile").read_text()
    r = run_fix(text, context=app, path=app / "Dockerfile")
    assert len(r.fixes) == len(r.applied)
    by_rule = {c.rule_id: fx for c, fx in zip(r.applied, r.fixes)}
    # all per-change edits together turn the original into the fixed text
    assert apply_edits(text, [e for fx in r.fixes for e in fx.edits]) == r.fixed
    # DO201's fix is DO201's (with DO301's USER line, inside the stage it writes, carried along)
    i201 = [c.rule_id for c in r.applied].index("DO201")
    assert by_rule["DO201"].combined == ("DO301",) and by_rule["DO301"].carried_by == (i201,)
    alone = apply_edits(text, by_rule["DO201"].edits)
    assert "FROM gcr.io/distroless/nodejs18-debian12" in alone and "USER 65532:65532" in alone
    assert "npm ci" not in alone and "HEALTHCHECK" not in alone
    # without a runtime stage, DO202's fix alone only changes the base image
    r2 = run_fix(text, context=app, path=app / "Dockerfile", config=Config(ignore=["DO201"]))
    (fx202,) = [fx for c, fx in zip(r2.applied, r2.fixes) if c.rule_id == "DO202"]
    assert apply_edits(text, fx202.edits) == text.replace("FROM node:18\n", "FROM node:18-slim\n")
    # DO403 alone adds the HEALTHCHECK line and nothing else
    alone = apply_edits(text, by_rule["DO403"].edits)
    added = [ln for ln in alone.splitlines() if ln not in text.splitlines()]
    assert len(added) == 1 and added[0].startswith("HEALTHCHECK ")
    # DO102 and DO107 edit the RUN that DO101 writes, DO113 the COPY it writes: inseparable, so DO101 carries them
    # and says so
    assert by_rule["DO101"].combined == ("DO102", "DO107", "DO113")
    i101 = [c.rule_id for c in r.applied].index("DO101")
    assert by_rule["DO102"].edits == () and by_rule["DO102"].carried_by == (i101,)


# ----------------------------------------------------------------------------- pragmas


def test_pragma_above_the_run_stops_a_fix_anchored_on_the_copy_and_stays_put(tmp_path: Path) -> None:
    text = (NODE / "Dockerfile").read_text().replace("RUN npm install", "# dockeropt ignore=DO101\nRUN npm install")
    app = node_app(tmp_path, text)
    r = run_fix(text, context=app, path=app / "Dockerfile")  # every default rule
    assert "DO101" not in {c.rule_id for c in r.applied}
    lines = r.fixed.splitlines()
    i = lines.index("# dockeropt ignore=DO101")
    assert "npm" in lines[i + 1] and "install" in lines[i + 1] or "npm ci" in lines[i + 1], r.fixed


def test_a_fix_that_would_move_another_rules_pragma_is_held_back(tmp_path: Path) -> None:
    text = (NODE / "Dockerfile").read_text().replace("RUN npm install", "# dockeropt ignore=DO107\nRUN npm install")
    app = node_app(tmp_path, text)
    r = run_fix(text, context=app, path=app / "Dockerfile")
    lines = r.fixed.splitlines()
    i = lines.index("# dockeropt ignore=DO107")
    assert lines[i + 1].startswith("RUN ") and "npm install && npm run build" in lines[i + 1]
    assert "npm ci" not in r.fixed
    (held,) = [n for n in r.notes if n.rule_id == "DO101"]
    assert held.fix is not None and "dockeropt ignore=DO107" in held.notes[-1]


@pytest.mark.parametrize("pragma", ["# dockeropt global ignore=DO101 DO102", "# dockeropt: global ignore=DO101,DO102",
                                    "# dockeropt global ignore = DO101, DO102"])
def test_global_pragma_at_the_end_of_the_file_with_space_or_comma_lists(tmp_path: Path, pragma: str) -> None:
    text = (NODE / "Dockerfile").read_text() + pragma + "\n"
    app = node_app(tmp_path, text)
    r = run_fix(text, select=["DO101", "DO102", "DO107"], context=app, path=app / "Dockerfile")
    assert {c.rule_id for c in r.applied} == {"DO107"}
    assert r.warnings == []


def test_unknown_ids_in_a_pragma_are_a_warning_naming_the_line(tmp_path: Path) -> None:
    text = "FROM alpine:3.19\n# dockeropt ignore=DO101,DO999\nRUN echo hi\n# dockeropt ignore DO3\nCMD [\"true\"]\n"
    r = run_fix(text, select=["DO1"])
    assert any(line == 2 and "DO999" in w for line, w in r.warnings), r.warnings
    assert any(line == 4 and "not a dockeropt pragma" in w for line, w in r.warnings), r.warnings
    (tmp_path / "Dockerfile").write_text(text)
    res = cli("fix", "--check", "--select", "DO1", "Dockerfile", cwd=tmp_path)
    assert "dockeropt: warning: Dockerfile:2: unknown rule 'DO999'" in res.stderr, res.stderr
    assert res.returncode == 0


def test_one_pragma_parser() -> None:
    # the pipeline, the passes' helpers and the LSP share dockeropt.pragmas; nobody keeps a copy
    for path in (ROOT / "optimizer").glob("*.py"):
        if path.name == "pragmas.py":
            continue
        src = path.read_text()
        assert not re.search(r"re\.compile\([^)]*dockeropt[^)]*ignore", src), path.name
