"""DO302 secret-mounts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import run_script
from dockeropt.syntax import Dockerfile, Instruction, Stage

_SECRET_NAME = re.compile(
    r"(^|_)(TOKEN|PASSWORD|PASSWD|PASS|SECRET|SECRETS|APIKEY|API_KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|CREDENTIALS|AUTH|AUTHTOKEN|AUTH_TOKEN)($|_)",
    re.IGNORECASE,
)
# names that hold where a secret is, or who, not the secret itself
_NOT_SECRET = re.compile(r"(_FILE|_PATH|_DIR|_URL|_HOST|_ID|_USER|_USERNAME|_NAME|_ENABLED|_TYPE)$", re.IGNORECASE)
# files whose content is credentials: a variable written into one of them is a secret by use
_CREDENTIAL_FILES = re.compile(r"(\.npmrc|\.yarnrc|pip\.conf|pip\.ini|\.netrc|\.pypirc|\.git-credentials|auth\.json|_authToken|_auth\b)")
_VAR_REF = r"\$(\{%s([:}?+=-][^}]*)?\}|%s\b)"


# credentials read by build tools, never by the app at runtime
_BUILD_TOOL_CREDENTIAL = re.compile(
    r"^(NPM_TOKEN|NODE_AUTH_TOKEN|NPM_AUTH_TOKEN|YARN_NPM_AUTH_TOKEN|GITHUB_TOKEN|GH_TOKEN|GITLAB_TOKEN|CI_JOB_TOKEN|"
    r"PIP_\w+|UV_\w+|POETRY_HTTP_BASIC_\w+|POETRY_PYPI_TOKEN_\w+|BUNDLE_\w+|COMPOSER_AUTH|GOPRIVATE_TOKEN|"
    r"CARGO_REGISTRIES_\w+_TOKEN|ARTIFACTORY_\w+|NEXUS_\w+)$",
    re.IGNORECASE,
)


def secret_by_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET.search(name)


@dataclass
class _Decl:
    ins: Instruction
    name: str
    value: str | None  # as written; None for ARG without default
    start: int  # document range to delete
    end: int
    literal: bool  # the value is written in the Dockerfile (not a variable reference)


def _pairs(ins: Instruction) -> list[tuple[str, str | None, int, int]] | None:
    """(name, value, logical start, logical end) of ARG/ENV pairs; None when too complex to edit."""
    text = ins.logical.text
    args = ins.args
    base = ins.args_start
    if ins.keyword == "ENV" and "=" not in args.split(None, 1)[0]:
        # legacy form: ENV NAME value with spaces
        parts = args.split(None, 1)
        return [(parts[0], parts[1] if len(parts) > 1 else "", base, base + len(args))]
    out: list[tuple[str, str | None, int, int]] = []
    for m in re.finditer(r"\S+", args):
        tok = m.group(0)
        if any(q in tok for q in "'\"\\"):
            return None
        name, eq, value = tok.partition("=")
        out.append((name, value if eq else None, base + m.start(), base + m.end()))
    del text
    return out


@register
class SecretMounts(Pass):
    """Pass secrets to RUN through BuildKit secret mounts, not ARG or ENV.

    What it does:
        Finds ARG and ENV variables that hold secrets, by name (token,
        password, secret, api key, npm token, …) or by use (written into
        `.npmrc`, `pip.conf`, `.netrc` and similar credential files). It
        removes the ARG/ENV and gives every later RUN of the stage a
        `--mount=type=secret,id=<name>` that exports the variable from
        `/run/secrets/<name>` for that RUN only. The explanation shows the new
        `docker build --secret id=…,src=…` flag. Secret values are never
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
        RUN --mount=type=secret,id=npm_token export NPM_TOKEN="$(cat /run/secrets/npm_token 2>/dev/null)" && echo "//npm.example/:_authToken=${NPM_TOKEN}" > .npmrc && npm ci && rm .npmrc
        # build with: docker build --secret id=npm_token,src=$HOME/.npm_token .

    Fix safety:
        Review: the build now takes the secret from `--secret` instead of
        `--build-arg`, and the running container no longer sees it. Unsafe
        when the value is written in the Dockerfile itself (it has leaked:
        rotate it, then pass the new one as a secret). Not applied where a
        later stage inherits the ENV, or a later RUN is in exec form or uses
        heredocs.
    """

    id = "DO302"
    name = "secret-mounts"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for stage in doc.stages:
            yield from self._stage(doc, stage)

    def _stage(self, doc: Dockerfile, stage: Stage) -> Iterable[Change]:
        decls = self._declarations(stage)
        if not decls:
            return
        by_use = self._secret_by_use(stage)
        secrets = [d for d in decls if secret_by_name(d.name) or d.name in by_use]
        if not secrets:
            return
        for name in dict.fromkeys(d.name for d in secrets):
            group = [d for d in secrets if d.name == name]
            yield from self._fix(doc, stage, name, group)

    def _declarations(self, stage: Stage) -> list[_Decl]:
        out: list[_Decl] = []
        for ins in stage.body:
            if ins.keyword not in ("ARG", "ENV"):
                continue
            pairs = _pairs(ins)
            if pairs is None:
                continue
            for name, value, ls, le in pairs:
                if len(pairs) == 1:
                    start, end = ins.full_range.start, ins.full_range.end
                else:
                    r = ins.logical.physical(ls, le)
                    start, end = r.start, r.end
                    # take the separating space before it too
                    while start > ins.range.start and ins.text[start - ins.full_range.start - 1] in " \t":
                        start -= 1
                literal = value is not None and value != "" and "$" not in value
                out.append(_Decl(ins, name, value, start, end, literal))
        return out

    def _secret_by_use(self, stage: Stage) -> set[str]:
        names: set[str] = set()
        for ins in stage.body:
            if ins.keyword != "RUN":
                continue
            text = ins.args
            if not _CREDENTIAL_FILES.search(text):
                continue
            names.update(m.group(1) or m.group(2) for m in re.finditer(r"\$\{(\w+)[^}]*\}|\$(\w+)", text))
        return names

    def _fix(self, doc: Dockerfile, stage: Stage, name: str, decls: list[_Decl]) -> Iterable[Change]:
        first = decls[0].ins
        secret_id = name.lower()
        kinds = sorted({d.ins.keyword for d in decls})
        where = " and ".join(kinds)
        if "ENV" in kinds and any(
            s.base.lower() == (stage.name or "").lower() for s in doc.stages if s.index > stage.index and stage.name
        ):
            yield self.change(
                f"Secret {name} in {where}; a later stage inherits it",
                f"{name} looks like a secret and is baked into the image by {where}, but a later stage builds FROM this "
                "one and inherits it, so dockeropt did not rewrite it. Pass it with a secret mount "
                f"(RUN --mount=type=secret,id={secret_id}) in each RUN that needs it.",
                first,
            )
            return
        runs = [i for i in stage.body if i.keyword == "RUN" and i.index > first.index]
        edits: list[Edit] = [Edit.delete(d.start, d.end) for d in decls]
        for run in runs:
            if run.json or run.heredocs:
                yield self.change(
                    f"Secret {name} in {where}; a RUN cannot take a secret mount here",
                    f"{name} looks like a secret baked into the image by {where}. A later RUN is in exec form or uses "
                    f"a heredoc, so dockeropt did not rewrite it: add --mount=type=secret,id={secret_id} to the RUNs "
                    "that need it and read /run/secrets/" + secret_id + ".",
                    first,
                )
                return
            rs = run_script(run)
            if rs is None or not rs.script.ok:
                return
            if any(f.name == "mount" and f"id={secret_id}" in (f.value or "") for f in run.flags):
                continue
            at = run.args_range.start
            export = f'export {name}="$(cat /run/secrets/{secret_id} 2>/dev/null)" && '
            edits.append(Edit.insert(at, f"--mount=type=secret,id={secret_id} {export}"))
        literal = any(d.literal for d in decls)
        leaks = [
            r for r in runs
            if re.search(_VAR_REF % (name, name), r.args) and re.search(r">\s*\S*(\.npmrc|pip\.conf|\.netrc|\.pypirc)", r.args)
            and not re.search(r"\brm\b[^&;|]*(\.npmrc|pip\.conf|\.netrc|\.pypirc)", r.args)
        ]
        expl = (
            f"{name} looks like a secret; {where} {'record' if len(kinds) > 1 else 'records'} it in the image "
            + ("config and history" if "ENV" in kinds else "history")
            + f" for anyone who pulls it. It now reaches {len(runs)} RUN(s) through a secret mount that never enters a layer. "
            f"Build with: docker build --secret id={secret_id},src=<file holding {name}> ."
        )
        if literal:
            expl += " Its value was written in the Dockerfile: treat it as leaked and rotate it."
        if leaks:
            expl += " A RUN writes it into a credentials file it does not delete in the same RUN: delete that file in the same RUN, or it stays in the layer."
        runtime_risk = "ENV" in kinds and not (_BUILD_TOOL_CREDENTIAL.match(name) or name in self._secret_by_use(stage))
        if runtime_risk:
            expl += f" If the app itself reads {name} when it runs, give it at run time instead (docker run -e, a secret store)."
        yield self.change(
            f"Pass {name} as a build secret, not {where}",
            expl,
            first,
            edits,
            Safety.UNSAFE if literal or runtime_risk else Safety.REVIEW,
        )
