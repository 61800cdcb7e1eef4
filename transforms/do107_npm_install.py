"""DO107 npm-install."""

from __future__ import annotations

import json
from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import RunScript
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._hygiene import (
    env_before,
    insert_after,
    node_major,
    parsed_run,
    replace_word,
    stage_runs,
)
from dockeropt.transforms._node import NodeInstall, Project, build_step, node_install, project_at, yarn_flavour

_PROD_FLAGS = ("--production", "--production=true", "--only=production", "--only=prod")
_NO_LOCK = ("--no-package-lock", "--package-lock=false", "--package-lock-only", "--no-shrinkwrap", "-g", "--global",
            "--prefix", "-w", "--workspace", "--workspaces", "--location", "--lockfile-version")


def _lock_in_sync(pkg: dict, lock: dict) -> str | None:  # type: ignore[type-arg]
    """None when the lockfile records package.json's dependencies; else why not."""
    version = lock.get("lockfileVersion")
    sections = ("dependencies", "devDependencies", "optionalDependencies")
    if isinstance(version, int) and version >= 2:
        root = (lock.get("packages") or {}).get("")
        if not isinstance(root, dict):
            return "the lockfile has no entry for the root package"
        for s in sections:
            want = pkg.get(s) or {}
            have = root.get(s) or {}
            if want != have:
                return f"its {s} differ from package.json's"
        return None
    if version == 1:
        locked = lock.get("dependencies") or {}
        for s in sections:
            for name in pkg.get(s) or {}:
                if name not in locked:
                    return f"'{name}' from package.json is missing from it"
        return None
    return "its lockfileVersion is not one dockeropt knows"


@register
class NpmInstall(Pass):
    """Use reproducible npm installs and keep devDependencies available to build steps.

    What it does:
        * `npm install` (no package names) becomes `npm ci`, only when a
          package-lock.json or npm-shrinkwrap.json exists in the build
          context, is not excluded by .dockerignore, is copied into the
          install's folder before the RUN, and records the same dependencies
          as package.json. A version-3 lockfile also needs a node base image
          known to ship npm 7 or later.
        * `--production`, `--only=production` and `--only=prod` become
          `--omit=dev` on node base images that ship npm 7 or later.
        * When `ENV NODE_ENV=production` (or a `NODE_ENV=production` prefix)
          makes an npm, yarn (classic) or pnpm install skip devDependencies
          but a later build step in the stage (`npm run build`, `npx tsc`,
          `yarn build`, ...) runs a tool that package.json lists only in
          devDependencies, the install gets `--include=dev` (npm 7+),
          `--production=false` (npm 6, yarn classic) or `--prod=false`
          (pnpm). NODE_ENV stays as it is, so the build and the app still
          see production. Without a build context to prove it, a note.

    Why:
        `npm ci` installs exactly what the lockfile records, fails instead of
        silently resolving new versions, and is faster than `npm install`.
        `--production` is deprecated since npm 7 and warns on every build.
        NODE_ENV=production before the install is a classic broken build:
        the build tool (tsc, vite, next, webpack) is a devDependency, so the
        build fails with `tsc: not found`.

    Example:
        # before
        COPY package.json package-lock.json ./
        RUN npm install --production
        # after
        COPY package.json package-lock.json ./
        RUN npm ci --omit=dev

    Fix safety:
        `install` to `ci` is review: `npm ci` deletes an existing
        node_modules first and fails when the lockfile is out of sync with
        package.json (dockeropt checks the root dependencies, not every
        transitive range). `--omit=dev` is safe: the same packages are
        installed. Adding devDependencies for a build is review: the image
        now also holds devDependencies unless they are pruned after the
        build (`npm prune --omit=dev`) or the build moves to its own stage;
        moving the ENV after the build instead would change what NODE_ENV
        the build itself sees.
    """

    id = "DO107"
    name = "npm-install"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for stage in doc.stages:
            major = node_major(doc, stage)
            for ins, rs in stage_runs(stage):
                for cmd in rs.script.commands:
                    inst = node_install(cmd)
                    if inst is None:
                        continue
                    if inst.tool == "npm":
                        yield from self._ci(doc, stage, ins, rs, inst, ctx, major)
                        yield from self._omit_dev(ins, rs, inst, major)
                    yield from self._node_env(doc, stage, ins, rs, inst, ctx, major)

    # ---------------------------------------------------------------- install -> ci
    def _ci(
        self, doc: Dockerfile, stage: Stage, ins: Instruction, rs: RunScript, inst: NodeInstall,
        ctx: PassContext, major: int | None,
    ) -> Iterable[Change]:
        if inst.verb not in ("install", "i", "isntall") or inst.positionals or inst.unknown:
            return
        if inst.has(*_NO_LOCK) or inst.cmd.cwd == "?":
            return
        if _adds_packages_before(stage, ins, inst):
            return  # npm ci would delete packages an earlier command added to node_modules
        proj = project_at(doc, stage, ins, inst.cmd, ctx)
        if proj is None or proj.package_json is None:
            return
        lock_name = "npm-shrinkwrap.json" if "npm-shrinkwrap.json" in proj.locks else "package-lock.json"
        lock_src = proj.locks.get(lock_name)
        bc = ctx.context
        assert bc is not None
        if lock_src is None:
            in_ctx = [n for n in ("package-lock.json", "npm-shrinkwrap.json") if proj.package_json_path and bc.is_file(_sibling(proj.package_json_path, n))]
            if in_ctx:
                yield self.change(
                    f"{in_ctx[0]} is not copied before npm install",
                    f"The build context has {in_ctx[0]}, but it is not copied into {proj.cwd} before this RUN, so "
                    "`npm install` resolves versions afresh. Copy it with package.json to use `npm ci`.",
                    ins,
                )
            return
        npmrc = bc.read_text(proj.locks[".npmrc"]) if ".npmrc" in proj.locks else None
        if npmrc is not None and "package-lock" in npmrc:
            return
        lock_text = bc.read_text(lock_src)
        try:
            lock = json.loads(lock_text or "")
        except ValueError:
            lock = None
        why = "it is not valid JSON" if not isinstance(lock, dict) else _lock_in_sync(proj.package_json, lock)
        if why is None and isinstance(lock, dict):
            version = lock.get("lockfileVersion")
            if isinstance(version, int) and version >= 3 and (major is None or major < 15):
                why = "it is a version-3 lockfile and the base image is not known to ship npm 7 or later"
        if why is not None:
            yield self.change(
                "npm install kept: lockfile not usable by npm ci",
                f"{lock_name} is copied before this RUN, but {why}; `npm ci` could fail, so `npm install` stays."
                + (" Regenerate the lockfile with `npm install` and commit it to switch to `npm ci`." if "differ" in why or "missing" in why else ""),
                ins,
            )
            return
        assert inst.sub is not None
        edit = replace_word(rs, inst.sub, "ci")
        if edit is None:
            return
        yield self.change(
            "Use npm ci instead of npm install",
            f"{lock_name} is copied before this RUN, so `npm ci` installs exactly the locked versions instead of "
            "resolving new ones, and is faster. Check: `npm ci` deletes an existing node_modules first and fails "
            "when the lockfile is out of sync with package.json; keep the lockfile committed and current.",
            ins,
            [edit],
            Safety.REVIEW,
        )

    # ---------------------------------------------------------------- --production -> --omit=dev
    def _omit_dev(self, ins: Instruction, rs: RunScript, inst: NodeInstall, major: int | None) -> Iterable[Change]:
        if inst.verb not in ("install", "i", "isntall", "ci", "clean-install"):
            return
        words = [w for w in inst.flags if w.value in _PROD_FLAGS]
        if not words or inst.has("--omit", "--include"):
            return
        if major is None or major < 15:
            return
        edits: list[Edit] = []
        for i, w in enumerate(words):
            e = replace_word(rs, w, "--omit=dev") if i == 0 else _delete_word(rs, w)
            if e is None:
                return
            edits.append(e)
        yield self.change(
            f"Replace {words[0].value} with --omit=dev",
            f"`{words[0].value}` is deprecated since npm 7 and prints a warning on every build; `--omit=dev` "
            "installs the same packages (dependencies without devDependencies).",
            ins,
            edits,
            Safety.SAFE,
        )

    # ---------------------------------------------------------------- NODE_ENV=production before a build
    def _node_env(
        self, doc: Dockerfile, stage: Stage, ins: Instruction, rs: RunScript, inst: NodeInstall,
        ctx: PassContext, major: int | None,
    ) -> Iterable[Change]:
        if inst.tool == "npm" and inst.verb not in ("install", "i", "isntall", "ci", "clean-install"):
            return
        if inst.positionals:
            return
        prefix = next((a for a in inst.cmd.assignments if a.text.startswith("NODE_ENV=")), None)
        if prefix is not None:
            if prefix.value is None or prefix.text.split("=", 1)[1].strip("'\"") != "production":
                return
            source = "The `NODE_ENV=production` prefix"
        else:
            is_set, value, env_ins = env_before(stage, ins, "NODE_ENV")
            if not is_set or value != "production" or env_ins is None:
                return
            source = f"`ENV NODE_ENV=production` (line {env_ins.start_line})"
        if _includes_dev(inst) or _explicit_prod(inst):
            return
        proj = project_at(doc, stage, ins, inst.cmd, ctx)
        pkg = proj.package_json if proj is not None else None
        if inst.tool == "yarn":
            flavour = yarn_flavour(proj, ctx)
            if flavour == "berry":
                return  # yarn 2+ installs devDependencies whatever NODE_ENV says
        step = self._later_build(stage, ins, rs, inst, pkg)
        if step is None:
            return
        flag = self._dev_flag(inst, major, proj, ctx)
        where = f"line {step.ins.start_line}" if step.ins is not ins else "the same RUN"
        if pkg is None or step.package is None or flag is None:
            yield self.change(
                "NODE_ENV=production may leave the build without its tools",
                f"{source} makes `{_label(inst)}` skip devDependencies, and `{step.label}` ({where}) looks like a "
                "build step that usually needs them. dockeropt could not check package.json or the tool version; if "
                "the build fails with 'not found', install devDependencies for the build or set NODE_ENV after it.",
                ins,
            )
            return
        assert step.tool is not None
        anchor = inst.sub if inst.sub is not None else inst.cmd.effective()[0]
        edit = insert_after(rs, anchor, flag)
        yield self.change(
            f"Install devDependencies for the build ({flag})",
            f"{source} makes this install skip devDependencies, but `{step.label}` ({where}) runs `{step.tool}` "
            f"from {step.package}, which package.json lists only in devDependencies, so the build fails with "
            f"`{step.tool}: not found`. Added `{flag}`; NODE_ENV stays production for the build and at runtime. "
            "The image now keeps devDependencies: prune them after the build or build in a separate stage.",
            ins,
            [edit],
            Safety.REVIEW,
        )

    def _later_build(self, stage: Stage, ins: Instruction, rs: RunScript, inst: NodeInstall, pkg: dict | None):  # type: ignore[no-untyped-def, type-arg]
        started = False
        for other in stage.body:
            if other.index < ins.index:
                continue
            ors = rs if other is ins else None
            if ors is None:
                ors = parsed_run(other)
            if ors is None:
                continue
            for c in ors.script.commands:
                if other is ins and not started:
                    if c is inst.cmd:
                        started = True
                    continue
                step = build_step(c, other, pkg)
                if step is not None:
                    return step
            started = True
        return None

    def _dev_flag(self, inst: NodeInstall, major: int | None, proj: Project | None, ctx: PassContext) -> str | None:
        if inst.tool == "npm":
            if major is None:
                return None
            return "--include=dev" if major >= 15 else "--production=false"
        if inst.tool == "yarn":
            return "--production=false" if yarn_flavour(proj, ctx) == "classic" else None
        if inst.tool == "pnpm":
            return "--prod=false"
        return None


def _includes_dev(inst: NodeInstall) -> bool:
    vals = inst.flag_values()
    return any(
        v in ("--include=dev", "--production=false", "--prod=false", "--dev", "-D", "--also=dev", "--also=development")
        for v in vals
    )


def _explicit_prod(inst: NodeInstall) -> bool:
    vals = inst.flag_values()
    return any(v in (*_PROD_FLAGS, "--omit=dev", "--prod", "-P") for v in vals) or inst.has("--omit")


def _sibling(path: str, name: str) -> str:
    import posixpath

    return posixpath.join(posixpath.dirname(path), name)


def _delete_word(rs: RunScript, w) -> Edit | None:  # type: ignore[no-untyped-def]
    """Delete a word and the blank before it (same physical line only)."""
    text = rs.script.text
    start = w.start
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    if not rs.instruction.logical.is_contiguous(rs.base + start, rs.base + w.end):
        return None
    r = rs.physical(start, w.end)
    return Edit.delete(r.start, r.end)


def _label(inst: NodeInstall) -> str:
    return " ".join(w.text for w in inst.cmd.effective()[:2])


def _adds_packages_before(stage: Stage, ins: Instruction, inst: NodeInstall) -> bool:
    """An earlier command of the stage installs named packages locally (``npm install foo``)."""
    for other in stage.body:
        if other.index > ins.index:
            break
        rs = parsed_run(other)
        if rs is None:
            continue
        for c in rs.script.commands:
            if c is inst.cmd or (other is ins and c.start >= inst.cmd.start):
                break
            prior = node_install(c)
            if prior is not None and (prior.positionals or prior.unknown) and not prior.has("-g", "--global", "--location"):
                return True
    return False
