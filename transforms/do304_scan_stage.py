"""DO304 scan-stage."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from dockeropt.analysis import BASE, leading_comment_start, workdirs
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import Command, analysis_script
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._final_stage import kw, restructuring_pending
from dockeropt.transforms._hygiene import base_image

_SCANNERS = re.compile(r"\b(npm audit|yarn audit|pnpm audit|pip-audit|pip_audit|trivy|grype|snyk)\b")
_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")


def _install(cmd: Command) -> tuple[str, str | None] | None:
    """("npm", None) for `npm ci`/`npm install`; ("pip", requirements file) for `pip install -r file`."""
    name, args = cmd.name, cmd.args
    if name == "npm" and args and args[0] in ("ci", "install", "i", "clean-install"):
        if not any(a is not None and not a.startswith("-") for a in args[1:]):
            return "npm", None
    if name is not None and (_PIP.match(name) or re.match(r"^python3?$", name)):
        rest = args[3:] if name.startswith("python") and args[:2] == ["-m", "pip"] else args[1:] if args and args[0] == "install" else None
        if name.startswith("python") and args[2:3] != ["install"]:
            rest = None
        if rest is None:
            return None
        for i, a in enumerate(rest):
            if a in ("-r", "--requirement") and i + 1 < len(rest) and rest[i + 1] is not None:
                return "pip", rest[i + 1]
    return None


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

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return []
        if any(st.name and st.name.lower() == "scan" for st in doc.stages):
            return []
        if any(_SCANNERS.search(i.args) for i in doc.walk() if i.keyword == "RUN"):
            return []
        final = doc.stages[-1]
        found = self._find(doc)
        if found is None:
            return []
        stage, ins, eco, req, cwd = found
        if restructuring_pending(doc, ctx, final, ("DO201",)):
            return []
        nl = doc.newline
        frm, run, workdir, copy = kw(final, "FROM"), kw(final, "RUN"), kw(final, "WORKDIR"), kw(final, "COPY")
        audit = "npm audit --audit-level=high" if eco == "npm" else f"pip install --no-cache-dir pip-audit && pip-audit -r {req}"
        lines: list[str] = []
        if stage is not final and stage.name:
            lines.append(f"{frm} {stage.name} AS scan")
            last_wd = _final_workdir(stage)
            if cwd != last_wd:
                if cwd is None or cwd.startswith(BASE):
                    return []
                lines.append(f"{workdir} {cwd}")
        else:
            ref = base_image(doc, stage)
            if ref is None:
                return []
            if ctx.context is not None:
                needed = ["package.json", "package-lock.json"] if eco == "npm" else [req or ""]
                if cwd is None or any(not ctx.context.is_file(m) for m in needed):
                    return []  # the manifests are not where the install found them (or npm audit has no lockfile)
                if eco == "pip" and re.search(r"^\s*(-r|--requirement|-c|--constraint|-e)\b", ctx.context.read_text(req or "") or "", re.M):
                    return []
            manifests = "package*.json" if eco == "npm" else (req or "")
            if eco == "pip" and (req is None or "/" in req or "$" in req):
                return []
            lines += [f"{frm} {ref} AS scan", f"{workdir} /scan", f"{copy} {manifests} ./"]
        lines.append(f"{run} {audit}")
        at = leading_comment_start(final.from_instruction)
        edit = Edit.insert(at, nl.join(lines) + nl + nl)
        tool = "npm audit" if eco == "npm" else "pip-audit"
        expl = (
            f"Adds a `scan` stage that runs {tool} on the dependencies "
            + ("of package-lock.json" if eco == "npm" else f"of {req}")
            + " and fails on known high-severity vulnerabilities. It sits before the final stage, so `docker build .` still builds only the "
            "image you ship; run the scan in CI with `docker build --target scan .` (it needs the network)."
        )
        return [self.change("Add a vulnerability-scan stage (docker build --target scan .)", expl, final.from_instruction, [edit], Safety.REVIEW)]

    @staticmethod
    def _find(doc: Dockerfile) -> tuple[Stage, Instruction, str, str | None, str | None] | None:
        for stage in doc.stages:
            wds = workdirs(stage)
            for ins in stage.body:
                script = analysis_script(ins, doc.text) if ins.keyword == "RUN" else None
                if script is None or not script.ok:
                    continue
                for c in script.commands:
                    got = _install(c)
                    if got is None:
                        continue
                    wd = wds.get(ins.index)
                    if c.cwd is not None:
                        if c.cwd == "?" or wd is None:
                            return None
                        wd = posixpath.normpath(posixpath.join(wd, c.cwd))
                    return stage, ins, got[0], got[1], wd
        return None


def _final_workdir(stage: Stage) -> str | None:
    wd = workdirs(stage)
    last = stage.instructions[-1]
    cur = wd.get(last.index)
    if last.keyword == "WORKDIR":
        arg = last.args.strip()
        if "$" in arg:
            return None
        cur = posixpath.normpath(arg if arg.startswith("/") else posixpath.join(cur or BASE, arg))
    return cur
