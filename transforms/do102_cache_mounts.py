"""DO102 cache-mounts."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dockeropt.catalog import Manager
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel, RunFacts
from dockeropt.model.caches import cache_clean, cache_folders, cache_home, cache_user, covered, env_values, tool_mount
from dockeropt.model.deps import ContextView, read_install
from dockeropt.model.frontend import DIRECTIVE, mount_plan
from dockeropt.model.mounts import bind_flag, bind_target, bindable, cache_flag
from dockeropt.model.runs import Action
from dockeropt.model.users import User
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import RunScript, Word
from dockeropt.syntax import Dockerfile, Instruction


@dataclass(frozen=True)
class Target:
    path: str
    sharing: str
    manager: Manager
    what: str


@dataclass
class Plan:
    """The cache mounts one RUN can get, before the stage-family check."""

    targets: list[Target] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)  # commands whose caches get mounted
    user: User | None = None
    notes: dict[str, str] = field(default_factory=dict)  # manager id -> why it is not mounted ("label: reason")
    setup: list[tuple[str, ...]] = field(default_factory=list)  # commands a mounted tool needs first (apt's docker-clean)
    mounted: bool = False  # some tool already has a cache mount on this RUN


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _creates_root_owned_parents(path: str, home: str | None) -> bool:
    """Would a mount at ``path`` make BuildKit create folders (root-owned) between HOME and it?"""
    if home is None or not _under(path, home):
        return False
    return "/" in posixpath.relpath(path, home)


class _Planner:
    """Per-RUN plans and the stage-family checks of one document (each computed once)."""

    def __init__(self, m: ImageModel, ctx: PassContext) -> None:
        self.m = m
        self.ctx = ctx
        self._plans: dict[int, Plan | None] = {}
        self._family: dict[tuple[int, str], list[tuple[int, str, str]]] = {}
        self._copies: list[tuple[Instruction, list[str]]] | None = None
        self._configs: dict[tuple[int, str], list[Instruction]] = {}
        self._lists: dict[tuple[int, str], str | None] = {}

    # ---------------------------------------------------------------- one RUN

    def plan(self, ins: Instruction) -> Plan | None:
        if ins.index not in self._plans:
            self._plans[ins.index] = self._plan(ins)
        return self._plans[ins.index]

    def _plan(self, ins: Instruction) -> Plan | None:
        facts = self.m.run(ins)
        if facts is None or facts.editable is None:
            return None
        state = self.m.state(ins)
        plan = Plan(user=state.user)
        seen: set[str] = set()
        for a in facts.actions:
            inv = a.invocation
            if inv is None:
                continue
            mgr = inv.manager
            if not mgr.mount or not inv.downloads:
                continue
            folders = cache_folders(a)
            if facts.mounts and tool_mount(facts.mounts, folders) is not None:
                plan.mounted = True
                continue  # the tool already has its own cache mount here: never a second or overlapping one
            reason = self._skip_reason(ins, facts, a, state.user)
            if reason is None:
                for f in folders:
                    if f.path is None:
                        reason = "its cache folder depends on a value dockeropt cannot know"
                        break
            user = cache_user(a)
            home = cache_home(a)
            if reason is None and user.is_root is not True and any(
                    _creates_root_owned_parents(f.path, home) for f in folders if f.path):
                reason = (f"the mount would leave a root-owned folder under {home} in the image, "
                          f"which user {user.name} could no longer write to")
            if reason:
                plan.notes.setdefault(mgr.id, f"{mgr.label}: {reason}")
                continue
            plan.actions.append(a)
            for f in folders:
                assert f.path is not None
                if f.path in seen or covered(facts.mounts, f.path) is not None:
                    continue
                seen.add(f.path)
                plan.targets.append(Target(f.path, f.dir.sharing, mgr, f.dir.what))
            if mgr.mount_setup and mgr.mount_setup not in plan.setup:
                plan.setup.append(mgr.mount_setup)
        return plan

    def _skip_reason(self, ins: Instruction, facts: RunFacts, a: Action, user: User) -> str | None:
        mgr = a.manager
        inv = a.invocation
        assert mgr is not None and inv is not None
        env = a.env
        if env.unreadable is not None:
            return "an ENV, ARG or export dockeropt cannot read may move its cache"
        if a.user != user and not mgr.needs_root and user.is_root is not True:
            return "it runs under sudo, so its HOME is not known"
        if mgr.needs_root:
            if a.user.is_root is not True:
                return "it does not run as root"
        else:
            if a.user.is_root is None:
                return "the user the RUN runs as is not known (base image default)"
            if a.user.is_root is False and a.user.uid is None:
                return f"the uid of user {a.user.name} is not known, so the mount's owner cannot be set"
            if a.user.is_root is False and cache_home(a) is None:
                return f"the home folder of user {a.user.name} is not known"
        plain = env_values(a, (*mgr.cache_disable_env, *mgr.cache_moved_by_env))
        disabled = mgr.cache_disabled_by_env(plain)
        if disabled:
            return f"{disabled} is set, so it does not use a cache"
        moved = next((v for v in mgr.cache_moved_by_env if v in plain), None)
        if moved:
            return f"{moved} moves its cache to a folder dockeropt does not follow"
        if mgr.cache_override_flags and inv.has_flag(*mgr.cache_override_flags):
            return "a flag on the command moves its cache"
        if not a.network:
            return "it runs offline and reads its packages from the cache"
        if mgr.mount_requires and not self._requirements_met(ins, a, mgr):
            return mgr.mount_note or "its project setup does not allow a cache mount"
        if mgr.config_moves_cache:
            earlier = self._earlier_config(ins, mgr)
            if earlier is not None:
                return f"the `{mgr.label} config` on line {earlier.start_line} may move its cache"
        if mgr.index_update:
            key = (ins.index, mgr.id)  # the same for every command of the manager in this RUN
            if key not in self._lists:
                self._lists[key] = self._lists_reason(ins, facts, mgr)
            return self._lists[key]
        return None

    def _requirements_met(self, ins: Instruction, a: Action, mgr: Manager) -> bool:
        bc = self.ctx.context
        if bc is None or a.project is None:
            return False
        for name, rx in mgr.mount_requires:
            src = self.m.context_source(ins.stage_index, posixpath.join(a.project, name), ins.index)
            text = bc.read_text(src) if src else None
            if text is None or not re.search(rx, text):
                return False
        return True

    def _earlier_config(self, ins: Instruction, mgr: Manager) -> Instruction | None:
        for node in reversed(self.m.chain(ins.stage_index)):
            for other in self._config_runs(node.index, mgr):
                if other.index >= ins.index:
                    break
                return other
        return None

    def _config_runs(self, stage: int, mgr: Manager) -> list[Instruction]:
        """The RUNs of ``stage`` that run ``<tool> config``, in order (once per stage: not a scan per RUN)."""
        key = (stage, mgr.id)
        got = self._configs.get(key)
        if got is None:
            got = self._configs[key] = [
                other for other, f in self.m.stage_runs(stage)
                if any(x.tool == mgr.id and x.verb == "config" for x in f.actions)]
        return got

    def _lists_reason(self, ins: Instruction, facts: RunFacts, mgr: Manager) -> str | None:
        """A manager with package lists (apt): a mount over them must not hide lists another RUN relies on."""
        updated = False
        for a in facts.actions:
            if a.tool != mgr.id or a.invocation is None:
                continue
            if a.invocation.updates_index:
                updated = True
            elif a.invocation.downloads and not updated:
                return "this RUN installs with lists an earlier RUN downloaded; a mount on /var/lib/apt would hide them"
        later = self.m.later_apt_needs_lists(ins)
        if later is not None:
            return (f"the RUN on line {later.start_line} installs packages without its own apt-get update, "
                    "so the lists must stay in the image")
        return None

    # ---------------------------------------------------------------- the stage family

    def group_reason(self, ins: Instruction, mgr: Manager, plan: Plan) -> str | None:
        """Tools whose cache is also where builds read packages (go, cargo, maven, gradle, pnpm, bundler):
        every RUN of the stage family that uses them must get the same mounts."""
        stage = ins.stage_index
        for idx, kind, reason in self._family_events(stage, mgr):
            if kind == "same" and idx == ins.index:
                continue
            return reason
        # a COPY --from that copies the cache folder out of a stage needs it in the image
        paths = [t.path for t in plan.targets if t.manager.id == mgr.id]
        for copy, sources in self._copies_from():
            for s in sources:
                if any(_under(p, s) or _under(s, p) for p in paths):
                    return f"line {copy.start_line} copies {s} out of a stage, so the cache must stay in the image"
        return None

    def _family_events(self, stage: int, mgr: Manager) -> list[tuple[int, str, str]]:
        key = (stage, mgr.id)
        if key in self._family:
            return self._family[key]
        g = self.m.graph
        later = {stage, *g.descendants(stage)}
        out: list[tuple[int, str, str]] = []
        for st in g.family(stage):
            for other, facts in self.m.stage_runs(st):
                uses = [a for a in facts.actions if a.tool == mgr.id]
                if not uses:
                    if (facts.script is None or not facts.script.ok) and any(
                            p.name and p.name in other.text for p in mgr.programs):
                        out.append((other.index, "unreadable",
                                    f"the RUN on line {other.start_line} may use {mgr.label} but cannot be read"))
                    continue
                if any(a.invocation is not None and a.invocation.downloads and not a.network for a in uses):
                    out.append((other.index, "offline", f"the RUN on line {other.start_line} runs {mgr.label} offline from the cache"))
                if st not in later:
                    continue
                sub = self.plan(other)
                if sub is None or mgr.id in sub.notes:
                    out.append((other.index, "same",
                                f"the RUN on line {other.start_line} also uses {mgr.label} and cannot get the same mount"))
        self._family[key] = out
        return out

    def _copies_from(self) -> list[tuple[Instruction, list[str]]]:
        if self._copies is None:
            self._copies = []
            for ins in self.m.doc.instructions:
                if ins.keyword not in ("COPY", "ADD") or ins.flag("from") is None:
                    continue
                srcs = [posixpath.normpath(s) if s.startswith("/") else s for s in ins.words[:-1] if not s.startswith("-")]
                self._copies.append((ins, srcs))
        return self._copies


# --------------------------------------------------------------------------- cleanups


def _item_delete(rs: RunScript, item_index: int) -> tuple[int, int] | None:
    """Script range that removes a whole top-level item and one joining operator."""
    items = rs.script.items
    it = items[item_index]
    nxt = items[item_index + 1] if item_index + 1 < len(items) else None
    safe_ops = ("&&", ";", "\n")
    if item_index > 0:
        if it.op_before not in safe_ops or (nxt is not None and nxt.op_before not in safe_ops):
            return None
        if it.op_before == "\n" or (nxt is not None and nxt.op_before == "\n"):
            return None
        return items[item_index - 1].end, it.end
    if nxt is None or nxt.op_before not in ("&&", ";"):
        return None
    return it.start, nxt.start


def _has_trivia(ins: Instruction, start: int, end: int) -> bool:
    return any(start <= t.range.start < end for t in ins.inner_trivia)


def _expand_home(pattern: str, home: str | None) -> str | None:
    if pattern.startswith("~"):
        if home is None or not (pattern == "~" or pattern.startswith("~/")):
            return None
        return home + pattern[1:]
    return pattern


def _covers(pat: str, target: str) -> bool:
    """Does deleting ``pat`` (recursively) reach the mount point ``target`` or a folder above it?"""
    if not pat.startswith("/"):
        return False
    cur = target
    while True:
        if fnmatch.fnmatchcase(cur, pat):
            return True
        parent = posixpath.dirname(cur)
        if parent == cur:
            return False
        cur = parent


@dataclass
class _Cleanup:
    edits: list[Edit] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    blocker: str | None = None


def _cleanups(doc: Dockerfile, rs: RunScript, facts: RunFacts, plan: Plan, home: str | None) -> _Cleanup:
    out = _Cleanup()
    targets = [t.path for t in plan.targets] + [mt.target for mt in facts.cache_mounts() if mt.target_known and mt.target]
    managers = {a.manager.id: a.manager for a in plan.actions if a.manager is not None}
    ins = rs.instruction
    taken: set[int] = set()
    commands = rs.script.commands

    def shown(i: int) -> str:
        c = commands[i]
        return f"`{rs.source(c.start, c.end, doc.text)}`"

    def delete_item(i: int) -> bool:
        cmd = commands[i]
        it = rs.script.items[cmd.item]
        if not it.simple or cmd.item in taken:
            return False
        span = _item_delete(rs, cmd.item)
        if span is None:
            return False
        r = rs.physical(*span)
        if _has_trivia(ins, r.start, r.end):
            return False
        taken.add(cmd.item)
        out.edits.append(Edit.delete(r.start, r.end))
        out.removed.append(shown(i))
        return True

    rm_tools = {a.index for a in facts.actions if a.verb == "fs" and a.tool == "rm"}
    for i, cmd in enumerate(commands):
        # cache-cleaning commands of a mounted manager (npm cache clean --force, pip cache purge)
        cleans = False
        for mgr in managers.values():
            if cache_clean(cmd, mgr):
                cleans = True
                break
        if cleans:
            delete_item(i)
            continue
        if i not in rm_tools:
            continue
        words = cmd.effective()[1:]
        paths = [w for w in words if not (w.value or "").startswith("-")]
        inside: list[Word] = []
        for w in paths:
            pat = w.pattern
            if pat is None:
                continue
            pat = _expand_home(pat, home)
            if pat is None:
                continue
            pat = posixpath.normpath(pat) if pat.startswith("/") else pat
            for t in targets:
                if _under(pat, t) and (pat == t or pat.startswith(t.rstrip("/") + "/")):
                    inside.append(w)
                    break
                if _covers(pat, t):
                    out.blocker = f"{shown(i)} would try to delete the mounted folder {t}"
                    return out
        if not inside:
            continue
        if len(inside) == len(paths):
            if not delete_item(i) and any(
                    posixpath.normpath(_expand_home(w.pattern or "", home) or "") in targets for w in inside):
                out.blocker = f"{shown(i)} deletes a mounted folder and cannot be removed cleanly"
                return out
            continue
        for w in inside:
            prev = words[words.index(w) - 1]
            if not ins.logical.is_contiguous(rs.base + prev.end, rs.base + w.end):
                continue
            r = rs.physical(prev.end, w.end)
            out.edits.append(Edit.delete(r.start, r.end))
            out.removed.append(f"`{w.text}` from `rm`")
    # flags that turn the cache off
    for a in plan.actions:
        inv = a.invocation
        assert inv is not None and a.manager is not None
        if not a.manager.no_cache_flags:
            continue  # apt, npm, ...: no flag to look for
        eff = commands[a.index].effective()
        for w in inv.flag_words(*a.manager.no_cache_flags):
            i = next((k for k, x in enumerate(eff) if x.start == w.start), None)
            if i is None or i == 0:
                continue
            prev = eff[i - 1]
            if not ins.logical.is_contiguous(rs.base + prev.end, rs.base + w.end):
                continue
            r = rs.physical(prev.end, w.end)
            out.edits.append(Edit.delete(r.start, r.end))
            out.removed.append(f"`{w.text}`")
    return out


# --------------------------------------------------------------------------- bind-mount-style


@dataclass
class BindPlan:
    """bind-mount-style: the manifest COPY right before an install RUN becomes bind mounts on it."""

    copy: Instruction
    mounts: list[tuple[str, str]]
    full_copy: Instruction  # the later whole-context copy that still puts the manifests in the image


_BETWEEN_OK = frozenset({"ENV", "ARG", "LABEL", "EXPOSE", "USER", "WORKDIR", "STOPSIGNAL", "HEALTHCHECK", "CMD",
                         "ENTRYPOINT", "SHELL", "VOLUME", "MAINTAINER"})


def plan_bind(m: ImageModel, run: Instruction, ctx: PassContext) -> BindPlan | None:
    """`COPY package.json package-lock.json ./` + `RUN npm ci` -> bind mounts, when nothing else needs the copy."""
    body = list(m.node(run).stage.body)
    pos = body.index(run)
    if pos == 0 or run.heredocs:
        return None
    prev = body[pos - 1]
    cf = m.copy(prev)
    if cf is None or prev.keyword != "COPY" or not cf.from_context or cf.heredoc:
        return None
    if any(f.name != "link" for f in prev.flags) or "$" in prev.args:
        return None  # --chown/--chmod/--from/--parents: the install may rely on them
    written = prev.words[-1]
    if not (written.endswith("/") or written in (".", "./")):
        return None
    sources = [posixpath.normpath(src) for src in cf.sources]
    if any("/" in src or not bindable(src) or src in (".", "..") for src in sources):
        return None
    if ctx.context is not None and not all(ctx.context.is_file(src) for src in sources):
        return None
    dest_abs = cf.dest.rstrip("/") or "/"
    run_wd = m.state(run).workdir
    if run_wd is None or dest_abs != posixpath.normpath(run_wd):
        return None
    facts = m.run(run)
    if facts is None or facts.editable is None:
        return None
    inst = None
    for a in facts.actions:
        if a.command.cwd is not None:
            continue
        inst = read_install(a, ContextView(ctx.context))
        if inst is not None:
            break
    if inst is None or not inst.bind_ok or inst.blocker or inst.missing or inst.mode != "move":
        return None
    known = set(inst.manifests) | set(inst.optional)
    if not set(sources) <= known or not {x for x in inst.manifests if "*" not in x} <= set(sources):
        return None  # the COPY brings something else, or the install reads a file it does not bring
    full = None
    for ins in body[pos + 1 :]:
        fc = m.copy(ins)
        if fc is not None and fc.whole_context:
            if (fc.dest.rstrip("/") or "/") == dest_abs:
                full = ins
            break
        if ins.keyword not in _BETWEEN_OK:
            return None
    if full is None:
        return None
    mounts = [(src, bind_target(posixpath.join(dest_abs, src), run_wd)) for src in sources]
    return BindPlan(prev, mounts, full)


def _has_setup(rs: RunScript, setup: tuple[str, ...]) -> bool:
    """The script already runs ``setup`` (``rm -f /etc/apt/apt.conf.d/docker-clean``)."""
    head, last = setup[0], setup[-1]
    for cmd in rs.script.commands:
        eff = cmd.effective()
        if eff and eff[0].value == head and any(w.value == last for w in eff):
            return True
    return False


def _one_line(ins: Instruction) -> str:
    return " ".join(ins.line_text().split())


@register
class CacheMounts(Pass):
    """Add BuildKit cache mounts to RUNs that download packages.

    What it does:
        Adds `--mount=type=cache,target=…` to each RUN whose package manager
        downloads (apt-get, pip, uv, poetry, pipenv, npm, yarn classic, yarn
        berry installing node_modules, pnpm, go, cargo, maven, gradle,
        dotnet/NuGet, bundler, composer), with the cache folders right for
        the user, HOME and environment in effect (`uid=`/`gid=` when the RUN
        runs as a non-root user whose uid the Dockerfile shows). apt gets
        `sharing=locked` mounts of /var/cache/apt and /var/lib/apt, and the
        RUN removes /etc/apt/apt.conf.d/docker-clean so apt keeps what it
        downloads. A tool that needs a setting to use its cache on a mount
        gets it for that command only (`UV_LINK_MODE=copy uv sync`,
        `YARN_ENABLE_GLOBAL_CACHE=true yarn install`). Cleanups the mount
        makes pointless in the same RUN are removed: `rm -rf
        /var/lib/apt/lists/*`, `apt-get clean`, `--no-cache-dir`, `npm cache
        clean --force`, `pip cache purge`, `rm -rf ~/.cache/pip`. A RUN that
        already has a cache mount for a tool (at, under or over its cache
        folder, or named after it: `id=m2`, `/home/gradle/.gradle`) gets no
        second one for that tool.

        With the `bind-mount-style` setting (off by default), a manifest
        COPY right before the install (`COPY package.json package-lock.json
        ./` then `RUN npm ci`) becomes bind mounts on the install RUN,
        beside the cache mount, as `docker init` writes it; each file
        (every nested pip requirement file too) gets its own
        `--mount=type=bind,source=…,target=…`. Only when a later `COPY . .`
        into the same folder still puts the manifests in the image, nothing
        in between runs, and the install never writes its manifests (npm ci,
        frozen yarn/pnpm, pip -r, uv --locked, go mod download).
    Why:
        Any change to a dependency manifest re-runs the install, and without
        a cache it downloads everything again. A cache mount keeps the
        downloads on the build machine between builds but never in the
        image, so rebuilds get faster and the image does not grow.
    Example:
        RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
        # becomes
        RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt,sharing=locked rm -f /etc/apt/apt.conf.d/docker-clean && apt-get update && apt-get install -y curl
    Fix safety:
        Safe for language package managers: a cache mount is not part of the
        image, and cleanup commands it replaces only deleted cache content
        that the mount already keeps out of the layer. Review for apt: the
        image no longer contains /etc/apt/apt.conf.d/docker-clean and
        /var/lib/apt stays empty in the image, so apt in images built on
        this one must run `apt-get update` first (it is skipped when a later
        RUN here installs without one). Go, cargo, maven, gradle, pnpm,
        NuGet and bundler read packages from their cache, so every RUN of
        the stage using them gets the same mount, or none does. Skipped,
        with a note, when the user's uid, HOME or cache folder is not known,
        and when the Dockerfile frontend in effect (`# syntax=`, or the
        `buildkit` setting) has no `RUN --mount`. Docker 20.10's built-in
        frontend supports these mounts; a `# syntax=` line is only added
        when the `syntax_directive` setting asks for it.
    """

    id = "DO102"
    name = "cache-mounts"
    messages = {
        "mounts": Message(
            "Add cache mounts",
            "Added cache mounts for {managers} ({folders}) so downloads are reused between builds without "
            "entering the image.{extra}",
        ),
        "none": Message("No cache mount", "No cache mount was added: {reasons}."),
        "bind": Message(
            "Install from bind-mounted manifests",
            "Bind-mounted {names} for the install instead of copying them into a layer (bind-mount-style): "
            "`{copy}` is gone, and `{full}` still puts the files in the image.",
        ),
        "syntax": Message(
            "Add a syntax directive",
            "Added `{line}` so the cache mounts use the current Dockerfile frontend. This makes every build pull "
            "the frontend image from its registry first; Docker 20.10 and later understand the mounts without it.",
        ),
        "frontend": Message(
            "No cache mounts with this Dockerfile frontend",
            "No cache mount was added: the build uses {frontend}, which has no {feature}. {advice}",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        planner = _Planner(m, ctx)
        allowed, add_directive = mount_plan(m.frontend, doc.directive("syntax") is not None, ctx.config.syntax_directive)
        if not allowed:
            first = next((ins for ins in doc.instructions if (p := planner.plan(ins)) is not None and p.targets), None)
            if first is not None:
                advice = (
                    "Change the `# syntax=` line to `docker/dockerfile:1` to get cache mounts."
                    if doc.directive("syntax") is not None else
                    "Set `buildkit` to the engine's BuildKit version if it is newer, or enable `syntax_directive` "
                    f"so dockeropt adds `{DIRECTIVE}`, to get cache mounts."
                )
                yield self.say("frontend", first, frontend=m.frontend.label, feature=m.frontend.feature_text("run-mount"),
                               advice=advice)
            return
        changes: list[Change] = []
        for node in m.graph.nodes:
            for ins, _facts in m.stage_runs(node.index):
                ch = self._run(doc, m, planner, ins, ctx)
                if ch is not None:
                    changes.append(ch)
        fixes = any(c.fix for c in changes)
        if fixes and add_directive:
            changes.append(self.say(
                "syntax", doc.instructions[0], [Edit.insert(0 if not doc.bom else 1, DIRECTIVE + doc.newline)],
                Safety.SAFE, line=DIRECTIVE,
            ))
        yield from changes

    def _run(self, doc: Dockerfile, m: ImageModel, planner: _Planner, ins: Instruction, ctx: PassContext) -> Change | None:
        plan = planner.plan(ins)
        if plan is None:
            return None
        facts = m.run(ins)
        assert facts is not None and facts.editable is not None
        rs = facts.editable
        # the stage-family check: tools that read packages from their cache
        for a in list(plan.actions):
            mgr = a.manager
            assert mgr is not None
            if not mgr.shared_state:
                continue
            reason = planner.group_reason(ins, mgr, plan)
            if reason is not None:
                plan.notes.setdefault(mgr.id, f"{mgr.label}: {reason}")
                plan.actions = [x for x in plan.actions if x.tool != mgr.id]
                plan.targets = [t for t in plan.targets if t.manager.id != mgr.id]
        bind = plan_bind(m, ins, ctx) if ctx.config.bind_mount_style else None
        if not plan.targets and bind is not None:
            return self.say("bind", ins, self._bind_edits(ins, bind, ""), **self._bind_fields(bind))
        if not plan.targets:
            if plan.notes and not plan.actions and not plan.mounted and not facts.cache_mounts():
                return self.say("none", ins, reasons="; ".join(plan.notes.values()))
            return None
        user = plan.user
        home = "/root" if (user is None or user.is_root) else m.state(ins).home
        clean = _cleanups(doc, rs, facts, plan, home)
        if clean.blocker:
            return self.say("none", ins, reasons=clean.blocker)
        edits = list(clean.edits)
        mounts = " ".join([self._mount_text(t, user) for t in plan.targets])
        if bind is not None:
            edits.extend(self._bind_edits(ins, bind, mounts))
        else:
            first = ins.flags[0].range.start if ins.flags else ins.logical.physical(ins.args_start, ins.args_start + 1).start
            edits.append(Edit.insert(first, mounts + " "))
        setup = [" ".join(c) for c in plan.setup if not _has_setup(rs, c)]
        if setup:
            edits.append(Edit.insert(rs.physical(0, 1).start, "".join(c + " && " for c in setup)))
        # settings a tool needs to use a cache on a mount, for that command only
        settings: dict[str, str] = {}
        for a in plan.actions:
            mgr = a.manager
            assert mgr is not None
            for name, value in mgr.mount_env:
                if name in a.env:
                    continue
                word = rs.script.commands[a.index].effective()[0]
                edits.append(Edit.insert(rs.physical(word.start, word.start).start, f"{name}={value} "))
                settings.setdefault(f"`{name}={value}`", mgr.mount_env_note or "")
        extra = ""
        if user is not None and user.is_root is False and any(not t.manager.needs_root for t in plan.targets):
            extra += f" The mounts belong to uid {user.uid}, the user the RUN runs as."
        for setting, why in settings.items():
            extra += f" The command gets {setting}" + (f": {why}." if why else ".")
        if clean.removed:
            extra += f" Removed {', '.join(clean.removed)}: with the mount in place that only threw the cache away."
        safety = Safety.SAFE
        if plan.setup:
            safety = Safety.REVIEW
            extra += (
                " The RUN now deletes /etc/apt/apt.conf.d/docker-clean so apt keeps its downloads in the mount; "
                "apt lists are no longer in the image, so check that images built FROM this one run apt-get update before installing."
            )
        if plan.notes:
            extra += " Not mounted: " + "; ".join(plan.notes.values()) + "."
        if bind is not None:
            extra += " " + self.messages["bind"].render(**self._bind_fields(bind))[1]
        managers = sorted({t.manager.label for t in plan.targets})
        return self.say("mounts", ins, edits, safety, managers=", ".join(managers),
                        folders=", ".join([t.path for t in plan.targets]), extra=extra)

    @staticmethod
    def _mount_text(t: Target, user: User | None) -> str:
        uid = gid = None
        if not t.manager.needs_root and user is not None and user.is_root is False and user.uid is not None:
            uid, gid = user.uid, user.gid
        return cache_flag(t.path, t.sharing, uid, gid)

    @staticmethod
    def _bind_edits(ins: Instruction, bind: BindPlan, cache_mounts: str) -> list[Edit]:
        first = ins.flags[0].range.start if ins.flags else ins.logical.physical(ins.args_start, ins.args_start + 1).start
        flags = " ".join(x for x in (cache_mounts, *(bind_flag(s, t) for s, t in bind.mounts)) if x)
        return [Edit.delete(bind.copy.full_range.start, bind.copy.full_range.end), Edit.insert(first, flags + " ")]

    @staticmethod
    def _bind_fields(bind: BindPlan) -> dict[str, str]:
        return {"names": ", ".join(src for src, _ in bind.mounts), "copy": _one_line(bind.copy), "full": _one_line(bind.full_copy)}
