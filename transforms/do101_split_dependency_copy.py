"""DO101 split-dependency-copy."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from dockeropt.analysis import leading_comment_start
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import CopyFacts, ImageModel, RunFacts, StageNode
from dockeropt.model.deps import (
    ContextView,
    DepInstall,
    ToolInstall,
    command_text,
    install_rule,
    is_prefetch,
    keeps_shell_state,
    read_install,
    source_free,
    tool_install,
)
from dockeropt.model.frontend import DIRECTIVE, mount_plan
from dockeropt.model.mounts import bind_flag, bind_target, bindable
from dockeropt.model.runs import Action
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import RunScript
from dockeropt.syntax import Dockerfile, Instruction

# instructions a moved install may pass without changing what it sees (WORKDIR is checked on its own)
_MOVABLE_PAST = {"ENV", "ARG", "USER", "SHELL", "LABEL", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "CMD", "ENTRYPOINT", "MAINTAINER"}
# instructions that may sit between a manifest COPY and its install without changing what a tool install sees
_STATELESS = {"LABEL", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "CMD", "ENTRYPOINT", "MAINTAINER"}


def _one_line(ins: Instruction) -> str:
    return " ".join(ins.line_text().split())


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _source_folder(m: ImageModel, cf: CopyFacts | None) -> str | None:
    """The build-context folder a COPY brings whole (``.`` for ``COPY . .``, ``app`` for ``COPY app/ .``), or None."""
    if cf is None or not cf.from_context or cf.heredoc or len(cf.sources) != 1 or not cf.dest_is_dir:
        return None
    src = cf.sources[0]
    if cf.is_remote(src) or "*" in src or "?" in src or "[" in src:
        return None
    norm = posixpath.normpath(src).lstrip("/") or "."
    if norm == ".":
        return "."
    if norm.startswith(".."):
        return None
    if src.endswith("/") or (m.context is not None and m.context.is_dir(norm)):
        return norm
    return None


def _relate(cwd: str | None, dest: str) -> str | None:
    """``cwd`` relative to the copy's destination ("" = the destination itself); None when outside or unknown."""
    if cwd is None:
        return None
    rel = posixpath.relpath(cwd, dest)
    if rel.startswith(".."):
        return None
    return "" if rel == "." else rel


@dataclass(frozen=True)
class _Found:
    run: Instruction
    facts: RunFacts
    action: Action
    inst: DepInstall
    view: ContextView


@register
class SplitDependencyCopy(Pass):
    """Install dependencies from their manifests before copying the source.

    What it does:
        When a stage copies the whole build context (`COPY . .`, `ADD .
        /app`) or a whole app folder (`COPY app/ .`) and only then installs
        dependencies, this pass copies just the dependency manifests first,
        runs the install, and copies the rest of the source after it.
        Instructions the install depends on (WORKDIR, ENV, ARG, USER, SHELL)
        keep their order relative to it. Layers follow how often they
        change: system packages and RUNs that never read the source stay
        first, tools a RUN installs before its dependency install
        (`pip install uv==0.4.18`, `npm i -g pnpm@9`, `corepack enable`)
        get their own layer before the manifests, then the manifests and the
        install, then the source. A RUN that installs and then builds (`npm
        ci && npm run build`) is split so only the install moves. For builds
        without a separate install (go build, mvn package, gradle build) it
        inserts a download step (`go mod download`, `mvn
        dependency:go-offline`, `gradle dependencies`). Where the manifests
        are already copied first but the RUN installs its tool in the same
        layer as the dependencies, the tool install moves before the
        manifest COPY, so a manifest edit no longer reinstalls the tool.

        Ecosystems: npm, yarn, pnpm, pip (requirement files named by -r/-c,
        nested ones included), poetry (--no-root), pipenv, uv
        (--no-install-project), go, bundler, composer (--no-scripts
        --no-autoloader, then dump-autoload), maven and gradle. Cargo needs a
        dummy-source build and is not handled yet. Heredoc and exec-form
        RUNs are read too: one that only installs moves as a whole.

        Only manifests that exist in the build context and are not excluded by
        .dockerignore are copied; without a context, only names the Dockerfile
        itself proves. Where the install needs the source (`pip install .`,
        `-e .`, `file:` dependencies, npm lifecycle scripts, path gems) it
        leaves the file alone and says why.

        npm, yarn and pnpm workspaces are split too: the workspace globs
        (package.json `workspaces`, as a list or as `{"packages": [...]}`, or
        the `packages` of pnpm-workspace.yaml, `!negations` included) are
        resolved against the build context (.dockerignore respected), and
        each package's package.json is copied to the same path before the
        install, one sorted COPY per package folder, after the root manifests
        (package.json, the lockfile, .npmrc, .yarnrc.yml, pnpm-workspace.yaml).
        `workspace:` dependencies between the packages are fine. It declines,
        naming the package, when a package runs an install lifecycle script,
        has a `bin` (the install links it to a file of the source), depends on
        a local `file:`/`link:` path, when a glob cannot be resolved, when
        there are more packages than the catalog's cap (32), or when the
        context holds a `node_modules` in the root or a package that
        .dockerignore does not exclude (the later `COPY . .` would put it over
        the installed one). Without a build context, workspaces cannot be
        seen and the install is handled as a single package (review).

        With the `bind-mount-style` setting (off by default), the install
        reads its manifests from bind mounts instead of a COPY layer, the
        style `docker init` generates:
        `RUN --mount=type=bind,source=package.json,target=package.json npm ci`
        (one `--mount` per manifest, lockfile included). Every manifest
        gets its own mount (each nested pip requirement file too), with the
        target where the install reads it (relative to WORKDIR). The later
        `COPY . .` still puts the manifests in the image. Only installs that
        never write their manifests are mounted (npm ci, yarn/pnpm with a
        frozen lockfile, pip -r, uv sync --locked/--frozen, go mod download),
        and only where the Dockerfile frontend has `RUN --mount`; the others
        keep the COPY, and the explanation says why.

    Why:
        Docker reuses a layer only while everything it depends on is
        unchanged. After `COPY . .`, any source edit invalidates the layer, so
        the dependency install runs again on every build. With the manifests
        copied first, the install layer stays cached until a manifest changes,
        which typically halves warm rebuild times; with the tool in its own
        layer, a manifest edit reruns only the dependency install.

    Example:
        # before
        WORKDIR /app
        COPY . .
        RUN npm ci && npm run build
        # after
        WORKDIR /app
        COPY package.json package-lock.json ./
        RUN npm ci
        COPY . .
        RUN npm run build

        # an npm workspace (package.json: "workspaces": ["packages/*"])
        COPY package.json package-lock.json ./
        COPY packages/api/package.json ./packages/api/
        COPY packages/shared/package.json ./packages/shared/
        RUN npm ci
        COPY . .

    Fix safety:
        Safe when the build context was checked: the install sees the same
        manifests, environment and working folder as before. Review when no
        context was known (lifecycle scripts could not be checked), when
        flags are added to the install (poetry --no-root, uv
        --no-install-project, composer --no-scripts --no-autoloader) or a
        download step is inserted for Maven or Gradle, and when a tool
        install moves to its own layer (an unpinned tool then stays at the
        version of its first build until that layer is rebuilt).
    """

    id = "DO101"
    name = "split-dependency-copy"
    messages = {
        "missing": Message(
            "{label} manifests not found in the build context",
            "The build context has no {path} (or .dockerignore excludes it), so the manifests were not split out. If "
            "the image is built from another folder, pass it with --context.",
        ),
        "blocker": Message(
            "{label} install needs the source; manifests not split",
            "{reason}, so the install cannot run before `{copy}`. Leave it, or make the install independent of the "
            "source to get a cached dependency layer.",
        ),
        "folder": Message(
            "{label} install runs in a folder dockeropt cannot relate to the copy",
            "The install's working folder could not be matched to the destination of the full copy (variables or an "
            "absolute `cd`), so the manifests were not split out.",
        ),
        "whole_run": Message(
            "{label} install shares its {form} RUN with other commands; manifests not split",
            "The RUN on line {line} installs with `{install}` but also runs `{other}`, and dockeropt does not split "
            "a {form} RUN. Put the install in a RUN of its own to get a cached dependency layer.",
        ),
        "prefetch": Message(
            "Fetch {label} dependencies before copying the source",
            "{verb} {shown} and runs `{prefetch}` before `{copy}`, so a source edit no longer downloads every "
            "dependency again; the download layer stays cached until a manifest changes.{detail} Check that the "
            "build still finds its dependencies offline in the cache.{bind}",
        ),
        "move": Message(
            "Copy {label} manifests and install before copying the source",
            "Copies {shown} first and runs `{install}` before `{copy}`, so editing the source no longer re-runs the "
            "dependency install: that layer stays cached until a manifest changes.{extra} Check: the install must "
            "not read other files from the build context.",
        ),
        "move_bind": Message(
            "Install {label} dependencies from bind-mounted manifests before copying the source",
            "Mounts {shown} first and runs `{install}` before `{copy}`, so editing the source no longer re-runs the "
            "dependency install: that layer stays cached until a manifest changes.{extra} Check: the install must "
            "not read other files from the build context.",
        ),
        "tools": Message(
            "Move `{tools}` to its own layer before the manifests",
            "`{tools}` ran in the same RUN as `{install}`, after `{copy}`, so every manifest edit installed the tool "
            "again. It now runs in its own RUN before the manifest copy, which stays cached until the tool line "
            "changes.{pin}",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        for node in m.graph.nodes:
            found = list(self._stage(m, node, ctx))
            if found:
                yield from found
                continue
            yield from self._tools_before_manifests(m, node)

    # ------------------------------------------------------------------ finding the install after the source copy

    def _stage(self, m: ImageModel, node: StageNode, ctx: PassContext) -> Iterable[Change]:
        body = node.stage.body
        for fi, full in enumerate(body):
            cf = m.copy(full)
            src_dir = _source_folder(m, cf)
            if src_dir is None or cf is None:
                continue
            if "$" in full.args:
                return
            dest = cf.dest.rstrip("/") or "/"
            for ins in body[fi + 1 :]:
                if ins.keyword == "RUN":
                    facts = m.run(ins)
                    found = self._find_install(m, node, full, cf, src_dir, ins, facts, ctx) if facts is not None else None
                    if found is not None:
                        yield from found
                        return
                    if facts is None or facts.script is None or not facts.script.ok:
                        return
                    home = m.state(ins).home
                    for a in facts.actions:  # all(source_free(...)), as a plain loop: every RUN after the copy
                        if not source_free(a, dest, home):
                            return
                elif ins.keyword not in _MOVABLE_PAST and ins.keyword != "WORKDIR":
                    return
            if src_dir == ".":
                return  # the whole context was copied and nothing installs from it

    def _find_install(
        self, m: ImageModel, node: StageNode, full: Instruction, cf: CopyFacts, src_dir: str, run: Instruction,
        facts: RunFacts, ctx: PassContext,
    ) -> list[Change] | None:
        if facts.script is None or not facts.script.ok:
            return None
        dest = cf.dest.rstrip("/") or "/"
        for a in facts.actions:
            if install_rule(a) is None:
                continue
            sub = _relate(a.cwd, dest)
            if sub is None and src_dir != ".":
                return None  # a folder copy that is not this install's project: not the source copy
            base = "" if src_dir == "." else src_dir
            view = ContextView(ctx.context, posixpath.normpath(posixpath.join(base, sub or "")) if (base or sub) else "")
            inst = read_install(a, view)
            if inst is None:
                continue
            if self._already_installed(m, node, full, inst):
                return []
            missing = inst.missing
            if missing is None and ctx.context is not None and sub is not None:
                missing = next((x for x in inst.manifests if "*" not in x and not view.exists(x)), None)
            if missing is not None:
                return [self.say("missing", run, label=inst.label, path=view.path(missing))]
            if inst.blocker:
                return [self.say("blocker", run, label=inst.label, reason=inst.blocker[0].upper() + inst.blocker[1:],
                                 copy=_one_line(full))]
            if sub is None:
                return [self.say("folder", run, label=inst.label)]
            if inst.mode == "prefetch" and any(
                i.keyword in ("ENV", "ARG", "WORKDIR", "USER", "SHELL") for i in node.stage.body if full.index < i.index < run.index
            ):
                return []
            return self._rewrite(m, node, full, cf, src_dir, _Found(run, facts, a, inst, view), ctx)
        return None

    def _already_installed(self, m: ImageModel, node: StageNode, full: Instruction, inst: DepInstall) -> bool:
        """The same ecosystem already installs from manifests earlier in the stage."""
        for ins, facts in m.stage_runs(node.index):
            if ins.index >= full.index:
                break
            for a in facts.actions:
                rule = install_rule(a)
                if (rule is not None and rule["label"] == inst.label) or is_prefetch(a) == inst.label:
                    return True
        return False

    # ------------------------------------------------------------------ what to copy

    def _manifest_copies(self, m: ImageModel, full: Instruction, cf: CopyFacts, src_dir: str, f: _Found) -> tuple[list[str], list[str]] | None:
        inst, view = f.inst, f.view
        files = list(inst.manifests)
        dirs: list[str] = []
        if view.context is not None:
            if any("*" not in x and not view.exists(x) for x in inst.manifests):
                return None
            files += [o for o in inst.optional if view.exists(o)]
            dirs = [d for d in inst.optional_dirs if view.is_dir(d)]
        flags = " ".join(fl.raw for fl in full.flags if fl.name in ("chown", "chmod", "link"))
        head = f"COPY {flags} " if flags else "COPY "
        written = full.words[-1]
        base = "" if src_dir == "." else src_dir

        def image_rel(context_path: str) -> str:
            return posixpath.relpath(context_path, base) if base else context_path

        def target(rel_dir: str) -> str:
            t = posixpath.join(written, rel_dir) if rel_dir else written
            return t if t.endswith("/") else t + "/"

        groups: dict[str, list[str]] = {}
        for x in files:
            path = view.path(x)
            groups.setdefault(posixpath.dirname(image_rel(path)), []).append(path)
        lines = [m.style.line(head + " ".join(paths) + " " + target(parent)) for parent, paths in groups.items()]
        for d in dirs:
            lines.append(m.style.line(head + view.path(d) + " " + target(image_rel(view.path(d)))))
        shown = [p for ps in groups.values() for p in ps] + [view.path(d) + "/" for d in dirs]
        return lines, shown

    def _bind_mounts(self, m: ImageModel, node: StageNode, full: Instruction, cf: CopyFacts, src_dir: str, f: _Found,
                     syntax_directive: bool) -> tuple[list[tuple[str, str]] | None, str]:
        """(source, target) bind mounts that give the install its manifests, or (None, why they are copied)."""
        inst, view = f.inst, f.view
        allowed, _directive = mount_plan(m.frontend, m.doc.directive("syntax") is not None, syntax_directive)
        if not allowed:
            return None, f"the build uses {m.frontend.label}, which has no `RUN --mount`"
        if not inst.bind_ok:
            return None, f"this {inst.label} install may rewrite its lockfile, and bind mounts are read-only"
        if any("*" in x for x in inst.manifests):
            return None, "without a build context the exact manifest files are not known"
        if full.flag("chown") or full.flag("chmod"):
            return None, "the copy sets ownership or modes the install may rely on"
        dest = cf.dest.rstrip("/") or "/"
        # the prefetch RUN goes right before the full copy; a moved install keeps its own place after `middle`
        run_wd = m.state(full).workdir if inst.mode == "prefetch" else m.state(f.run).workdir
        if run_wd is None:
            return None, "the install's folder is not known"
        names = list(inst.manifests)
        if view.context is not None:
            names += [o for o in inst.optional if view.exists(o)]
            names += [d for d in inst.optional_dirs if view.is_dir(d)]
        base = "" if src_dir == "." else src_dir
        mounts: list[tuple[str, str]] = []
        for name in names:
            src = view.path(name)
            rel = posixpath.relpath(src, base) if base else src
            tgt = bind_target(posixpath.join(dest, rel), run_wd)
            if not bindable(src) or not bindable(tgt):
                return None, f"`{src}` cannot be written in a --mount flag as it is"
            mounts.append((src, tgt))
        return (mounts, "") if mounts else (None, "")

    # ------------------------------------------------------------------ the rewrite

    def _rewrite(self, m: ImageModel, node: StageNode, full: Instruction, cf: CopyFacts, src_dir: str, f: _Found,
                 ctx: PassContext) -> list[Change]:
        nl = m.doc.newline
        inst = f.inst
        copies = self._manifest_copies(m, full, cf, src_dir, f)
        if copies is None:
            return []
        copy_lines, shown = copies
        mounts, why_copied = (self._bind_mounts(m, node, full, cf, src_dir, f, ctx.config.syntax_directive)
                              if ctx.config.bind_mount_style else (None, ""))
        directive = mount_plan(m.frontend, m.doc.directive("syntax") is not None, ctx.config.syntax_directive)[1]
        head: list[Edit] = [Edit.insert(1 if m.doc.bom else 0, DIRECTIVE + nl)] if mounts and directive else []
        bind_note = (
            " The manifests are bind-mounted for the install instead of copied into a layer (bind-mount-style); "
            f"`{_one_line(full)}` still puts them in the image."
            + (f" Added `{DIRECTIVE}` (syntax_directive) so the mounts use the current Dockerfile frontend." if head else "")
            if mounts else
            f" The manifests are copied, not bind-mounted (bind-mount-style): {why_copied}." if why_copied else ""
        )
        safety = Safety.REVIEW if inst.review else Safety.SAFE
        detail = f" {inst.detail}" if inst.detail else ""
        if inst.mode == "prefetch":
            assert inst.prefetch
            run_line = m.style.line(f"RUN {' '.join(bind_flag(s, t) for s, t in mounts)} {inst.prefetch}" if mounts else f"RUN {inst.prefetch}")
            new_lines = [run_line] if mounts else [*copy_lines, run_line]
            edits = [*head, Edit.insert(full.full_range.start, nl.join(new_lines) + nl)]
            return [self.say("prefetch", full, edits, safety, label=inst.label, verb="Mounts" if mounts else "Copies",
                             shown=", ".join(shown), prefetch=inst.prefetch, copy=_one_line(full), detail=detail, bind=bind_note)]
        rs = f.facts.editable
        if rs is None:
            out = self._move_whole(m, node, full, f, copy_lines, shown, mounts, bind_note, safety, detail)
        else:
            out = self._move(m, node, full, cf, f, rs, copy_lines, shown, mounts, bind_note, safety, detail)
        if head and out and out[0].fix is not None:
            out[0] = replace(out[0], fix=replace(out[0].fix, edits=(*head, *out[0].fix.edits)))
        return out

    def _move_whole(self, m: ImageModel, node: StageNode, full: Instruction, f: _Found, copy_lines: list[str],
                    shown: list[str], mounts: list[tuple[str, str]] | None, bind_note: str, safety: Safety, detail: str) -> list[Change]:
        """A heredoc or exec-form RUN: it moves as a whole when the install is all it does besides source-free commands."""
        doc = m.doc
        run, a, inst = f.run, f.action, f.inst
        form = "heredoc" if run.heredocs else "exec-form"
        dest = m.copy(full)
        assert dest is not None
        home = m.state(run).home
        others = [b for b in f.facts.actions if b is not a and not source_free(b, dest.dest.rstrip("/") or "/", home)]
        if others or inst.add_flags or inst.after_copy:
            other = command_text(others[0]) if others else command_text(a) + " " + " ".join(inst.add_flags)
            return [self.say("whole_run", run, label=inst.label, form=form, line=run.start_line, install=_short(command_text(a)),
                             other=_short(other))]
        if any(i.keyword == "WORKDIR" for i in node.stage.body if full.index < i.index < run.index) and not full.words[-1].startswith("/"):
            return []
        nl = doc.newline
        text = doc.text
        comment_start = leading_comment_start(full)
        run_text = text[run.range.start : run.range.end]
        if mounts:
            prefix_end = run.flags[0].range.start if run.flags else run.args_range.start
            run_text = text[run.range.start : prefix_end] + " ".join(bind_flag(s, t) for s, t in mounts) + " " + text[prefix_end : run.range.end]
        pieces = "" if mounts else "".join(x + nl for x in copy_lines)
        new = _layered(m, node, full, run, pieces) + run_text + nl + text[comment_start : full.full_range.start] + full.line_text()
        new += text[run.range.end : run.full_range.end]
        edits = [Edit.replace(comment_start, run.full_range.end, new)]
        key = "move_bind" if mounts else "move"
        return [self.say(key, full, edits, safety, label=inst.label, shown=", ".join(shown), install=_short(command_text(a)),
                         copy=_one_line(full), extra=detail + bind_note)]

    def _move(self, m: ImageModel, node: StageNode, full: Instruction, cf: CopyFacts, f: _Found, rs: RunScript,
              copy_lines: list[str], shown: list[str], mounts: list[tuple[str, str]] | None, bind_note: str,
              safety: Safety, detail: str) -> list[Change]:
        doc = m.doc
        nl = doc.newline
        text = doc.text
        run, a, inst = f.run, f.action, f.inst
        dest = cf.dest.rstrip("/") or "/"
        home = m.state(run).home
        script = rs.script
        items = script.items
        cmd = script.commands[a.index]
        k = cmd.item
        if not items[k].simple:
            return []
        if not full.words[-1].startswith("/") and any(
            i.keyword == "WORKDIR" for i in node.stage.body if full.index < i.index < run.index
        ):
            return []  # the full copy would land in another folder after the WORKDIR
        by_index = {x.index: x for x in f.facts.actions}
        for item in items[: k + 1]:
            for c in item.commands:
                if c != a.index and not source_free(by_index[c], dest, home):
                    return []
        # source-free commands right after the install (cache cleanup) belong to its layer
        while (k + 1 < len(items) and items[k + 1].simple and items[k + 1].op_before == "&&"
               and source_free(by_index[items[k + 1].commands[0]], dest, home)
               and not keeps_shell_state(by_index[items[k + 1].commands[0]])):
            k += 1
        rest_items = items[k + 1 :]
        if rest_items and rest_items[0].op_before != "&&":
            return []
        if any(it.op_before not in ("&&", None) for it in items[1 : k + 1]):
            return []
        run_prefix = text[run.range.start : run.args_range.start]
        # tools installed before the dependency install: their own layer before the manifests (issue 13)
        tools, tool_items = self._tool_prefix(rs, f, cmd.item, k, items, rest_items, by_index)
        first = items[tool_items] if tools else items[0]
        install_src = text[rs.physical(first.start, items[k].start).start : rs.physical(items[k].start, items[k].end).end]
        if inst.add_flags:
            cmd_range = rs.physical(cmd.start, cmd.end)
            before = text[rs.physical(first.start, first.start).start : cmd_range.start]
            after_cmd = text[cmd_range.end : rs.physical(items[k].start, items[k].end).end] if cmd.item < k else ""
            install_src = before + command_text(a) + " " + " ".join(inst.add_flags) + after_cmd
        moved_run = run_prefix + install_src
        if mounts:
            moved_run = run_prefix[:3] + " " + " ".join(bind_flag(s, t) for s, t in mounts) + run_prefix[3:] + install_src
        tool_run = None
        if tools:
            tool_run = run_prefix + text[rs.physical(items[0].start, items[0].end).start : rs.physical(items[tool_items - 1].start, items[tool_items - 1].end).end]
        rest_run = None
        if rest_items:
            rest_start = rs.physical(rest_items[0].start, rest_items[0].end).start
            # the rest ran in the folder earlier ``cd``s chose: keep them in front of it
            cds = [
                text[rs.physical(it.start, it.end).start : rs.physical(it.start, it.end).end]
                for it in items[: k + 1]
                if it.simple and by_index[it.commands[0]].command.name == "cd"
            ]
            rest_run = run_prefix + "".join(c + " && " for c in cds) + text[rest_start : run.range.end]
            # comment lines between the moved part and the rest stay, above the rest
            gap = text[rs.physical(items[k].start, items[k].end).end : rest_start]
            kept = [ln.strip() for ln in gap.splitlines() if ln.lstrip().startswith("#")]
            if kept:
                rest_run = nl.join(kept) + nl + rest_run
        middle = text[full.full_range.end : run.full_range.start]
        tail_eol = text[run.range.end : run.full_range.end]
        pieces = "" if mounts else "".join(x + nl for x in copy_lines)
        if tool_run is not None:
            pieces = tool_run + nl + pieces
        comment_start = leading_comment_start(full)
        comments = text[comment_start : full.full_range.start]
        if not pieces:
            # nothing takes the full copy's place: its blank-line separation would double up
            new = re.sub(r"^(?:[ \t]*\r?\n)+", "", middle) + moved_run
        else:
            new = _layered(m, node, full, run, pieces) + moved_run
        new += nl + comments + full.line_text()
        after = [m.style.line(f"RUN {c}") for c in inst.after_copy]
        if rest_run is not None:
            after.append(rest_run)
        for x in after:
            new += nl + x
        new += tail_eol
        edits = [Edit.replace(comment_start, run.full_range.end, new)]
        extra = (" The rest of the RUN stays after the source copy." if rest_run else "") + detail + bind_note
        if tools:
            extra += (f" `{_short(' '.join(command_text(t.action) for t in tools))}` runs in its own RUN before the manifests, "
                      "so a manifest edit does not install the tool again.")
            if not all(t.pinned for t in tools):
                extra += " Pin the tool's version so that cached layer holds the version you expect."
            safety = Safety.REVIEW
        key = "move_bind" if mounts else "move"
        return [self.say(key, full, edits, safety, label=inst.label, shown=", ".join(shown), install=_short(command_text(a)),
                         copy=_one_line(full), extra=extra)]

    def _tool_prefix(self, rs: RunScript, f: _Found, install_item: int, k: int, items: tuple, rest_items: tuple,
                     by_index: dict[int, Action]) -> tuple[list[ToolInstall], int]:
        """Tool installs that start the RUN before the dependency install (``pip install uv==0.4 && uv sync``):
        (the tools, how many leading items they fill). Empty when anything there sets shell state or something
        later removes what they installed."""
        tools: list[ToolInstall] = []
        n = 0
        for it in items[:install_item]:
            if not it.simple or (it.op_before not in (None, "&&")):
                break
            b = by_index[it.commands[0]]
            t = tool_install(b)
            if t is None:
                break
            tools.append(t)
            n += 1
        if not tools or n != install_item:
            return [], 0
        # nothing after them may undo them (a later remove or clean of the same manager)
        mgrs = {t.action.tool for t in tools}
        for it in items[install_item:]:
            for c in it.commands:
                b = by_index[c]
                if b.tool in mgrs and b.verb in ("remove", "clean", "prune"):
                    return [], 0
        return tools, n

    # ------------------------------------------------------------------ tools before an existing manifest copy

    def _tools_before_manifests(self, m: ImageModel, node: StageNode) -> Iterable[Change]:
        """``COPY pyproject.toml uv.lock ./`` then ``RUN pip install uv==0.4 && uv sync``: the tool moves before the COPY."""
        body = node.stage.body
        view = ContextView(m.context)  # immutable: one for every RUN
        for pos, run in enumerate(body):
            facts = m.run(run)
            if facts is None or facts.editable is None or pos == 0:
                continue
            rs = facts.editable
            copy = None  # the copy before the RUN first: most RUNs follow no manifest copy, so no install is read
            for j in range(pos - 1, -1, -1):  # no slice of the body per RUN: linear, not quadratic, in a long stage
                prev = body[j]
                if prev.keyword in _STATELESS:
                    continue
                copy = prev
                break
            cf = m.copy(copy) if copy is not None else None
            if copy is None or cf is None or not cf.from_context or cf.whole_context:
                continue
            found: tuple[Action, DepInstall] | None = None
            for a in facts.actions:  # the first action that is a dependency install (a plain loop: every RUN)
                got = read_install(a, view)
                if got is not None:
                    found = (a, got)
                    break
            if found is None or found[0].command.item == 0:
                continue
            items = rs.script.items
            by_index = {x.index: x for x in facts.actions}
            install, inst = found
            if inst.blocker:
                continue
            known = {posixpath.basename(x) for x in (*inst.manifests, *inst.optional)}
            if not all(posixpath.basename(posixpath.normpath(s)) in known or any(
                    ch in s for ch in "*?[") for s in cf.sources):
                continue  # not the manifest copy of this install
            tools, n = self._tool_prefix(rs, _Found(run, facts, install, inst, ContextView(m.context)), install.command.item,
                                         install.command.item, items, (), by_index)
            if not tools or items[n].op_before != "&&":
                continue
            doc = m.doc
            text = doc.text
            nl = doc.newline
            run_prefix = text[run.range.start : run.args_range.start]
            if any(fl.name == "mount" for fl in run.flags):
                # the tool install would need the same mounts (a cache, a secret): keep the flags on both RUNs
                pass
            tool_src = text[rs.physical(items[0].start, items[0].end).start : rs.physical(items[n - 1].start, items[n - 1].end).end]
            rest_start = rs.physical(items[n].start, items[n].end).start
            comment_start = leading_comment_start(copy)
            edits = [
                Edit.insert(comment_start, run_prefix + tool_src + nl),
                Edit.delete(rs.physical(items[0].start, items[0].end).start, rest_start),
            ]
            names = " ".join(command_text(t.action) for t in tools)
            pin = "" if all(t.pinned for t in tools) else " Pin the tool's version so that cached layer holds the version you expect."
            yield self.say("tools", run, edits, Safety.REVIEW, tools=_short(names), install=_short(command_text(install)),
                           copy=_one_line(copy), pin=pin)
            return


def _layered(m: ImageModel, node: StageNode, full: Instruction, run: Instruction, pieces: str) -> str:
    """The text between the full copy and the RUN with the manifest copies (``pieces``) placed in it.

    Instructions that were between the two (system packages and other RUNs that never read the source) stay
    first, so a manifest edit does not rerun them; the RUN's own comments stay above it. With a WORKDIR among
    them the copies come first, as written before (their destination is relative to the folder in effect).
    """
    text = m.doc.text
    middle = text[full.full_range.end : run.full_range.start]
    between = [i for i in node.stage.body if full.index < i.index < run.index]
    runs = [i for i in between if i.keyword == "RUN"]
    if not pieces or not runs or any(i.keyword == "WORKDIR" for i in between):
        return pieces + middle
    cut = runs[-1].full_range.end
    return text[full.full_range.end : cut] + pieces + text[cut : run.full_range.start]
