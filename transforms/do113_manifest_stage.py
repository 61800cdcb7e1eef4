"""DO113 manifest-stage."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Any

from dockeropt.analysis import leading_comment_start
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import CopyFacts, ImageModel, StageNode
from dockeropt.model import ecosystems as eco
from dockeropt.model.deps import install_rule, requirement_files
from dockeropt.model.project import node_project, yarn_flavour
from dockeropt.model.runs import Action
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile, Instruction

# instructions that may sit between the manifest copy and the install (other manifest copies are COPYs too)
_BETWEEN = {"COPY", "WORKDIR", "ENV", "ARG", "LABEL", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "CMD", "ENTRYPOINT", "MAINTAINER"}
_NUMERIC_STAGE = re.compile(r"(?:--from=|\bfrom=)(\d+)\b", re.IGNORECASE)


def _names_stage_by_number(text: str) -> bool:
    """``_NUMERIC_STAGE.search(text)``, tried only where ``from=`` starts (a case-blind search of the text is slow)."""
    low = text.lower()
    if len(low) != len(text):  # lowering moved offsets (a character lowered to two)
        return _NUMERIC_STAGE.search(text) is not None
    at = low.find("from=")
    while at >= 0:  # a match starts at such a place, or two before it (--from=)
        if _NUMERIC_STAGE.match(text, at) or (at >= 2 and _NUMERIC_STAGE.match(text, at - 2)):
            return True
        at = low.find("from=", at + 1)
    return False


def _catalog() -> dict[str, Any]:
    return eco.manifest_stages()


@register
class ManifestStage(Pass):
    """Copy dependency manifests through a stage that keeps only what the install reads.

    What it does:
        When a stage copies only dependency manifests from the build
        context and its next RUN installs from them (`COPY package.json
        package-lock.json ./` then `npm ci`; `COPY requirements.txt ./` then
        `pip install -r requirements.txt`), the COPY takes them from a new
        stage placed just before, which cuts them down to what the install
        reads: package.json keeps its dependency fields, overrides or
        resolutions, engines, workspaces and install scripts (per package
        manager: npm, yarn classic, pnpm), a pip requirements file or a
        Pipfile loses its comment and blank lines (catalog
        `manifest_stages`; pipenv's lock hash is over the parsed Pipfile, so
        `--deploy` still matches). The lockfile and
        config files pass through unchanged. It runs after DO101, DO201 and DO202,
        on the copies they write, and leaves a file alone when it cannot be
        read, when a requirements file includes others (`-r`, `-c`), uses
        continuation lines or local paths, for yarn 2+ (its install reads
        its own files beside package.json), when the stage's base image
        lacks the program the cut needs (node for package.json, a shell for
        sed), or when the Dockerfile names stages by number (a new stage
        would shift them). Without a build context it does nothing: the
        cut is only written for manifests it has read.
    Why:
        An edit of package.json that changes no dependency (the version, the
        description, a start script, a new field), or a comment in
        requirements.txt, still changes the copied file, so BuildKit runs
        the whole install again. Through the cut-down copy such an edit
        leaves the install's input byte-identical and the cached install is
        used: in the lab, corpus node-express rebuilt in 0.6 s instead of
        5.4 s after such an edit, for about 0.4 s more on a cold build.
    Example:
        FROM node:18
        WORKDIR /app
        COPY package.json package-lock.json ./
        RUN npm ci
        COPY . .
        # becomes
        FROM node:18 AS manifest
        WORKDIR /manifest
        COPY package.json package-lock.json ./
        RUN node -e "…"  # package.json cut down to the fields npm installs from

        FROM node:18
        WORKDIR /app
        COPY --from=manifest /manifest/package.json /manifest/package-lock.json ./
        RUN npm ci
        COPY . .
    Fix safety:
        Review: the install sees the same dependencies, but the stage holds
        the cut-down package.json until a later COPY brings the project's
        own (the usual `COPY . .` does); a build step that reads another
        field of package.json before that copy would see it missing.
    """

    id = "DO113"
    name = "manifest-stage"
    after = ("DO101", "DO201", "DO202")
    messages = {
        "stage": Message(
            "Copy {file} through a stage that keeps only what {label} installs from",
            "Line {line} now takes {shown} from a new `{stage}` stage that {how}, so an edit of {file} that changes no "
            "dependency ({changes}) leaves the install's input byte-identical and BuildKit keeps the cached `{install}`. "
            "{rest}",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if ctx.context is None or not doc.stages:
            return []
        if _names_stage_by_number(doc.text):
            return []  # stages named by number: a new stage before them would change what they name
        m = ctx.model(doc)
        taken = {n.name.lower() for n in m.graph.nodes if n.name}
        out: list[Change] = []
        for node in m.graph.nodes:
            found = self._stage(m, node, ctx, taken)
            if found is not None:
                out.append(found)
        return out

    def _stage(self, m: ImageModel, node: StageNode, ctx: PassContext, taken: set[str]) -> Change | None:
        body = node.stage.body
        for i, ins in enumerate(body):
            cf = m.copy(ins)
            if cf is None or not cf.from_context or cf.heredoc or ins.keyword != "COPY":
                continue
            if not cf.dest_is_dir and (len(cf.sources) != 1 or posixpath.basename(cf.dest) != posixpath.basename(cf.sources[0])):
                continue  # one file copied under another name: the install reads that name
            # the next instruction that counts, found without copying the rest of the body (quadratic in a long stage)
            run = next((body[k] for k in range(i + 1, len(body)) if body[k].keyword not in _BETWEEN), None)
            if run is None or run.keyword != "RUN":
                continue
            facts = m.run(run)
            if facts is None or facts.script is None or not facts.script.ok:
                continue
            for a in facts.actions:
                if install_rule(a) is None or (a.project or a.cwd) is None:
                    continue
                tool = a.tool
                if tool == "yarn-classic" and yarn_flavour(node_project(m, run, a), ctx.context) == "berry":
                    break
                spec = next((sp for sp in _catalog()["normalisers"] if tool in sp["tools"]), None)
                if spec is None:
                    break
                change = self._rewrite(m, node, ins, cf, a, spec, list(spec["tools"][tool]), ctx, taken)
                if change is not None:
                    return change
                break
        return None

    def _rewrite(self, m: ImageModel, node: StageNode, copy: Instruction, cf: CopyFacts, a: Action, spec: dict[str, Any],
                 keep: list[str], ctx: PassContext, taken: set[str]) -> Change | None:
        context = ctx.context
        assert context is not None
        sources = [posixpath.normpath(s) for s in cf.sources]
        if len({posixpath.basename(s) for s in sources}) != len(sources) or any(any(ch in s for ch in "*?[$") for s in sources):
            return None
        target = [s for s in sources if _matches(spec, posixpath.basename(s))]
        if len(target) != 1 or not context.is_file(target[0]) or context.ignored(target[0]):
            return None
        # the install must read that very file where the COPY puts it (pip: a -r file; node: the project's package.json)
        image_path = posixpath.normpath(posixpath.join(cf.dest, posixpath.basename(target[0])) if cf.dest_is_dir else cf.dest)
        if not _reads(a, image_path, spec):
            return None
        text = context.read_text(target[0])
        if text is None:
            return None
        if spec["id"] == "package-json" and context.read_json_object(target[0]) is None:
            return None
        if any(re.search(p, line) for p in spec.get("skip_lines", ()) for line in text.splitlines()):
            return None
        if not _base_fits(m, node, spec):
            return None
        frm = node.stage.from_instruction
        if frm.is_multiline or copy.is_multiline:
            return None
        name = next((n for n in [*(f"{node.name}-{x}" for x in _catalog()["names"] if node.name), *_catalog()["names"]]
                     if n.lower() not in taken), None)
        if name is None:
            return None
        taken.add(name.lower())
        style, nl = m.style, m.doc.newline
        folder = _catalog()["folder"]
        file = posixpath.basename(target[0])
        scripts = eco.spec(spec["ecosystem"]).get("install_scripts", [])
        command = (spec["command"].replace("@KEEP@", _js_list(keep)).replace("@SCRIPTS@", _js_list(scripts))
                   .replace("@FILE@", file))
        plat = frm.flag("platform")
        head = f"FROM {plat.raw + ' ' if plat else ''}{node.base_text} AS {name}"
        stage_lines = [head, f"WORKDIR {folder}", f"COPY {' '.join(sources)} ./", f"RUN {command}"]
        stage_text = "".join(style.line(x) + nl for x in stage_lines) + nl
        flags = " ".join(fl.raw for fl in copy.flags)
        moved = " ".join(posixpath.join(folder, posixpath.basename(s)) for s in sources)
        new_copy = style.line(f"COPY {flags + ' ' if flags else ''}--from={name} {moved} {copy.words[-1]}")  # same destination
        at = _insert_point(m, frm)
        edits = [Edit.insert(at, stage_text), Edit.replace(copy.range.start, copy.range.end, new_copy)]
        how = ("keeps only the fields " + a.tool.split("-")[0] + " reads when it installs (" + ", ".join(keep[1:4]) + ", …)"
               if spec["id"] == "package-json" else "drops its comment and blank lines")
        changes = ("its version, description or scripts, a new field" if spec["id"] == "package-json"
                   else "a comment, a blank line")
        rest = ("The lockfile and config files pass through unchanged." if len(sources) > 1 else "")
        if spec["id"] == "package-json":
            rest += (" Until a later COPY brings the project's own package.json, this stage holds the cut-down one: check "
                     "that no build step before that reads another of its fields.")
        return self.say("stage", copy, edits, Safety.REVIEW, file=file, label=a.tool.split("-")[0], line=copy.start_line,
                        shown=", ".join(f"`{s}`" for s in sources), stage=name, how=how, changes=changes,
                        install=" ".join(w.text for w in a.command.effective()), rest=rest.strip())


def _reads(a: Action, image_path: str, spec: dict[str, Any]) -> bool:
    """Does the install ``a`` read the manifest at ``image_path`` (and need nothing else of the source)?"""
    if "file" not in spec:  # pip: one of the -r files
        scanned = requirement_files(a)
        if scanned is None or scanned[1] is not None:
            return False
        return image_path in {posixpath.normpath(posixpath.join(a.cwd or "/", f)) for f in scanned[0]}
    return image_path == posixpath.normpath(posixpath.join(a.project or a.cwd or "/", spec["file"]))


def _matches(spec: dict[str, Any], name: str) -> bool:
    if "file" in spec:
        return bool(name == spec["file"])
    return re.match(spec["file_regex"], name) is not None


def _js_list(items: list[str]) -> str:
    return "[" + ",".join(f"'{x}'" for x in items) + "]"


def _base_fits(m: ImageModel, node: StageNode, spec: dict[str, Any]) -> bool:
    """Can a stage FROM this stage's base run the normaliser (node for package.json, a shell with sed)?"""
    root = m.chain(node.index)[-1]
    img = root.image
    info = img.info if img is not None else None
    if info is None or not info.has_shell:
        return False
    base = spec["base"]
    if "families" in base:
        return info.family in base["families"]
    return info.os in base.get("os", ())


def _insert_point(m: ImageModel, frm: Instruction) -> int:
    """Where the new stage goes: above the FROM and its comments, but never above the parser directives."""
    at = leading_comment_start(frm)
    if m.doc.directives:
        lines = m.doc.lines
        after = lines.line_of(max(d.range.end for d in m.doc.directives) - 1) + 1  # the line below the last directive
        first_free = lines.line_starts[after] if after < len(lines.line_starts) else frm.full_range.start
        at = max(at, min(first_free, frm.full_range.start))
    return at
