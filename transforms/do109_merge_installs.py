"""DO109 merge-installs."""

from __future__ import annotations

from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import RunScript
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._hygiene import parsed_run, subcommand

_FAMILIES = {
    "apt-get": "apt", "apt": "apt",
    "apk": "apk",
    "dnf": "rpm", "yum": "rpm", "microdnf": "rpm", "tdnf": "rpm",
}
_CACHE_PREFIXES = {
    "apt": ("/var/lib/apt/lists", "/var/cache/apt"),
    "apk": ("/var/cache/apk",),
    "rpm": ("/var/cache/dnf", "/var/cache/yum", "/var/cache/tdnf"),
}
_INSTALL_VERBS = frozenset({"install", "add", "reinstall", "groupinstall", "localinstall"})
_APT_VALUELESS = frozenset({"-y", "-yq", "-qq", "-q", "--yes", "--assume-yes", "--no-install-recommends",
                            "--no-install-suggests", "--quiet", "-f", "--fix-broken", "--fix-missing"})


def _family(rs: RunScript) -> tuple[str, bool] | None:
    """(family, installs) when every command of the script is a package-manager or cache-cleanup
    command of one family, joined only by ``&&``; else None."""
    script = rs.script
    if not script.items or not script.only_and_chain() or not all(it.simple for it in script.items):
        return None
    if script.text[script.items[-1].end :].strip():
        return None  # a trailing comment would swallow the join
    family: str | None = None
    installs = False
    cleanups = []
    for c in script.commands:
        fam = _FAMILIES.get(c.name or "")
        if fam is None:
            if c.name == "rm":
                cleanups.append(c)
                continue
            return None
        if family is not None and fam != family:
            return None
        family = fam
        sub = subcommand(c, _APT_VALUELESS) if fam == "apt" else subcommand(c, frozenset({"-y", "--assumeyes", "-q", "--quiet", "--no-cache", "-U", "--update-cache", "--nodocs"}))
        if sub is None:
            return None
        if sub[1].value in _INSTALL_VERBS:
            installs = True
    if family is None:
        return None
    for c in cleanups:
        paths = [w.text for w in c.effective()[1:] if not w.text.startswith("-")]
        if not paths or not all(p.startswith(_CACHE_PREFIXES[family]) for p in paths):
            return None
    return family, installs


def _only_update(rs: RunScript) -> bool:
    cmds = rs.script.commands
    return len(cmds) == 1 and cmds[0].name in ("apt-get", "apt") and cmds[0].args[-1:] == ["update"]


def merge_groups(stage: Stage, ctx: PassContext) -> list[list[tuple[Instruction, RunScript]]]:
    """Runs of two or more consecutive RUNs that DO109 merges."""
    if any(i.keyword == "SHELL" for i in stage.body):
        return []
    groups: list[list[tuple[Instruction, RunScript]]] = []
    current: list[tuple[Instruction, RunScript, str, bool]] = []

    def flush() -> None:
        if len(current) >= 2 and any(inst for _, _, _, inst in current):
            groups.append([(i, r) for i, r, _, _ in current])
        current.clear()

    for ins in stage.body:
        rs = parsed_run(ins)
        fam = _family(rs) if rs is not None else None
        if rs is None or fam is None:
            flush()
            continue
        if current:
            prev_ins, prev_rs, prev_fam, _ = current[-1]
            joinable = (
                prev_fam == fam[0]
                and [f.raw for f in prev_ins.flags] == [f.raw for f in ins.flags]
                and prev_ins.index + 1 == ins.index
                and all(t.kind == "blank" for t in ins.leading_trivia)
                and not (ctx.enabled("DO103") and _only_update(prev_rs))
            )
            if not joinable:
                flush()
        current.append((ins, rs, fam[0], fam[1]))
    flush()
    return groups


def merges_with_next(stage: Stage, ins: Instruction, ctx: PassContext) -> bool:
    """DO109 will join ``ins`` with the RUN after it (other passes defer edits at its end)."""
    if not ctx.enabled("DO109"):
        return False
    for g in merge_groups(stage, ctx):
        if any(i is ins for i, _ in g[:-1]):
            return True
    return False


def _indent(doc: Dockerfile, group: list[tuple[Instruction, RunScript]]) -> str:
    candidates = [i for i, _ in group] + [i for i in doc.instructions if i.keyword == "RUN"]
    for ins in candidates:
        if ins.is_multiline:
            lines = ins.line_text().splitlines()
            for line in lines[1:]:
                if line.strip() and not line.lstrip().startswith("#"):
                    return line[: len(line) - len(line.lstrip(" \t"))] or "    "
    return "    "


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
        stage. A lone `apt-get update` is left to DO103 when it runs.

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

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        esc = doc.escape
        nl = doc.newline
        for stage in doc.stages:
            for group in merge_groups(stage, ctx):
                indent = _indent(doc, group)
                edits = []
                for (a, _), (b, _) in zip(group, group[1:]):
                    edits.append(Edit.replace(a.range.end, b.args_range.start, f" && {esc}{nl}{indent}"))
                first = group[0][0]
                lines = ", ".join(str(i.start_line) for i, _ in group)
                last_rs = group[-1][1]
                cleans = any(
                    c.name == "rm" or (len(c.args) > 0 and c.args[-1] in ("clean", "all", "autoclean"))
                    for c in last_rs.script.commands
                )
                yield self.change(
                    f"Merge {len(group)} consecutive package-install RUNs",
                    f"The RUNs on lines {lines} only run package-manager commands, so they are joined with `&&` "
                    "into one RUN: the same commands run in the same order and stop at the same failure, with "
                    "fewer layers."
                    + (" The cleanup at its end now also removes what the earlier commands wrote." if cleans else ""),
                    first,
                    edits,
                    Safety.SAFE,
                )
