"""DO107 npm-install."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel, RunFacts
from dockeropt.model.project import (
    BuildStep,
    build_step,
    lock_mismatch,
    node_data,
    node_major,
    node_project,
    yarn_flavour,
)
from dockeropt.model.runs import Action
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import RunScript, Word
from dockeropt.syntax import Dockerfile, Instruction


def _node_install(a: Action) -> bool:
    return a.ecosystem == "node" and a.manager is not None and a.verb in ("install", "ci", "add")


def _installs_manifest(a: Action) -> bool:
    """An npm/yarn/pnpm command that installs the project's manifest dependencies (no named packages)."""
    return _node_install(a) and a.verb != "add" and not a.packages and not _unknown(a)


def _yarn(a: Action) -> bool:
    return a.manager is not None and a.manager.variant_of == "yarn"


def _unknown(a: Action) -> bool:
    return any(w.value is None for w in a.command.effective()[1:])


def _has(a: Action, names: Iterable[str]) -> bool:
    return any(f in names or f.split("=", 1)[0] in names for f in a.flags)


def _replace_word(rs: RunScript, word: Word, text: str) -> Edit | None:
    """Replace ``word``; None when the word spans a line continuation."""
    if not rs.instruction.logical.is_contiguous(rs.base + word.start, rs.base + word.end):
        return None
    r = rs.physical(word.start, word.end)
    return Edit.replace(r.start, r.end, text)


def _delete_word(rs: RunScript, w: Word) -> Edit | None:
    """Delete a word and the blank before it (same physical line only)."""
    text = rs.script.text
    start = w.start
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    if not rs.instruction.logical.is_contiguous(rs.base + start, rs.base + w.end):
        return None
    r = rs.physical(start, w.end)
    return Edit.delete(r.start, r.end)


def _insert_after(rs: RunScript, word: Word, text: str) -> Edit:
    return Edit.insert(rs.physical(word.start, word.end).end, " " + text)


def _label(a: Action) -> str:
    return " ".join(w.text for w in a.command.effective()[:2])


def _sub_word(a: Action) -> Word | None:
    """The subcommand word (install, i, ci); None for a bare ``yarn``."""
    inv = a.invocation
    if inv is None or not inv.subcommand:
        return None
    return inv.subcommand_end


@register
class NpmInstall(Pass):
    """Use reproducible npm installs and keep devDependencies available to build steps.

    What it does:
        * `npm install` (no package names) becomes `npm ci`, only when a
          package-lock.json or npm-shrinkwrap.json exists in the build
          context, is not excluded by .dockerignore, is copied into the
          install's folder before the RUN, and its root entry records the
          same dependencies, devDependencies and optionalDependencies as
          package.json (lockfileVersion 1: every dependency of package.json
          is locked, as a devDependency when it is one). A version-3
          lockfile also needs a node base image known to ship npm 7 or
          later. Otherwise `npm install` stays and a note says why.
        * `--production`, `--only=production` and `--only=prod` become
          `--omit=dev` on node base images that ship npm 7 or later.
        * When NODE_ENV=production (an ENV, an ARG default, or a
          `NODE_ENV=production` prefix) makes an npm, yarn (classic) or pnpm
          install skip devDependencies but a later build step in the stage
          (`npm run build`, `npx tsc`, `yarn build`, ...) runs a tool that
          package.json lists only in devDependencies, the install gets
          `--include=dev` (npm 7+), `--production=false` (npm 6, yarn
          classic) or `--prod=false` (pnpm). NODE_ENV stays as it is, so the
          build and the app still see production. Without a build context
          to prove it, a note.

    Why:
        `npm ci` installs exactly what the lockfile records, fails instead of
        silently resolving new versions, and is faster than `npm install`.
        But it refuses a lockfile that is out of sync with package.json
        ("npm ci can only install packages when your package.json and
        package-lock.json are in sync"), so dockeropt only switches when the
        two agree. `--production` is deprecated since npm 7 and warns on
        every build. NODE_ENV=production before the install is a classic
        broken build: the build tool (tsc, vite, next, webpack) is a
        devDependency, so the build fails with `tsc: not found`.

    Example:
        # before
        COPY package.json package-lock.json ./
        RUN npm install --production
        # after
        COPY package.json package-lock.json ./
        RUN npm ci --omit=dev

    Fix safety:
        `install` to `ci` is review: `npm ci` deletes an existing
        node_modules first (dockeropt does not switch after an earlier
        install of named packages), and it checks every transitive range,
        where dockeropt compares the root dependencies. `--omit=dev` is
        safe: the same packages are installed. Adding devDependencies for a
        build is review: the image now also holds devDependencies unless
        they are pruned after the build (`npm prune --omit=dev`) or the
        build moves to its own stage; moving the ENV after the build instead
        would change what NODE_ENV the build itself sees.
    """

    id = "DO107"
    name = "npm-install"
    messages = {
        "lock_not_copied": Message(
            "{lock} is not copied before npm install",
            "The build context has {lock}, but it is not copied into {cwd} before this RUN, so `npm install` resolves "
            "versions afresh. Copy it with package.json to use `npm ci`.",
        ),
        "kept": Message(
            "`npm install` kept: lockfile not usable by `npm ci`",
            "{lock} is copied before this RUN, but {why}; `npm ci` could fail, so `npm install` stays.{advice}",
        ),
        "ci": Message(
            "Use npm ci instead of npm install",
            "{lock} is copied before this RUN, so `npm ci` installs exactly the locked versions instead of resolving "
            "new ones, and is faster. Check: `npm ci` deletes an existing node_modules first and fails when the "
            "lockfile is out of sync with package.json; keep the lockfile committed and current.",
        ),
        "omit_dev": Message(
            "Replace {flag} with --omit=dev",
            "`{flag}` is deprecated since npm 7 and prints a warning on every build; `--omit=dev` installs the same "
            "packages (dependencies without devDependencies).",
        ),
        "node_env_note": Message(
            "NODE_ENV=production may leave the build without its tools",
            "{source} makes `{install}` skip devDependencies, and `{step}` ({where}) looks like a build step that "
            "usually needs them. dockeropt could not check package.json or the tool version; if the build fails with "
            "'not found', install devDependencies for the build or set NODE_ENV after it.",
        ),
        "node_env": Message(
            "Install devDependencies for the build ({flag})",
            "{source} makes this install skip devDependencies, but `{step}` ({where}) runs `{tool}` from {package}, "
            "which package.json lists only in devDependencies, so the build fails with `{tool}: not found`. Added "
            "`{flag}`; NODE_ENV stays production for the build and at runtime. The image now keeps devDependencies: "
            "prune them after the build or build in a separate stage.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        for node in m.graph.nodes:
            major = node_major(node.image)
            runs = list(m.stage_runs(node.index))
            for pos, (ins, facts) in enumerate(runs):
                rs = facts.editable
                if rs is None:
                    continue
                for a in facts.actions:
                    if a.tool == "npm" and a.verb in ("install", "ci") and not _unknown(a):
                        if not a.packages:
                            yield from self._ci(m, ins, rs, facts, a, major)
                        yield from self._omit_dev(rs, ins, a, major)
                    if _installs_manifest(a):
                        yield from self._node_env(m, runs, pos, rs, a, major)

    # ---------------------------------------------------------------- install -> ci
    def _ci(self, m: ImageModel, ins: Instruction, rs: RunScript, facts: RunFacts, a: Action, major: int | None) -> Iterable[Change]:
        data = node_data()
        if a.verb != "install" or a.command.cwd == "?" or _has(a, data["ci_blocking_flags"]):
            return
        if self._adds_packages_before(m, ins, a):
            return  # npm ci would delete packages an earlier command added to node_modules
        proj = node_project(m, ins, a)
        if proj is None or proj.package_json is None:
            return
        lock_name = "npm-shrinkwrap.json" if "npm-shrinkwrap.json" in proj.locks else "package-lock.json"
        lock_src = proj.locks.get(lock_name)
        bc = m.context
        assert bc is not None
        if lock_src is None:
            folder = posixpath.dirname(proj.package_json_path or "")
            in_ctx = [n for n in ("package-lock.json", "npm-shrinkwrap.json") if proj.package_json_path and bc.is_file(posixpath.join(folder, n))]
            if in_ctx:
                yield self.say("lock_not_copied", ins, lock=in_ctx[0], cwd=proj.cwd)
            return
        npmrc = bc.read_text(proj.locks[".npmrc"]) if ".npmrc" in proj.locks else None
        if npmrc is not None and "package-lock" in npmrc:
            return
        lock_text = bc.read_text(lock_src)
        try:
            lock = json.loads(lock_text or "")
        except ValueError:
            lock = None
        why = "it is not valid JSON" if not isinstance(lock, dict) else lock_mismatch(proj.package_json, lock)
        if why is None and isinstance(lock, dict):
            version = lock.get("lockfileVersion")
            if isinstance(version, int) and version >= 3 and (major is None or major < data["npm7_from_node"]):
                why = "it is a version-3 lockfile and the base image is not known to ship npm 7 or later"
        if why is not None:
            advice = (" Regenerate the lockfile with `npm install` and commit it to switch to `npm ci`."
                      if any(w in why for w in ("differ", "missing", "Dependency", "dependency")) else "")
            yield self.say("kept", ins, lock=lock_name, why=why, advice=advice)
            return
        sub = _sub_word(a)
        edit = _replace_word(rs, sub, "ci") if sub is not None else None
        if edit is None:
            return
        yield self.say("ci", ins, [edit], Safety.REVIEW, lock=lock_name)

    @staticmethod
    def _adds_packages_before(m: ImageModel, ins: Instruction, a: Action) -> bool:
        """An earlier command of the stage installs named packages locally (``npm install foo``)."""
        for other, facts in m.stage_runs(ins.stage_index):
            if other.index > ins.index:
                break
            for prior in facts.actions:
                if other.index == ins.index and prior.index >= a.index:
                    break
                if _node_install(prior) and (prior.packages or _unknown(prior)):
                    return True
        return False

    # ---------------------------------------------------------------- --production -> --omit=dev
    def _omit_dev(self, rs: RunScript, ins: Instruction, a: Action, major: int | None) -> Iterable[Change]:
        data = node_data()
        eff = a.command.effective()
        words = [w for w in eff[1:] if w.value in data["production_flags"]]
        if not words or a.has_flag("--omit", "--include"):
            return
        if major is None or major < data["npm7_from_node"]:
            return
        edits: list[Edit] = []
        for i, w in enumerate(words):
            e = _replace_word(rs, w, "--omit=dev") if i == 0 else _delete_word(rs, w)
            if e is None:
                return
            edits.append(e)
        yield self.say("omit_dev", ins, edits, Safety.SAFE, flag=words[0].value)

    # ---------------------------------------------------------------- NODE_ENV=production before a build
    def _node_env(self, m: ImageModel, runs: list[tuple[Instruction, RunFacts]], pos: int, rs: RunScript, a: Action,
                  major: int | None) -> Iterable[Change]:
        ins = runs[pos][0]
        data = node_data()
        prefix = next((w for w in a.command.assignments if w.text.startswith("NODE_ENV=")), None)
        if prefix is not None:
            if prefix.value is None or prefix.text.split("=", 1)[1].strip("'\"") != "production":
                return
            source = "The `NODE_ENV=production` prefix"
        else:
            var = a.env.get("NODE_ENV")
            if var is None or var.value != "production" or var.instruction is None:
                return
            setter = m.doc.instructions[var.instruction]
            source = f"`{setter.keyword} NODE_ENV=production` (line {setter.start_line})"
        if any(f in data["includes_dev_flags"] for f in a.flags) or any(
                f in (*data["production_flags"], *data["explicit_prod_flags"]) for f in a.flags) or a.has_flag("--omit"):
            return
        proj = node_project(m, ins, a)
        pkg = proj.package_json if proj is not None else None
        flavour = yarn_flavour(proj, m.context) if _yarn(a) else None
        if _yarn(a) and flavour == "berry":
            return  # yarn 2+ installs devDependencies whatever NODE_ENV says
        step = self._later_build(runs, pos, a, pkg)
        if step is None:
            return
        flag = self._dev_flag(a, major, flavour)
        where = f"line {step.ins.start_line}" if step.ins is not ins else "the same RUN"
        if pkg is None or step.package is None or flag is None:
            yield self.say("node_env_note", ins, source=source, install=_label(a), step=step.label, where=where)
            return
        assert step.tool is not None
        anchor = _sub_word(a) or a.command.effective()[0]
        yield self.say("node_env", ins, [_insert_after(rs, anchor, flag)], Safety.REVIEW, source=source,
                       step=step.label, where=where, tool=step.tool, package=step.package, flag=flag)

    @staticmethod
    def _later_build(runs: list[tuple[Instruction, RunFacts]], pos: int, a: Action, pkg: dict | None) -> BuildStep | None:  # type: ignore[type-arg]
        for other, facts in runs[pos:]:
            for b in facts.actions:
                if other is runs[pos][0] and b.index <= a.index:
                    continue
                step = build_step(b, other, pkg)
                if step is not None:
                    return step
        return None

    @staticmethod
    def _dev_flag(a: Action, major: int | None, flavour: str | None) -> str | None:
        flags = node_data()["dev_flag"]
        if a.tool == "npm":
            if major is None:
                return None
            return str(flags["npm"] if major >= node_data()["npm7_from_node"] else flags["npm6"])
        if _yarn(a):
            return str(flags["yarn-classic"]) if flavour == "classic" else None
        if a.tool == "pnpm":
            return str(flags["pnpm"])
        return None

