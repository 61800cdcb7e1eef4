"""DO304 scan-stage."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from dockeropt.analysis import leading_comment_start
from dockeropt.catalog import catalog
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel, StageNode
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile


@cache
def _data() -> dict[str, Any]:
    return json.loads(resources.files("dockeropt.catalog").joinpath("scan.json").read_text(encoding="utf-8"))


@cache
def _scanners() -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(re.escape(s) for s in _data()["scanners"]) + r")\b")



def _includes_or_editable(requirements: str) -> bool:
    """Does a requirements file include other files (-r, -c) or install a local project (-e)? The scan copies it alone."""
    pip = catalog().by_id["pip"]
    for raw in requirements.splitlines():
        line = raw.strip()
        if pip.manifest_line(line) is not None or pip.editable_line(line):
            return True
    return False

@register
class ScanStage(Pass):
    """Add a vulnerability-scan stage (npm audit, pip-audit) outside the default build target.

    What it does:
        Finds the stage that installs the dependencies (`npm ci`/`npm
        install`, `pip install -r requirements.txt`) and adds a stage named
        `scan` right before the final stage, built FROM that stage, that runs
        `npm audit --audit-level=high` or installs and runs `pip-audit -r
        <requirements>`. When the dependencies install in the final stage
        itself, the scan stage starts from the same base image and copies
        just the manifests. The final stage stays the last one, so a plain
        `docker build .` does not build or run the scan; CI runs it with
        `docker build --target scan .`.

    Why:
        A known-vulnerable dependency is cheapest to catch at build time. A
        stage that fails on high-severity advisories gives CI a one-line gate
        without changing the image that ships.

    Example:
        # before
        FROM node:20 AS build
        WORKDIR /app
        COPY package*.json ./
        RUN npm ci
        COPY . .
        RUN npm run build

        FROM gcr.io/distroless/nodejs20-debian12
        COPY --from=build /app/dist /app
        # after: a stage between them
        FROM build AS scan
        RUN npm audit --audit-level=high

    Fix safety:
        Review: BuildKit builds only the stages the target needs, so the
        shipped image and the default build are unchanged. The legacy builder
        (DOCKER_BUILDKIT=0) builds every stage, so there the scan runs, and
        can fail, on every build. The audit needs the network.
    """

    id = "DO304"
    name = "scan-stage"
    default_enabled = False
    after = ("DO201",)
    messages = {
        "added": Message(
            "Add a vulnerability-scan stage (docker build --target scan .)",
            "Adds a `scan` stage that runs {tool} on the dependencies {what} and fails on known high-severity "
            "vulnerabilities. It sits before the final stage, so `docker build .` still builds only the image you "
            "ship; run the scan in CI with `docker build --target scan .` (it needs the network).",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return []
        m = ctx.model(doc)
        final = m.graph.final
        assert final is not None
        if any(n.name and n.name.lower() == "scan" for n in m.graph.nodes):
            return []
        rx = _scanners()
        if any(rx.search(i.args) for i in doc.walk() if i.keyword == "RUN"):
            return []
        found = self._find(m)
        if found is None:
            return []
        node, eco, req, cwd = found
        audit = _data()["audits"][eco]
        style = m.style
        run = audit["run"].format(requirements=req or "")
        lines: list[str] = []
        if node.index != final.index and node.name:
            lines.append(f"FROM {node.name} AS scan")
            if cwd != m.end_state(node.index).workdir:
                if cwd is None:
                    return []
                lines.append(f"WORKDIR {cwd}")
        else:
            img = node.image
            if img is None or node.base is None:
                return []
            if eco == "pip" and (req is None or "/" in req or "$" in req):
                return []
            if ctx.context is not None:
                needed = audit.get("manifests") or [req or ""]
                if cwd is None or any(not ctx.context.is_file(f) for f in needed):
                    return []  # the manifests are not where the install found them (or npm audit has no lockfile)
                if eco == "pip" and _includes_or_editable(ctx.context.read_text(req or "") or ""):
                    return []
            manifests = audit.get("copy") or (req or "")
            lines += [f"FROM {m.graph.nodes[node.root].base} AS scan", "WORKDIR /scan", f"COPY {manifests} ./"]
        lines.append(f"RUN {run}")
        at = leading_comment_start(final.stage.from_instruction)
        edit = Edit.insert(at, style.newline.join(style.line(t) for t in lines) + style.newline + style.newline)
        return [self.say("added", final.stage.from_instruction, [edit], Safety.REVIEW, tool=audit["tool_name"],
                         what=audit["what"].format(requirements=req or ""))]

    @staticmethod
    def _find(m: ImageModel) -> tuple[StageNode, str, str | None, str | None] | None:
        """(stage, audit id, requirements file as written, folder) of the first dependency install."""
        audits = _data()["audits"]
        for node in m.graph.nodes:
            for _ins, facts in m.stage_runs(node.index):
                for a in facts.actions:
                    spec = audits.get(a.tool)
                    if spec is None or a.verb not in spec["verbs"]:
                        continue
                    if a.tool == "npm" and a.packages:
                        continue
                    req = a.flag_value(*a.manager.requirement_flags) if a.tool == "pip" and a.manager is not None else None
                    if a.tool == "pip" and req is None:
                        continue
                    return node, a.tool, req, posixpath.normpath(a.cwd) if a.cwd else None
        return None
