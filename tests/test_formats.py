"""--format json / sarif / github: stable layout, SARIF 2.1.0 schema-valid, fixes reproduce the rewrite."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

DATA = Path(__file__).parent / "data"

NAIVE = (
    "FROM python:3.11-slim\n"
    "WORKDIR /app\n"
    "COPY . .\n"
    "RUN pip install -r requirements.txt\n"
    'CMD ["python", "app.py"]\n'
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockeropt", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_bytes(NAIVE.replace("\n", "\r\n").encode())  # CRLF
    (tmp_path / "api" / "requirements.txt").write_text("flask\n")
    (tmp_path / "api" / "app.py").write_text("print(1)\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("\ufeff" + NAIVE.rstrip("\n"))  # BOM, no final newline
    (tmp_path / "web" / "requirements.txt").write_text("flask\n")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "Dockerfile").write_bytes(b"FROM x\n\xff\xfe\n")
    return tmp_path


def apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def originals(repo: Path) -> dict[str, str]:
    return {p: (repo / p).read_bytes().decode("utf-8") for p in ("api/Dockerfile", "web/Dockerfile")}


def fixed_texts(repo: Path) -> dict[str, str]:
    out = {}
    for p in ("api/Dockerfile", "web/Dockerfile"):
        res = subprocess.run([sys.executable, "-m", "dockeropt", "fix", "-", "--stdin-filename", p], cwd=repo,
                             input=(repo / p).read_bytes(), capture_output=True, timeout=120)
        out[p] = res.stdout.decode("utf-8")
    return out


def test_json_layout_and_edits_rebuild_the_fixed_file(repo: Path) -> None:
    res = run("fix", "--check", "--format", "json", "api", "web", "bad", cwd=repo)
    assert res.returncode == 2  # bad/Dockerfile failed; the others are still reported
    data = json.loads(res.stdout)
    assert data["version"] == 2 and data["tool"]["name"] == "dockeropt" and data["mode"] == "check"
    files = {f["path"]: f for f in data["files"]}
    assert list(files) == ["api/Dockerfile", "web/Dockerfile", "bad/Dockerfile"]
    assert files["bad/Dockerfile"]["status"] == "failed" and "not UTF-8" in files["bad/Dockerfile"]["error"]
    assert data["summary"]["scanned"] == 3 and data["summary"]["failed"] == 1 and data["summary"]["changed"] == 2
    schema = json.loads((Path(__file__).parent.parent / "docs" / "dockeropt-output.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    orig, fixed = originals(repo), fixed_texts(repo)
    for path in orig:
        f = files[path]
        assert f["status"] == "changed" and not f["written"]
        ch = f["changes"][0]
        assert set(ch) == {"rule", "name", "title", "explanation", "line", "safety", "applied", "edits", "files",
                           "combined_with", "fix_in", "reason"}
        # the file-level edits, and the per-change edits together, both turn the original into the fixed text
        file_edits = [(e["start"], e["end"], e["text"]) for e in f["edits"]]
        assert apply(orig[path], file_edits) == fixed[path]
        per_change = [(e["start"], e["end"], e["text"]) for c in f["changes"] for e in c["edits"]]
        assert apply(orig[path], per_change) == fixed[path]
        for c in f["changes"]:
            for e in c["edits"]:  # lines of the original, as documented
                assert orig[path][: e["start"]].count("\n") + 1 == e["start_line"]
    assert (repo / "api" / "Dockerfile").read_bytes().decode() == orig["api/Dockerfile"]  # --check wrote nothing


def test_sarif_validates_against_the_official_schema_and_fixes_apply(repo: Path) -> None:
    res = run("fix", "--diff", "--format", "sarif", "api", "web", "bad", cwd=repo)
    assert res.returncode == 2
    log = json.loads(res.stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    assert log["version"] == "2.1.0"
    run0 = log["runs"][0]
    rule_ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    assert "DO101" in rule_ids
    orig, fixed = originals(repo), fixed_texts(repo)
    by_file: dict[str, list] = {}
    for r in run0["results"]:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
        for fx in r.get("fixes", []):
            for ac in fx["artifactChanges"]:
                assert ac["artifactLocation"]["uri"] == uri
                for rep in ac["replacements"]:
                    d = rep["deletedRegion"]
                    by_file.setdefault(uri, []).append(
                        (d["charOffset"], d["charOffset"] + d["charLength"], rep["insertedContent"]["text"]))
    assert set(by_file) == {"api/Dockerfile", "web/Dockerfile"}
    for path, edits in by_file.items():
        assert apply(orig[path], edits) == fixed[path]  # all fixes together = the rewrite (CRLF, BOM kept)
    notes = run0["invocations"][0]["toolExecutionNotifications"]
    assert any("bad/Dockerfile" in n["message"]["text"] and n["level"] == "error" for n in notes)
    assert run0["invocations"][0]["executionSuccessful"] is False


def test_sarif_with_no_findings_is_valid(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY app /app\n")
    res = run("fix", "--check", "--format", "sarif", "Dockerfile", "--select", "DO101", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    log = json.loads(res.stdout)
    jsonschema.Draft4Validator(json.loads((DATA / "sarif-schema-2.1.0.json").read_text())).validate(log)
    assert log["runs"][0]["results"] == []


def test_github_annotations(repo: Path) -> None:
    res = run("fix", "--check", "--format", "github", "api", "bad", cwd=repo)
    assert res.returncode == 2
    lines = res.stdout.splitlines()
    assert lines, res.stderr
    pat = re.compile(r"^::(warning|notice|error) file=[^,:]+(,line=\d+)?,title=[^:]+::\S.*$")
    for line in lines:
        assert pat.match(line), line
        assert "\n" not in line
    assert any(line.startswith("::warning file=api/Dockerfile,line=3,title=DO101 split-dependency-copy%3A ")
               for line in lines)
    assert any(line.startswith("::error file=bad/Dockerfile") and "not UTF-8" in line for line in lines)


def test_github_escaping() -> None:
    from dockeropt.formats import _gh_data, _gh_prop

    assert _gh_data("50% done\nnext\r") == "50%25 done%0Anext%0D"
    assert _gh_prop("a:b,c") == "a%3Ab%2Cc"


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    res = run("fix", "--format", "xml", "Dockerfile", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "--output-format" in res.stderr


NODE = Path(__file__).resolve().parent.parent / "examples" / "node-naive"


@pytest.fixture
def node(tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(NODE, tmp_path / "app")
    return tmp_path / "app"


def _sarif_results(node: Path, *extra: str) -> tuple[str, dict[str, dict]]:
    res = run("fix", "--check", "--format", "sarif", *extra, "Dockerfile", cwd=node)  # the old spelling
    assert res.returncode == 1, res.stderr
    results = json.loads(res.stdout)["runs"][0]["results"]
    return (node / "Dockerfile").read_text(), {r["ruleId"]: r for r in results}


def _alone(text: str, r: dict) -> str:
    """The original text with only this result's fix applied."""
    (fx,) = r["fixes"]
    (ac,) = fx["artifactChanges"]
    return apply(text, [(x["deletedRegion"]["charOffset"],
                         x["deletedRegion"]["charOffset"] + x["deletedRegion"]["charLength"],
                         x["insertedContent"]["text"]) for x in ac["replacements"]])


def test_sarif_fix_of_the_slim_base_result_only_switches_the_base(node: Path) -> None:
    # without a runtime stage (DO201 ignored), DO202 slims the single stage: "apply fix" on its
    # result switches the base image and does nothing else
    text, by_rule = _sarif_results(node, "--ignore", "DO201")
    assert _alone(text, by_rule["DO202"]) == text.replace("FROM node:18\n", "FROM node:18-slim\n")


def test_sarif_fix_of_a_result_holds_only_that_rules_edits(node: Path) -> None:
    text, by_rule = _sarif_results(node)

    def alone(r: dict) -> str:
        return _alone(text, r)

    # DO301's USER line sits in the runtime stage DO201 writes: one combined fix, on DO201's result
    assert by_rule["DO201"]["properties"]["combinedWith"] == ["DO301"]
    assert "fixes" not in by_rule["DO301"] and by_rule["DO301"]["properties"]["fixIn"] == ["DO201"]
    assert "USER 65532:65532" in alone(by_rule["DO201"])
    # DO403's fix is the HEALTHCHECK line alone
    added = [ln for ln in alone(by_rule["DO403"]).splitlines() if ln not in text.splitlines()]
    assert [ln.split()[0] for ln in added] == ["HEALTHCHECK"]
    # DO102 and DO107 edit the RUN line DO101 writes, DO113 the COPY it writes: one combined fix, on DO101's result,
    # that says so
    combined = by_rule["DO101"]
    assert combined["properties"]["combinedWith"] == ["DO102", "DO107", "DO113"]
    assert "combined fix of DO101, DO102, DO107" in combined["fixes"][0]["description"]["text"]
    for rid in ("DO102", "DO107"):
        assert "fixes" not in by_rule[rid] and by_rule[rid]["properties"]["fixIn"] == ["DO101"]
    assert "npm ci" in alone(combined) and "--mount=type=cache" in alone(combined)
    # the runtime stage's fix does not bring DO107's `npm ci` or DO102's cache mount along
    stage = alone(by_rule["DO201"])
    assert "gcr.io/distroless" in stage and "npm ci" not in stage and "--mount" not in stage


def test_checkstyle_and_codeclimate(node: Path) -> None:
    import xml.etree.ElementTree as ET

    res = run("check", "--output-format", "checkstyle", "Dockerfile", cwd=node)
    assert res.returncode == 1
    root = ET.fromstring(res.stdout)
    assert root.tag == "checkstyle"
    (f,) = root.findall("file")
    assert f.get("name") == "Dockerfile"
    sources = {e.get("source") for e in f.findall("error")}
    assert "dockeropt.DO101" in sources and all(e.get("line", "").isdigit() for e in f.findall("error"))
    for fmt in ("codeclimate", "gitlab"):
        res = run("check", "--output-format", fmt, "Dockerfile", cwd=node)
        issues = json.loads(res.stdout)
        assert issues and all({"description", "check_name", "fingerprint", "severity", "location"} <= set(i)
                              for i in issues)
        assert len({i["fingerprint"] for i in issues}) == len(issues)
        assert {i["location"]["path"] for i in issues} == {"Dockerfile"}
        assert all(i["severity"] in ("info", "minor", "major", "critical", "blocker") for i in issues)
