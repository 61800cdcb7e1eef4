"""DO109 merge-installs."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from dockeropt.catalog import catalog
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel, RunFacts
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile, Instruction


@cache
def _manager_prefixes(manager_id: str) -> tuple[str, ...]:
    mgr = catalog().by_id[manager_id]
    out = [c.template for c in mgr.caches if c.template.startswith("/")]
    out += [p.rstrip("*").rstrip("/") for p in mgr.cache_clean_paths if p.startswith("/")]
    out += list((mgr.hygiene or {}).get("cache_dir", {}).values())
    return tuple(dict.fromkeys(out))


def _cache_prefixes(facts: RunFacts) -> tuple[str, ...]:
    out: list[str] = []
    for mid in dict.fromkeys(a.manager.id for a in facts.actions if a.manager is not None):
        out += _manager_prefixes(mid)
    return tuple(out)


_UNSET = object()


def _family(facts: RunFacts) -> tuple[str, bool] | None:
    """(family, installs) when every command of the script is a system package-manager command of one family
    (or an ``rm`` of that manager's cache folders), joined only by ``&&``; else None."""
    if not facts.actions:
        return _read_family(facts)
    # it reads the script and the commands' classification, never the env or the user: kept with the
    # classification, which the model reuses across rounds for the same content
    derived = facts.actions[0].derived
    got = derived.get("DO109.family", _UNSET)
    if got is _UNSET:
        got = derived["DO109.family"] = _read_family(facts)
    return got  # type: ignore[return-value]


def _read_family(facts: RunFacts) -> tuple[str, bool] | None:
    rs = facts.editable
    if rs is None:
        return None
    script = rs.script
    if not script.items or not script.only_and_chain():
        return None
    for it in script.items:  # all simple (a plain loop: every RUN)
        if not it.simple:
            return None
    if script.text[script.items[-1].end :].strip():
        return None  # a trailing comment would swallow the join
    family: str | None = None
    installs = False
    cleanups = []
    system = catalog().system_ecosystems
    for a in facts.actions:
        inv = a.invocation
        mgr = inv.manager if inv is not None else None
        if mgr is None:
            if a.verb == "fs" and a.command.name == "rm":
                cleanups.append(a)
                continue
            return None
        if mgr.ecosystem not in system or (family is not None and mgr.ecosystem != family):
            return None
        family = mgr.ecosystem
        if inv is None or inv.subcommand is None or a.verb in ("unknown", "other"):
            return None
        if a.verb == "install":
            installs = True
    if family is None:
        return None
    prefixes = _cache_prefixes(facts) if cleanups else ()
    for a in cleanups:
        paths = [w.text for w in a.command.effective()[1:] if not w.text.startswith("-")]
        if not paths or not all(p.startswith(prefixes) for p in paths):
            return None
    return family, installs


def merge_groups(m: ImageModel, stage: int) -> list[list[Instruction]]:
    """Runs of two or more consecutive RUNs that DO109 merges."""
    body = m.graph[stage].stage.body
    for i in body:  # a SHELL anywhere in the stage (a plain loop over a long body)
        if i.keyword == "SHELL":
            return []
    groups: list[list[Instruction]] = []
    current: list[tuple[Instruction, str, bool]] = []

    def flush() -> None:
        if len(current) >= 2 and any(inst for _, _, inst in current):
            groups.append([i for i, _, _ in current])
        current.clear()

    for ins in body:
        facts = m.run(ins)
        fam = _family(facts) if facts is not None else None
        if fam is None:
            if current:  # flush() of nothing does nothing
                flush()
            continue
        if current:
            prev, prev_fam, _ = current[-1]
            joinable = (
                prev_fam == fam[0]
                and [f.raw for f in prev.flags] == [f.raw for f in ins.flags]
                and prev.index + 1 == ins.index
                and all(t.kind == "blank" for t in ins.leading_trivia)
            )
            if not joinable:
                flush()
        current.append((ins, fam[0], fam[1]))
    flush()
    return groups


def _indent(m: ImageModel, group: list[Instruction]) -> str:
    for ins in [*group, *(i for i in m.doc.instructions if i.keyword == "RUN")]:
        if ins.is_multiline:
            for line in ins.line_text().splitlines()[1:]:
                if line.strip() and not line.lstrip().startswith("#"):
                    return line[: len(line) - len(line.lstrip(" \t"))] or m.style.indent
    return m.style.indent


@register
class MergeInstalls(Pass):
    """Merge consecutive package-install RUNs of the same system package manager.

    What it does:
        Joins consecutive RUNs in a stage whose every command is an apt-get/
        apt, apk or dnf/yum/microdnf command (or an `rm` of that manager's
        cache folders) into one RUN, chaining them with `&&` and a line
        continuation indented like the rest of the file. It only merges
        when that provably changes nothing but the layer count: the same
        package-manager family, identical RUN flags and mounts, nothing but
        blank lines between them, shell-form scripts that parse cleanly and
        are joined only by `&&`, no heredocs, no SHELL instruction in the
        stage. It runs after DO103 (apt-update-merge), which moves a lone
        `apt-get update` into the install after it.

    Why:
        Each RUN is a layer: files one install writes and the next deletes
        (package lists, caches) stay in the earlier layer. One RUN also lets
        the cleanup passes (DO104, DO105) clean everything in the layer that
        wrote it, and saves a layer's overhead on every build and pull.

    Example:
        # before
        RUN apt-get update && apt-get install -y curl
        RUN apt-get install -y git
        # after
        RUN apt-get update && apt-get install -y curl && \\
            apt-get install -y git

    Fix safety:
        Safe: the commands run in the same order, as the same user, in the
        same folder and environment, and the build stops at the same failing
        command; only the number of layers changes.
    """

    id = "DO109"
    name = "merge-installs"
    after = ("DO103",)
    messages = {
        "merge": Message(
            "Merge {count} consecutive package-install RUNs",
            "The RUNs on lines {lines} only run package-manager commands, so they are joined with `&&` into one RUN: "
            "the same commands run in the same order and stop at the same failure, with fewer layers.{cleanup}",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        esc = doc.escape
        nl = doc.newline
        for node in m.graph.nodes:
            for group in merge_groups(m, node.index):
                indent = _indent(m, group)
                edits = [Edit.replace(a.range.end, b.args_range.start, f" && {esc}{nl}{indent}") for a, b in zip(group, group[1:])]
                last = m.run(group[-1])
                assert last is not None
                cleans = any(a.verb == "clean" or (a.verb == "fs" and a.command.name == "rm") for a in last.actions)
                yield self.say(
                    "merge", group[0], edits, Safety.SAFE, count=len(group), lines=", ".join(str(i.start_line) for i in group),
                    cleanup=" The cleanup at its end now also removes what the earlier commands wrote." if cleans else "",
                )
