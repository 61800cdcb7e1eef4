"""One configuration loader for every face: fix, check, verify, report and the language server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness import ROOT

NODE = ROOT / "examples" / "node-naive"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    d = tmp_path / "app"
    shutil.copytree(NODE, d)
    (d / ".dockeropt.toml").write_text('select = ["DO101"]\n')
    return d


def test_verify_reads_the_configuration_file(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dockeropt.verify as v
    from dockeropt.cli import app as cli_app
    from dockeropt.verify import Measurement

    calls: list[str] = []

    def fake_measure(docker: str, context: Path, text: str, spec: object, **kw: object) -> Measurement:
        calls.append(text)
        return Measurement(label=str(kw["label"]), build_ok=True, size=1, layers=1, smoke_ok=True)

    monkeypatch.setattr(v, "docker_binary", lambda: "docker")
    monkeypatch.setattr(v, "engine_problem", lambda docker=None: None)
    monkeypatch.setattr(v, "has_buildx", lambda docker: False)
    monkeypatch.setattr(v, "measure", fake_measure)
    r = CliRunner().invoke(cli_app, ["verify", str(app / "Dockerfile"), "--smoke-cmd", "", "--json", "--keep-cache"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rules"] == ["DO101"]  # select = ["DO101"] from .dockeropt.toml
    fixed = subprocess.run([sys.executable, "-m", "dockeropt", "fix", "-", "--stdin-filename", "Dockerfile"],
                           cwd=app, input=(app / "Dockerfile").read_text(), capture_output=True, text=True).stdout
    assert calls[1] == fixed  # verify builds exactly what `dockeropt fix` writes
    # a bad configuration is one line and exit 2 there too
    (app / ".dockeropt.toml").write_text('select = ["DO999"]\n')
    r = CliRunner().invoke(cli_app, ["verify", str(app / "Dockerfile"), "--smoke-cmd", ""])
    assert r.exit_code == 2 and ".dockeropt.toml: key 'select'" in r.stderr


def test_report_reads_the_configuration_and_counts_only_what_applies(tmp_path: Path) -> None:
    from dockeropt.checklist import FIXED, NOT_APPLICABLE, OPT_IN, PASSED, score_file
    from dockeropt.settings import load_config

    d = tmp_path / "app"
    shutil.copytree(NODE, d)
    df = d / "Dockerfile"
    rep = score_file(df, display="Dockerfile", config=load_config(df))
    st = {it.rules: it.status for it in rep.items}
    # the opt-in scan stage is not something this Dockerfile passes, nor something `dockeropt fix` does
    assert st[("DO304",)] == OPT_IN
    # no pip, no apt, no compose file, no ARG/ENV: those items do not apply, and are not "passed"
    for rules in (("DO106",), ("DO103",), ("DO104", "DO105"), ("DO112",), ("DO302",)):
        assert st[rules] == NOT_APPLICABLE, rules
    assert rep.total == sum(1 for it in rep.items if it.status not in (NOT_APPLICABLE,))
    assert rep.count(PASSED) <= rep.total - rep.count(OPT_IN)
    # with the opt-in rule enabled in the configuration, `dockeropt fix` adds the stage: fixed
    (d / ".dockeropt.toml").write_text('extend-select = ["DO304"]\n')
    rep = score_file(df, display="Dockerfile", config=load_config(df))
    assert {it.rules: it.status for it in rep.items}[("DO304",)] == FIXED
    # through the command line, the summary says what is not counted
    out = subprocess.run([sys.executable, "-m", "dockeropt", "report", "Dockerfile"], cwd=d, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "applicable items pass today" in out.stdout and "not applicable" in out.stdout
