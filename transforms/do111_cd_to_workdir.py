"""DO111 cd-to-workdir."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dockeropt.analysis import BASE, copy_spec, workdirs
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import run_script
from dockeropt.syntax import Dockerfile as Doc
from dockeropt.syntax import Instruction, Stage

_PLAIN_PATH = re.compile(r"^[A-Za-z0-9_./@+-]+$")
# instructions whose meaning depends on the working folder
_USES_CWD = frozenset({"RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK", "ONBUILD"})


def _relative_mount(ins: Instruction) -> bool:
    for value in ins.flag_values("mount"):
        for part in value.split(","):
            key, _, v = part.partition("=")
            if key.strip() in ("target", "dst", "destination") and not v.strip().startswith("/"):
                return True
    return False


def _needs_restore(stage: Stage, run: Instruction) -> bool:
    """Does anything after ``run`` (or the image itself) see the working folder ``run`` would leave behind?"""
    for ins in stage.body:
        if ins.index <= run.index:
            continue
        if ins.keyword == "WORKDIR":
            if ins.args.strip().startswith("/") and "$" not in ins.args:
                return False  # reset before anything used it
            return True
        if ins.keyword in _USES_CWD:
            return True
        if ins.keyword in ("COPY", "ADD"):
            spec = copy_spec(ins)
            if spec is None or not spec.dest.startswith("/"):
                return True
    return True  # the stage's image (a --target, the final image, a stage built FROM it) keeps its WORKDIR


@register
class CdToWorkdir(Pass):
    """Replace `RUN cd dir && …` with `WORKDIR dir`, keeping every later working folder as it was.

    What it does:
        A RUN that starts with `cd <dir> && …` becomes `WORKDIR <dir>`
        followed by the RUN without the `cd`. When a later instruction (or
        the image itself) would see the changed working folder, a
        `WORKDIR <previous folder>` goes right after, so every later RUN,
        COPY, CMD and the image's default folder stay exactly as before. When
        the previous folder is unknown (the base image's default) and
        something later depends on it, the RUN is left alone. Only a plain
        literal folder is moved (no variables, `-`, `~` or quoting), and not
        for RUNs with relative `--mount` targets.

    Why:
        WORKDIR states where the commands run, creates the folder, and keeps
        the RUN itself shorter. Converting `cd` naively changes the working
        folder for the rest of the file: later relative COPY destinations,
        RUNs and CMD would silently move. This rule restores the folder.

    Example:
        # before
        WORKDIR /app
        RUN cd frontend && npm ci && npm run build
        COPY . .
        # after
        WORKDIR /app
        WORKDIR frontend
        RUN npm ci && npm run build
        WORKDIR /app
        COPY . .

    Fix safety:
        Safe: the RUN runs in the same folder, and every later instruction in
        the folder it had. WORKDIR creates a missing folder where `cd` would
        have failed, which only changes builds that failed.
    """

    id = "DO111"
    name = "cd-to-workdir"

    def check(self, doc: Doc, ctx: PassContext) -> Iterable[Change]:
        out: list[Change] = []
        for stage in doc.stages:
            wds = workdirs(stage)
            for ins in stage.body:
                ch = self._run(doc, stage, ins, wds.get(ins.index))
                if ch is not None:
                    out.append(ch)
        return out

    def _run(self, doc: Doc, stage: Stage, run: Instruction, wd: str | None) -> Change | None:
        rs = run_script(run)
        if rs is None or not rs.script.ok or len(rs.script.items) < 2:
            return None
        first, second = rs.script.items[0], rs.script.items[1]
        if not first.simple or second.op_before != "&&":
            return None
        cmd = rs.script.commands[first.commands[0]]
        if cmd.assignments or cmd.redirected or len(cmd.argv) != 2 or cmd.argv[0].value != "cd":
            return None
        target = cmd.argv[1].value
        if target is None or target in ("-", ".") or not _PLAIN_PATH.match(target) or cmd.argv[1].text != target:
            return None
        if _relative_mount(run):
            return None
        text = doc.text
        nl = doc.newline
        restore = _needs_restore(stage, run)
        if restore and (wd is None or wd.startswith(BASE)):
            return None  # the folder to go back to is the base image's default, unknown here
        lower = run.keyword_raw.islower()
        workdir_kw = "workdir" if lower else "WORKDIR"
        prefix = text[run.range.start : run.args_range.start]  # "RUN --mount=… "
        rest_start = rs.physical(second.start, second.end).start
        new = f"{workdir_kw} {target}{nl}{prefix}{text[rest_start : run.range.end]}"
        if restore:
            new += f"{nl}{workdir_kw} {wd}"
        edit = Edit.replace(run.range.start, run.range.end, new)
        expl = f"`cd {target}` becomes `WORKDIR {target}`, so the folder the RUN works in is stated, not hidden in the script."
        if restore:
            expl += f" A `WORKDIR {wd}` after it keeps the later instructions and the image in the folder they had."
        return self.change(f"Use WORKDIR {target} instead of cd", expl, run, [edit], Safety.SAFE)
