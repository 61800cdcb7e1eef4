"""DO201's plan of a split and the one function that writes it.

A planner (``_runtime_<ecosystem>.py``) fills a :class:`Plan`; :func:`write`
turns the final stage into

* the build stage: the original stage under a new name, with the lines the
  plan inserts or replaces and the instructions that describe how the image
  runs (CMD, EXPOSE, ...) moved out;
* the plan's extra stages (a production-dependencies stage, ...);
* the runtime stage, in the order of how often its layers change: system
  packages and users, ARG/ENV, tools, WORKDIR, the dependencies, the app, then
  the instructions that describe how it runs.

New lines are written with the file's own style (``m.style``).
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field

from dockeropt.analysis import leading_comment_start
from dockeropt.catalog import catalog
from dockeropt.edits import Edit, Safety
from dockeropt.model import CopyFacts, ImageModel
from dockeropt.model.style import Style
from dockeropt.syntax import Instruction

from ._runtime_stage_analysis import StageRead

Line = str | Instruction  # a new instruction (upper-case keyword, restyled) or an existing one copied verbatim


@dataclass
class ExtraStage:
    name: str
    base: str
    lines: list[Line] = field(default_factory=list)


@dataclass
class Plan:
    """What the split writes. Texts may name ``{build}``, ``{deps}`` and ``{venv}``: the stage names the writer picks."""

    base: str
    shell: bool  # the runtime base has /bin/sh
    pm: str | None = None  # its system package manager
    packages: list[str] = field(default_factory=list)  # system packages the runtime installs
    keep_build: bool = True  # False: the original stage is replaced by ``stages`` (its work is not needed)
    before: dict[int, list[str]] = field(default_factory=dict)  # build stage: lines before instruction index
    replace: dict[int, str] = field(default_factory=dict)  # build stage: instruction index -> new instruction text
    drop: set[int] = field(default_factory=set)  # build stage: instructions the split makes useless (a server only the old final image ran)
    append: list[str] = field(default_factory=list)  # build stage: lines after its last instruction
    stages: list[ExtraStage] = field(default_factory=list)
    first: list[ExtraStage] = field(default_factory=list)  # stages written before the build stage (its COPY --from needs them first)
    runs: list[Line] = field(default_factory=list)  # runtime: tool RUNs before the copies
    env: list[str] = field(default_factory=list)  # runtime: extra ENV lines
    copies: list[str] = field(default_factory=list)  # runtime: COPY lines (dependencies first)
    context_copies: bool = False  # runtime: repeat the stage's COPYs from the build context after ``copies``
    after_copies: list[str] = field(default_factory=list)
    cmd: list[str] | str | None = None  # new CMD (exec form list, or shell-form text); None: as it was
    entrypoint: list[str] | None = None
    drop_entrypoint: bool = False
    drop_cmd: bool = False  # the runtime base's own CMD runs (nginx)
    carry_workdir: bool = True
    carry_env: bool = True
    carry_user: bool = True
    drop_env: frozenset[str] = frozenset()  # ENV names that only steer the build
    drop_moved: frozenset[str] = frozenset()  # keywords not carried into the runtime (HEALTHCHECK for nginx)
    leaves: list[str] = field(default_factory=list)  # what stays behind, for the explanation
    checks: list[str] = field(default_factory=list)  # what the user should check
    safety: Safety = Safety.REVIEW
    follows_base: bool = True  # the runtime base derives from the build base's version (an ARG base must carry over)


def stage_names(m: ImageModel, r: StageRead) -> dict[str, str]:
    """Free names for the build and the dependencies stage."""
    taken = {n.name.lower() for n in m.graph.nodes if n.name}
    own = r.node.name
    out: dict[str, str] = {}
    for key, cands in (("build", [f"{own}-build", "build", "builder"] if own else ["build", "builder", "build-stage"]),
                       ("deps", [f"{own}-deps", "deps", "prod-deps"] if own else ["deps", "prod-deps", "runtime-deps"]),
                       ("venv", [f"{own}-venv", "venv", "python-venv"] if own else ["venv", "python-venv", "virtualenv"])):
        name = next((c for c in cands if c.lower() not in taken), f"{key}{len(m.graph)}")
        taken.add(name.lower())
        out[key] = name
    return out


def _verbatim(m: ImageModel, ins: Instruction) -> str:
    return m.doc.text[ins.range.start : ins.range.end]


def _from_line(style: Style, frm: Instruction, base: str, name: str | None) -> str:
    plat = frm.flag("platform")
    p = f"{plat.raw} " if plat else ""
    return style.line(f"FROM {p}{base}" + (f" AS {name}" if name else ""))


def _fmt(text: str, names: dict[str, str]) -> str:
    return text.replace("{build}", names["build"]).replace("{deps}", names["deps"]).replace("{venv}", names["venv"])


def write(m: ImageModel, r: StageRead, plan: Plan, names: dict[str, str]) -> Edit | None:
    """The edit that replaces the final stage with the planned stages; None when the text cannot be written safely."""
    doc, style, nl = m.doc, m.style, m.doc.newline
    stage = r.stage
    frm = stage.from_instruction
    text = doc.text
    start, end = frm.full_range.start, stage.instructions[-1].full_range.end
    if frm.is_multiline:
        return None

    def line(x: Line) -> str:
        return _verbatim(m, x) if isinstance(x, Instruction) else style.line(_fmt(x, names))

    parts: list[str] = []
    # -- stages the build stage copies from
    for st in plan.first:
        lines = [_from_line(style, frm, st.base, _fmt(st.name, names))] + [line(x) for x in st.lines]
        parts.append(nl.join(lines) + nl)
    # -- the build stage: the original under a new name
    if plan.keep_build:
        head = frm.line_text()
        if stage.name:
            mm = re.search(r"(\s+[Aa][Ss]\s+)(\S+)(\s*)$", head)
            if mm is None:
                return None
            build_from = head[: mm.start(2)] + names["build"] + head[mm.end(2):]
        else:
            build_from = head.rstrip() + f" {style.kw('AS')} {names['build']}"
        out: list[str] = [build_from, text[frm.range.end : frm.full_range.end] or nl]
        pos = frm.full_range.end
        for ins in stage.body:
            cstart = leading_comment_start(ins)
            if ins.index in plan.before:
                out.append(text[pos:cstart])
                out.append("".join(line(x) + nl for x in plan.before[ins.index]))
                pos = cstart
            if ins.keyword in ("CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "VOLUME", "LABEL", "MAINTAINER") or ins.index in plan.drop:
                out.append(text[pos:cstart])
                pos = ins.full_range.end
                continue
            if ins.index in plan.replace:
                out.append(text[pos : ins.range.start])
                out.append(plan.replace[ins.index])
                pos = ins.range.end
        out.append(text[pos:end])
        build_text = "".join(out)
        if not build_text.endswith("\n"):
            build_text += nl
        build_text = re.sub(r"(\r?\n)(?:[ \t]*\r?\n)+$", r"\1", build_text)
        build_text += "".join(line(x) + nl for x in plan.append)
        parts.append(build_text)
    # -- extra stages
    for st in plan.stages:
        lines = [_from_line(style, frm, st.base, _fmt(st.name, names))] + [line(x) for x in st.lines]
        parts.append(nl.join(lines) + nl)
    # -- the runtime stage
    rt: list[str] = [_from_line(style, frm, plan.base, stage.name)]
    carried = [_verbatim(m, ins) for ins in r.carried if plan.carry_env and not _dropped_env(m, ins, plan.drop_env)]
    runs: list[str] = []
    if plan.packages:
        runs.append(_package_run(style, plan.pm, plan.packages))
    runs.extend(_verbatim(m, ins) for ins in r.user_runs)
    tool_runs = [line(x) for x in plan.runs]
    if runs and not tool_runs and _runs_first(m, r):
        rt.extend(runs)
        rt.extend(carried)
    else:
        rt.extend(carried)
        rt.extend(runs)
    rt.extend(tool_runs)
    rt.extend(style.line(_fmt(e, names)) for e in plan.env)
    if plan.carry_workdir and r.workdirs and r.workdir:
        rt.append(style.line(f"WORKDIR {r.workdir}"))
    rt.extend(style.line(_fmt(c, names)) for c in plan.copies)
    if plan.context_copies:
        rt.extend(_replicated(m, r, ins) for ins in _context_copies(r))
    rt.extend(style.line(_fmt(c, names)) for c in plan.after_copies)
    effective = {id(r.start.cmd), id(r.start.entrypoint)}
    for ins in r.moved:
        kw = ins.keyword
        if kw in plan.drop_moved or (kw == "USER" and not plan.carry_user):
            continue
        if kw in ("CMD", "ENTRYPOINT"):
            if id(ins) not in effective:
                continue  # an earlier CMD/ENTRYPOINT that a later one replaced
            if kw == "ENTRYPOINT" and plan.drop_entrypoint:
                continue
            if kw == "CMD" and plan.drop_cmd:
                continue
            if kw == "ENTRYPOINT" and plan.entrypoint is not None:
                rt.append(f"{ins.keyword_raw} {json.dumps(plan.entrypoint)}")
                continue
            if kw == "CMD" and plan.cmd is not None:
                rt.append(f"{ins.keyword_raw} {json.dumps(plan.cmd) if isinstance(plan.cmd, list) else plan.cmd}")
                continue
            if not plan.shell and not ins.json:
                return None  # shell form on a base without a shell: the planner must have rewritten it
        rt.append(_verbatim(m, ins))
    if plan.cmd is not None and r.start.cmd is None and not plan.drop_cmd:
        rt.append(style.line(f"CMD {json.dumps(plan.cmd) if isinstance(plan.cmd, list) else plan.cmd}"))
    runtime_text = nl.join(rt) + nl
    if not text[start:end].endswith("\n") and end == len(text):
        runtime_text = runtime_text[: -len(nl)]
    parts.append(runtime_text)
    return Edit.replace(start, end, nl.join(parts))


def _dropped_env(m: ImageModel, ins: Instruction, drop: frozenset[str]) -> bool:
    if ins.keyword != "ENV" or not drop:
        return False
    from dockeropt.model.values import read_assignments

    pairs = read_assignments(ins)
    return bool(pairs) and all(a.name in drop for a in pairs)  # type: ignore[union-attr]


def _runs_first(m: ImageModel, r: StageRead) -> bool:
    """May the runtime's package and user RUNs come before the carried ARG/ENV? Only when they cannot read them."""
    if any("$" in ins.args for ins in r.user_runs):
        return False
    return not any(ins.keyword == "ENV" and catalog().install_env.search(ins.args) for ins in r.carried)


def _package_run(style: Style, pm: str | None, packages: list[str]) -> str:
    return style.line("RUN " + catalog().by_id["apk" if pm == "apk" else "apt"].install_command(packages))


def _context_copies(r: StageRead) -> list[Instruction]:
    """The stage's COPYs from the build context, minus those a later whole-context copy to the same folder repeats."""
    out: list[Instruction] = []
    copies = r.copies
    for i, (ins, cf) in enumerate(copies):
        if any(_covers(r, lc, cf) for _, lc in copies[i + 1 :]):
            continue
        out.append(ins)
    return out


def _covers(r: StageRead, lc: CopyFacts, cf: CopyFacts) -> bool:
    """``lc`` copies a build-context folder's contents (``COPY . .``, ``COPY app/ .``) and so puts every file ``cf``
    copies at the place ``cf`` puts it (``COPY app/package.json ./`` before ``COPY app/ .``), with the same owner and mode."""
    if not lc.from_context or len(lc.sources) != 1 or lc.chown != cf.chown or lc.chmod != cf.chmod:
        return False
    src = lc.sources[0]
    folder = posixpath.normpath(src)
    if any(ch in src for ch in "*?[") or folder.startswith(".."):
        return False
    if folder != "." and not src.endswith("/") and (r.context is None or not r.context.is_dir(folder)):
        return False
    for s in cf.sources:
        n = posixpath.normpath(s)
        if any(ch in s for ch in "*?[") or n.startswith(".."):
            return False
        rel = posixpath.relpath(n, folder)
        if rel.startswith(".."):
            return False
        if cf.target_of(s) != posixpath.normpath(posixpath.join(lc.dest.rstrip("/") or "/", rel)):
            return False
    return True


def _replicated(m: ImageModel, r: StageRead, ins: Instruction) -> str:
    """A COPY from the build context as written; its destination made absolute when it ran in another WORKDIR."""
    cf = m.copy(ins)
    if cf is None or m.state(ins).workdir == r.workdir or ins.words[-1].startswith("/"):
        return _verbatim(m, ins)
    flags = " ".join(f.raw for f in ins.flags)
    head = ins.keyword_raw + (" " + flags if flags else "")
    return f"{head} {' '.join(ins.words[:-1])} {cf.dest}"


def exec_text(argv: list[str]) -> str:
    return json.dumps(argv)


__all__ = ["ExtraStage", "Line", "Plan", "exec_text", "stage_names", "write"]
