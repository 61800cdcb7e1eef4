"""DO102 cache-mounts."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from dockeropt.analysis import copy_spec, full_context_copy, resolve, workdirs
from dockeropt.catalog import Invocation, Manager, catalog
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import Command, RunScript, Word, analysis_script, run_script
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._runinfo import (
    ROOT,
    User,
    ancestors,
    descendants,
    env_at,
    home_for,
    later_apt_needs_lists,
    user_at,
)

DOCKER_CLEAN = "/etc/apt/apt.conf.d/docker-clean"
SYNTAX_LINE = "# syntax=docker/dockerfile:1"


@dataclass(frozen=True)
class Target:
    path: str
    sharing: str
    manager: Manager
    what: str


@dataclass
class Plan:
    """What DO102 would do to one RUN."""

    targets: list[Target] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    user: User | None = None
    notes: list[str] = field(default_factory=list)  # why some manager was skipped
    apt: bool = False


def existing_cache_targets(ins: Instruction) -> set[str]:
    out: set[str] = set()
    for f in ins.flags:
        if f.name != "mount" or f.value is None:
            continue
        opts = dict(p.partition("=")[::2] for p in f.value.split(","))
        if opts.get("type") == "cache":
            t = opts.get("target") or opts.get("dst") or opts.get("destination")
            if t:
                out.add(posixpath.normpath(t))
    return out


def _has_file(ctx: PassContext):  # type: ignore[no-untyped-def]
    if ctx.context is None:
        return None
    context = ctx.context

    def has(name: str) -> bool | None:
        return bool(context.exists(name))

    return has


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _offline(inv: Invocation, env: dict[str, str | None]) -> bool:
    m = inv.manager
    if m.offline_flags and inv.has_flag(*m.offline_flags):
        return True
    for k, v in m.offline_env.items():
        if k in env and (env[k] is None or v in (env[k] or "")):
            return True
    return False


def _manager_uses(doc: Dockerfile, ins: Instruction, m: Manager, ctx: PassContext) -> list[tuple[Invocation, Command]]:
    script = analysis_script(ins, doc.text)
    if script is None or not script.ok:
        return []
    out = []
    for cmd in script.commands:
        for inv in catalog().match(cmd, _has_file(ctx)):
            if inv.manager.id == m.id:
                out.append((inv, cmd))
    return out


def plan_run(doc: Dockerfile, stage: Stage, ins: Instruction, ctx: PassContext, group_check: bool = True) -> Plan | None:
    """The cache mounts DO102 would add to ``ins`` (None: not a RUN it may edit). Memoised per round."""
    return ctx.memo(("do102-plan", ins.index, group_check), doc, lambda: _plan_run(doc, stage, ins, ctx, group_check))


def _plan_run(doc: Dockerfile, stage: Stage, ins: Instruction, ctx: PassContext, group_check: bool) -> Plan | None:
    rs = run_script(ins)
    if rs is None or not rs.script.ok or ins.heredocs:
        return None
    plan = Plan()
    user = user_at(doc, stage, ins)
    plan.user = user
    base_env = env_at(doc, stage, ins)
    have = existing_cache_targets(ins)
    seen: set[str] = set()
    for idx, cmd in enumerate(rs.script.commands):
        for inv in catalog().match(cmd, _has_file(ctx)):
            m = inv.manager
            if not inv.downloads or not m.mount:
                continue
            env = {**base_env, **rs.script.env_before(idx)}
            reason = _skip_reason(doc, stage, ins, inv, cmd, env, user, ctx, group_check)
            if reason:
                if f"{m.label}: {reason}" not in plan.notes:
                    plan.notes.append(f"{m.label}: {reason}")
                continue
            eff_user = ROOT if m.needs_root else user
            assert eff_user is not None
            home = home_for(eff_user, env) if not m.needs_root else "/root"
            paths = [(c, c.resolve(env, home)) for c in m.caches]
            if any(p is None for _, p in paths):
                plan.notes.append(f"{m.label}: its cache folder depends on a value dockeropt cannot know")
                continue
            if not eff_user.root and any(_creates_root_owned_parents(p, home) for _, p in paths if p):
                plan.notes.append(
                    f"{m.label}: the mount would leave a root-owned folder under {home} in the image, "
                    f"which user {eff_user.name} could no longer write to"
                )
                continue
            plan.invocations.append(inv)
            for c, p in paths:
                assert p is not None
                if p in have or p in seen:
                    continue
                seen.add(p)
                plan.targets.append(Target(p, c.sharing, m, c.what))
            if m.id == "apt":
                plan.apt = True
    return plan


def _creates_root_owned_parents(path: str, home: str | None) -> bool:
    """Would a mount at ``path`` make BuildKit create folders (root-owned) between HOME and it?"""
    if home is None or not _under(path, home):
        return False
    rel = posixpath.relpath(path, home)
    return "/" in rel


def _skip_reason(
    doc: Dockerfile,
    stage: Stage,
    ins: Instruction,
    inv: Invocation,
    cmd: Command,
    env: dict[str, str | None],
    user: User | None,
    ctx: PassContext,
    group_check: bool,
) -> str | None:
    m = inv.manager
    if "?" in env:
        return "an ENV, ARG or export dockeropt cannot read may move its cache"
    if cmd.argv and cmd.argv[0].value == "sudo" and not m.needs_root and not (user and user.root):
        return "it runs under sudo, so its HOME is not known"
    if m.needs_root:
        if not ((user is not None and user.root) or (cmd.argv and cmd.argv[0].value == "sudo")):
            return "it does not run as root"
    else:
        if user is None:
            return "the user the RUN runs as is not known (base image default)"
        if not user.root and user.uid is None:
            return f"the uid of user {user.name} is not known, so the mount's owner cannot be set"
        if not user.root and home_for(user, env) is None:
            return f"the home folder of user {user.name} is not known"
    disabled = m.cache_disabled_by_env(env)
    if disabled:
        return f"{disabled} is set, so it does not use a cache"
    if m.cache_override_flags and inv.has_flag(*m.cache_override_flags):
        return "a flag on the command moves its cache"
    if _offline(inv, env):
        return "it runs offline and reads its packages from the cache"
    if m.id == "apt":
        return _apt_reason(doc, stage, ins, cmd)
    if m.shared_state and group_check:
        return _group_reason(doc, stage, ins, m, ctx)
    return None


def _apt_reason(doc: Dockerfile, stage: Stage, ins: Instruction, cmd: Command) -> str | None:
    rs = run_script(ins)
    assert rs is not None
    updated = False
    for c in rs.script.commands:
        for inv in catalog().match(c):
            if inv.manager.id != "apt":
                continue
            if inv.updates_index:
                updated = True
            elif inv.downloads and not updated:
                return "this RUN installs with lists an earlier RUN downloaded; a mount on /var/lib/apt would hide them"
    later = later_apt_needs_lists(doc, stage, ins)
    if later is not None:
        return (
            f"the RUN on line {later.start_line} installs packages without its own apt-get update, "
            "so the lists must stay in the image"
        )
    return None


def _group_reason(doc: Dockerfile, stage: Stage, ins: Instruction, m: Manager, ctx: PassContext) -> str | None:
    """Tools whose cache is also where builds read packages (go, cargo, maven, gradle, pnpm):
    every RUN of the stage family that uses them must get the same mounts."""
    family = [*reversed(ancestors(doc, stage)), stage, *descendants(doc, stage)]
    for st in family:
        for other in st.body:
            if other.keyword != "RUN":
                continue
            uses = _manager_uses(doc, other, m, ctx)
            if not uses:
                script = analysis_script(other, doc.text)
                if script is None or not script.ok:
                    if any(p.name and p.name in other.text for p in m.programs):
                        return f"the RUN on line {other.start_line} may use {m.label} but cannot be read"
                continue
            st_env = env_at(doc, st, other)
            for inv, _cmd in uses:
                if _offline(inv, st_env):
                    return f"the RUN on line {other.start_line} runs {m.label} offline from the cache"
            if st not in (stage, *descendants(doc, stage)):
                continue
            if other is ins:
                continue
            sub = plan_run(doc, st, other, ctx, group_check=False)
            if sub is None or any(n.startswith(m.label + ":") for n in sub.notes):
                return f"the RUN on line {other.start_line} also uses {m.label} and cannot get the same mount"
    # a COPY --from that copies the cache folder out of the stage needs it in the image
    for st in doc.stages:
        for other in st.body:
            if other.keyword not in ("COPY", "ADD") or other.flag("from") is None:
                continue
            srcs = other.words[:-1]
            user = user_at(doc, stage, ins) or ROOT
            env = env_at(doc, stage, ins)
            home = home_for(user, env)
            for c in m.caches:
                p = c.resolve(env, home)
                if p is None:
                    continue
                for s in srcs:
                    if s.startswith("-"):
                        continue
                    s = posixpath.normpath(s) if s.startswith("/") else s
                    if _under(p, s) or _under(s, p):
                        return f"line {other.start_line} copies {s} out of a stage, so the cache must stay in the image"
    return None


# --------------------------------------------------------------------------- edits


def _mount_text(t: Target, user: User | None) -> str:
    parts = ["type=cache", f"target={t.path}"]
    if t.sharing != "shared":
        parts.append(f"sharing={t.sharing}")
    if not t.manager.needs_root and user is not None and not user.root and user.uid is not None:
        parts.append(f"uid={user.uid}")
        parts.append(f"gid={user.gid if user.gid is not None else user.uid}")
    return "--mount=" + ",".join(parts)


def _item_delete(rs: RunScript, item_index: int) -> tuple[int, int] | None:
    """Script range that removes a whole top-level item and one joining operator."""
    items = rs.script.items
    it = items[item_index]
    nxt = items[item_index + 1] if item_index + 1 < len(items) else None
    safe_ops = ("&&", ";", "\n")
    if item_index > 0:
        if it.op_before not in safe_ops or (nxt is not None and nxt.op_before not in (*safe_ops,)):
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


@dataclass
class _Cleanup:
    edits: list[Edit] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    blocker: str | None = None


def _cleanups(doc: Dockerfile, rs: RunScript, plan: Plan, home: str | None) -> _Cleanup:
    out = _Cleanup()
    targets = [t.path for t in plan.targets] + list(existing_cache_targets(rs.instruction))
    managers = {inv.manager.id: inv.manager for inv in plan.invocations}
    ins = rs.instruction
    taken: set[int] = set()

    def delete_item(cmd: Command, label: str) -> bool:
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
        out.removed.append(label)
        return True

    for cmd in rs.script.commands:
        # cache-cleaning commands of a mounted manager
        for m in managers.values():
            if catalog().is_cache_clean(cmd, m):
                delete_item(cmd, f"`{rs.source(cmd.start, cmd.end, doc.text)}`")
        if cmd.name != "rm":
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
                if _under(pat, t) and (pat == t or _literal_prefix_under(pat, t)):
                    inside.append(w)
                    break
                if _covers(pat, t):
                    out.blocker = (
                        f"`{rs.source(cmd.start, cmd.end, doc.text)}` would try to delete the mounted folder {t}"
                    )
                    return out
        if not inside:
            continue
        if len(inside) == len(paths):
            if not delete_item(cmd, f"`{rs.source(cmd.start, cmd.end, doc.text)}`"):
                if any(posixpath.normpath(_expand_home(w.pattern or "", home) or "") in targets for w in inside):
                    out.blocker = f"`{rs.source(cmd.start, cmd.end, doc.text)}` deletes a mounted folder and cannot be removed cleanly"
                    return out
            continue
        for w in inside:
            prev = words[words.index(w) - 1]
            r = rs.physical(prev.end, w.end)
            if not ins.logical.is_contiguous(rs.base + prev.end, rs.base + w.end):
                continue
            out.edits.append(Edit.delete(r.start, r.end))
            out.removed.append(f"`{w.text}` from `rm`")
    # flags that turn the cache off
    for inv in plan.invocations:
        flags = inv.flag_words(*inv.manager.no_cache_flags)
        eff = inv.command.effective()
        for w in flags:
            i = eff.index(w)
            prev = eff[i - 1]
            if not ins.logical.is_contiguous(rs.base + prev.end, rs.base + w.end):
                continue
            r = rs.physical(prev.end, w.end)
            out.edits.append(Edit.delete(r.start, r.end))
            out.removed.append(f"`{w.text}`")
    return out


def _literal_prefix_under(pat: str, target: str) -> bool:
    """Every path ``pat`` can match lies inside ``target`` (and is not the mount point)."""
    return pat.startswith(target.rstrip("/") + "/")


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
class BindPlan:
    """bind-mount-style: the manifest COPY right before an install RUN becomes bind mounts on it."""

    copy: Instruction
    mounts: list[tuple[str, str]]
    full_copy: Instruction  # the later whole-context copy that still puts the manifests in the image


_BETWEEN_OK = frozenset({"ENV", "ARG", "LABEL", "EXPOSE", "USER", "WORKDIR", "STOPSIGNAL", "HEALTHCHECK", "CMD",
                         "ENTRYPOINT", "SHELL", "VOLUME", "MAINTAINER"})


def plan_bind(doc: Dockerfile, stage: Stage, run: Instruction, ctx: PassContext) -> BindPlan | None:
    """`COPY package.json package-lock.json ./` + `RUN npm ci` → bind mounts, when nothing else needs the copy."""
    from dockeropt.transforms.do101_split_dependency_copy import _DETECTORS, _Ctx, bind_target, bindable

    body = list(stage.body)
    pos = body.index(run)
    if pos == 0 or run.heredocs:
        return None
    prev = body[pos - 1]
    spec = copy_spec(prev)
    if spec is None or prev.keyword != "COPY" or spec.from_stage is not None:
        return None
    if any(f.name != "link" for f in prev.flags) or "$" in prev.args:
        return None  # --chown/--chmod/--from/--parents: the install may rely on them
    if not (spec.dest.endswith("/") or spec.dest in (".", "./")):
        return None
    sources = [posixpath.normpath(src) for src in spec.sources]
    if any("/" in src or not bindable(src) or src in (".", "..") for src in sources):
        return None
    if ctx.context is not None and not all(ctx.context.is_file(src) for src in sources):
        return None
    wd = workdirs(stage)
    dest_abs = resolve(wd[prev.index], spec.dest)
    run_wd = wd[run.index]
    if dest_abs is None or run_wd is None or posixpath.normpath(dest_abs) != posixpath.normpath(run_wd):
        return None
    rs = run_script(run)
    if rs is None or not rs.script.ok:
        return None
    inst = None
    for cmd in rs.script.commands:
        if cmd.cwd is not None:
            continue
        for det in _DETECTORS:
            inst = det(cmd, _Ctx(ctx.context, ""))
            if inst is not None:
                break
        if inst is not None:
            break
    if inst is None or not inst.bind_ok or inst.blocker or inst.missing or inst.mode != "move":
        return None
    known = set(inst.manifests) | set(inst.optional)
    if not set(sources) <= known or not set(m for m in inst.manifests if "*" not in m) <= set(sources):
        return None  # the COPY brings something else, or the install reads a file it does not bring
    # a later whole-context copy to the same folder must bring the manifests into the image
    full = None
    for ins in body[pos + 1 :]:
        fspec = full_context_copy(ins)
        if fspec is not None:
            full_dest = resolve(wd[ins.index], fspec.dest)
            if full_dest is not None and posixpath.normpath(full_dest) == posixpath.normpath(dest_abs):
                full = ins
            break
        if ins.keyword not in _BETWEEN_OK:
            return None
    if full is None:
        return None
    mounts = [(src, bind_target(posixpath.join(dest_abs, src), run_wd)) for src in sources]
    return BindPlan(prev, mounts, full)


def _has_docker_clean_rm(rs: RunScript) -> bool:
    for cmd in rs.script.commands:
        if cmd.name == "rm" and any(w.value == DOCKER_CLEAN for w in cmd.effective()[1:]):
            return True
    return False


@register
class CacheMounts(Pass):
    """Add BuildKit cache mounts to RUNs that download packages.

    What it does:
        Adds `--mount=type=cache,target=…` to each RUN whose package manager
        downloads (apt-get, pip, uv, poetry, pipenv, npm, yarn, pnpm, go,
        cargo, maven, gradle, composer), with the cache folders right for
        the user, HOME and environment in effect (`uid=`/`gid=` when the RUN
        runs as a non-root user whose uid the Dockerfile shows). apt gets
        `sharing=locked` mounts of /var/cache/apt and /var/lib/apt, and the
        RUN removes /etc/apt/apt.conf.d/docker-clean so apt keeps what it
        downloads. Cleanups the mount makes pointless in the same RUN are
        removed: `rm -rf /var/lib/apt/lists/*`, `apt-get clean`,
        `--no-cache-dir`, `npm cache clean`, `rm -rf ~/.cache/pip`.

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
        RUN here installs without one). Go, cargo, maven, gradle and pnpm
        read packages from their cache, so every RUN of the stage using
        them gets the same mount, or none does. Skipped, with a note, when
        the user's uid, HOME or cache folder is not known. Docker 20.10's
        built-in frontend supports these mounts; a `# syntax=` line is
        only added when the configuration asks for it.
    """

    id = "DO102"
    name = "cache-mounts"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        changes: list[Change] = []
        for stage in doc.stages:
            for ins in stage.body:
                if ins.keyword != "RUN":
                    continue
                ch = self._run(doc, stage, ins, ctx)
                if ch is not None:
                    changes.append(ch)
        if changes and ctx.config.syntax_directive and doc.directive("syntax") is None and any(c.fix for c in changes):
            changes.append(
                self.change(
                    "add a syntax directive",
                    f"Added `{SYNTAX_LINE}` so the cache mounts use the current Dockerfile frontend. "
                    "This makes every build pull the frontend image from its registry first; Docker 20.10 and "
                    "later understand the mounts without it.",
                    doc.instructions[0] if doc.instructions else doc.stages[0].from_instruction,
                    [Edit.insert(0 if not doc.bom else 1, SYNTAX_LINE + doc.newline)],
                    Safety.SAFE,
                )
            )
        return changes

    def _run(self, doc: Dockerfile, stage: Stage, ins: Instruction, ctx: PassContext) -> Change | None:
        plan = plan_run(doc, stage, ins, ctx)
        if plan is None:
            return None
        rs = run_script(ins)
        assert rs is not None
        bind = plan_bind(doc, stage, ins, ctx) if ctx.config.bind_mount_style else None
        if not plan.targets and bind is not None:
            return self.change("install from bind-mounted manifests", self._bind_text(bind), ins, self._bind_edits(ins, bind, ""))
        if not plan.targets:
            if plan.notes and not plan.invocations and not existing_cache_targets(ins):
                return self.change(
                    "no cache mount",
                    "No cache mount was added: " + "; ".join(plan.notes) + ".",
                    ins,
                )
            return None
        user = plan.user
        home = "/root" if (user is None or user.root) else home_for(user, env_at(doc, stage, ins))
        clean = _cleanups(doc, rs, plan, home)
        if clean.blocker:
            return self.change("no cache mount", f"No cache mount was added: {clean.blocker}.", ins)
        edits = list(clean.edits)
        mounts = " ".join(_mount_text(t, user) for t in plan.targets)
        if bind is not None:
            edits.extend(self._bind_edits(ins, bind, mounts))
        else:
            first = ins.flags[0].range.start if ins.flags else ins.logical.physical(ins.args_start, ins.args_start + 1).start
            edits.append(Edit.insert(first, mounts + " "))
        if plan.apt and not _has_docker_clean_rm(rs):
            start = rs.physical(0, 1).start
            edits.append(Edit.insert(start, f"rm -f {DOCKER_CLEAN} && "))
        managers = sorted({t.manager.label for t in plan.targets})
        folders = ", ".join(t.path for t in plan.targets)
        expl = f"Added cache mounts for {', '.join(managers)} ({folders}) so downloads are reused between builds without entering the image."
        if user is not None and not user.root and any(not t.manager.needs_root for t in plan.targets):
            expl += f" The mounts belong to uid {user.uid}, the user the RUN runs as."
        if clean.removed:
            expl += f" Removed {', '.join(clean.removed)}: with the mount in place that only threw the cache away."
        safety = Safety.SAFE
        if plan.apt:
            safety = Safety.REVIEW
            expl += (
                " The RUN now deletes /etc/apt/apt.conf.d/docker-clean so apt keeps its downloads in the mount; "
                "apt lists are no longer in the image, so check that images built FROM this one run apt-get update before installing."
            )
        if plan.notes:
            expl += " Not mounted: " + "; ".join(plan.notes) + "."
        if bind is not None:
            expl += " " + self._bind_text(bind)
        return self.change("add cache mounts", expl, ins, edits, safety)

    @staticmethod
    def _bind_edits(ins: Instruction, bind: BindPlan, cache_mounts: str) -> list[Edit]:
        from dockeropt.transforms.do101_split_dependency_copy import bind_mount_flags

        first = ins.flags[0].range.start if ins.flags else ins.logical.physical(ins.args_start, ins.args_start + 1).start
        flags = " ".join(x for x in (cache_mounts, bind_mount_flags(bind.mounts)) if x)
        return [Edit.delete(bind.copy.full_range.start, bind.copy.full_range.end), Edit.insert(first, flags + " ")]

    @staticmethod
    def _bind_text(bind: BindPlan) -> str:
        names = ", ".join(src for src, _ in bind.mounts)
        return (
            f"Bind-mounted {names} for the install instead of copying them into a layer (bind-mount-style): "
            f"`{' '.join(bind.copy.line_text().split())}` is gone, and `{' '.join(bind.full_copy.line_text().split())}` "
            "still puts the files in the image."
        )
