"""DO302 secret-mounts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel, StageNode
from dockeropt.model.frontend import DIRECTIVE, mount_plan
from dockeropt.model.mounts import secret_flag
from dockeropt.model.values import assignment_spans, read_assignments
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile, Instruction

_VAR_REF = r"\$(\{%s([:}?+=-][^}]*)?\}|%s\b)"


@cache
def _catalog() -> dict[str, Any]:
    return json.loads(resources.files("dockeropt.catalog").joinpath("secrets.json").read_text(encoding="utf-8"))


def _rx(key: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(_catalog()[key], flags)


def secret_by_name(name: str) -> bool:
    return bool(_rx("name").search(name)) and not _rx("not_secret").search(name)


@dataclass
class _Decl:
    ins: Instruction
    name: str
    value: str | None  # as written; None for ARG without default
    start: int  # document range to delete
    end: int
    literal: bool  # the value is written in the Dockerfile (not a variable reference)


@register
class SecretMounts(Pass):
    """Pass secrets to RUN through BuildKit secret mounts, not ARG or ENV.

    What it does:
        Finds ARG and ENV variables that hold secrets, by name (token,
        password, secret, api key, npm token, …) or by use (written into
        `.npmrc`, `pip.conf`, `.netrc` and similar credential files). It
        removes the ARG/ENV and gives every later RUN of the stage a
        `--mount=type=secret,id=<name>,required=true` that exports the
        variable from `/run/secrets/<name>` for that RUN only. `required=true`
        makes a build that forgets `--secret` fail at once with BuildKit's
        own error naming the secret, instead of running with an empty token
        and failing later with a 401. The explanation shows the new
        `docker build --secret id=…,src=…` flag and what happens to
        pipelines that still pass `--build-arg`. Secret values are never
        printed in explanations.

    Why:
        Build arguments are recorded in the image history and ENV values in
        the image config: anyone who can pull the image can read them. A
        secret mount exists only while its RUN runs and never reaches a layer,
        the history or the config.

    Example:
        # before
        ARG NPM_TOKEN
        RUN echo "//npm.example/:_authToken=${NPM_TOKEN}" > .npmrc && npm ci && rm .npmrc
        # after
        RUN --mount=type=secret,id=npm_token,required=true export NPM_TOKEN="$(cat /run/secrets/npm_token)" && echo "//npm.example/:_authToken=${NPM_TOKEN}" > .npmrc && npm ci && rm .npmrc
        # build with: docker build --secret id=npm_token,src=$HOME/.npm_token .

    Fix safety:
        Review: the build now takes the secret from `--secret` instead of
        `--build-arg`, and the running container no longer sees it. Unsafe
        when the value is written in the Dockerfile itself (it has leaked:
        rotate it, then pass the new one as a secret). Not applied where a
        later stage inherits the ENV, a later RUN is in exec form or uses
        heredocs, or the Dockerfile frontend (`# syntax=`, the `buildkit`
        setting) has no `RUN --mount`.
    """

    id = "DO302"
    name = "secret-mounts"
    messages = {
        "inherited": Message(
            "Secret {name} in {where}; a later stage inherits it",
            "{name} looks like a secret and is baked into the image by {where}, but a later stage builds FROM this "
            "one and inherits it, so dockeropt did not rewrite it. Pass it with a secret mount "
            "(RUN --mount=type=secret,id={secret_id}) in each RUN that needs it.",
        ),
        "run_form": Message(
            "Secret {name} in {where}; a RUN cannot take a secret mount here",
            "{name} looks like a secret baked into the image by {where}. A later RUN is in exec form or uses a "
            "heredoc, so dockeropt did not rewrite it: add --mount=type=secret,id={secret_id} to the RUNs that need "
            "it and read /run/secrets/{secret_id}.",
        ),
        "frontend": Message(
            "Secret {name} in {where}; no secret mounts with this Dockerfile frontend",
            "{name} looks like a secret baked into the image by {where}, but the build uses {frontend}, which has no "
            "`RUN --mount`, so dockeropt did not rewrite it. Change the `# syntax=` line to `docker/dockerfile:1` or "
            "set `buildkit` to the engine's newer BuildKit version, then pass it with "
            "--mount=type=secret,id={secret_id}.",
        ),
        "secret": Message(
            "Pass {name} as a build secret, not {where}",
            "{name} looks like a secret; {where} {verb} it in the image {recorded} for anyone who pulls it. It now "
            "reaches {count} RUN(s) through a secret mount that never enters a layer. Build with: docker build "
            "--secret id={secret_id},src=<file holding {name}> . The mount is `required`: a build without that "
            "`--secret` stops at the first RUN that needs it with BuildKit's error naming `{secret_id}`, instead of "
            "running with an empty value, so a pipeline that still passes `--build-arg {name}=…` fails early and "
            "clearly until it passes the secret instead (its `--build-arg` is then ignored with a warning).{extra}",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        for node in m.graph.nodes:
            yield from self._stage(m, node, ctx.config.syntax_directive)

    def _stage(self, m: ImageModel, node: StageNode, syntax_directive: bool) -> Iterable[Change]:
        lines = [ins for ins in node.stage.body if ins.keyword in ("ARG", "ENV")]
        if not lines:
            return
        by_use = self._secret_by_use(node)
        decls = self._declarations(lines, by_use)
        if not decls:
            return
        secrets = [d for d in decls if secret_by_name(d.name) or d.name in by_use]
        for name in dict.fromkeys(d.name for d in secrets):
            group = [d for d in secrets if d.name == name]
            yield from self._fix(m, node, name, group, by_use, syntax_directive)

    def _declarations(self, lines: list[Instruction], by_use: set[str]) -> list[_Decl]:
        """The declarations of the ARG/ENV ``lines`` that name a secret (by name or by use) with their ranges."""
        out: list[_Decl] = []
        for ins in lines:
            pairs = read_assignments(ins)
            if pairs is None or not any(secret_by_name(p.name) or p.name in by_use for p in pairs):
                continue  # no secret on this line: its spans are not needed (most ENV lines)
            spans = assignment_spans(ins)
            if spans is None:
                continue
            for a, ls, le in spans:
                if len(spans) == 1:
                    start, end = ins.full_range.start, ins.full_range.end
                else:
                    raw = ins.logical.text[ls:le]
                    if any(q in raw for q in "'\"\\"):
                        continue  # too complex to take out of a line with other variables
                    r = ins.logical.physical(ls, le)
                    start, end = r.start, r.end
                    # take the separating space before it too
                    while start > ins.range.start and ins.text[start - ins.full_range.start - 1] in " \t":
                        start -= 1
                literal = a.raw is not None and a.raw != "" and "$" not in a.raw
                out.append(_Decl(ins, a.name, a.raw, start, end, literal))
        return out

    def _secret_by_use(self, node: StageNode) -> set[str]:
        names: set[str] = set()
        files = _rx("credential_files", 0)
        for ins in node.stage.body:
            if ins.keyword != "RUN" or not files.search(ins.args):
                continue
            names.update(mt.group(1) or mt.group(2) for mt in re.finditer(r"\$\{(\w+)[^}]*\}|\$(\w+)", ins.args))
        return names

    def _fix(self, m: ImageModel, node: StageNode, name: str, decls: list[_Decl], by_use: set[str], self_syntax: bool) -> Iterable[Change]:
        first = decls[0].ins
        secret_id = name.lower()
        kinds = sorted({d.ins.keyword for d in decls})
        where = " and ".join(kinds)
        if "ENV" in kinds and node.children:
            yield self.say("inherited", first, name=name, where=where, secret_id=secret_id)
            return
        allowed, directive = mount_plan(m.frontend, m.doc.directive("syntax") is not None, self_syntax)
        if not allowed:
            yield self.say("frontend", first, name=name, where=where, frontend=m.frontend.label, secret_id=secret_id)
            return
        runs = [i for i in node.stage.body if i.keyword == "RUN" and i.index > first.index]
        edits: list[Edit] = [Edit.delete(d.start, d.end) for d in decls]
        if directive:
            edits.insert(0, Edit.insert(1 if m.doc.bom else 0, DIRECTIVE + m.doc.newline))
        secret_dir = _catalog()["secret_dir"]
        for run in runs:
            facts = m.run(run)
            if run.json or run.heredocs:
                yield self.say("run_form", first, name=name, where=where, secret_id=secret_id)
                return
            if facts is None or facts.editable is None:
                return
            if any(mt.type == "secret" and mt.id == secret_id for mt in facts.mounts):
                continue
            export = f'export {name}="$(cat {secret_dir}/{secret_id})" && '
            edits.append(Edit.insert(run.args_range.start, f"{secret_flag(secret_id)} {export}"))
        literal = any(d.literal for d in decls)
        leaks_rx = "|".join(_catalog()["leaks_if_kept"])
        leaks = [
            r for r in runs
            if re.search(_VAR_REF % (name, name), r.args) and re.search(rf">\s*\S*({leaks_rx})", r.args)
            and not re.search(rf"\brm\b[^&;|]*({leaks_rx})", r.args)
        ]
        extra = f" Added `{DIRECTIVE}` (syntax_directive) so the mounts use the current Dockerfile frontend." if directive else ""
        if literal:
            extra += " Its value was written in the Dockerfile: treat it as leaked and rotate it."
        if leaks:
            extra += (" A RUN writes it into a credentials file it does not delete in the same RUN: delete that file "
                      "in the same RUN, or it stays in the layer.")
        runtime_risk = "ENV" in kinds and not (_rx("build_tool").match(name) or name in by_use)
        if runtime_risk:
            extra += f" If the app itself reads {name} when it runs, give it at run time instead (docker run -e, a secret store)."
        yield self.say(
            "secret", first, edits, Safety.UNSAFE if literal or runtime_risk else Safety.REVIEW,
            name=name, where=where, verb="record" if len(kinds) > 1 else "records",
            recorded="config and history" if "ENV" in kinds else "history", count=len(runs), secret_id=secret_id,
            extra=extra,
        )
