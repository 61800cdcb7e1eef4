"""DO111 cd-to-workdir."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import Item, Script
from dockeropt.syntax import Dockerfile as Doc
from dockeropt.syntax import Instruction, Stage

_PLAIN_PATH = re.compile(r"^[A-Za-z0-9_./@+-]+$")
# instructions whose meaning depends on the working folder
_USES_CWD = frozenset({"RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK", "ONBUILD"})


def _relative_mount(m: ImageModel, ins: Instruction) -> bool:
    facts = m.run(ins)
    if facts is None:
        return True
    return any(mt.target is None or not mt.target.startswith("/") for mt in facts.mounts)


def _workdir_written(m: ImageModel, ins: Instruction) -> bool:
    """A WORKDIR instruction of the stage (or a stage it is built FROM) set the folder ``ins`` runs in."""
    for node in m.chain(ins.stage_index):
        if any(i.keyword == "WORKDIR" and i.index < ins.index for i in node.stage.body):
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
            if ins.heredocs or len(ins.words) < 2 or not ins.words[-1].startswith("/"):
                return True
    return True  # the stage's image (a --target, the final image, a stage built FROM it) keeps its WORKDIR


def _returns_with_oldpwd(script: Script, first: Item) -> str | None:
    """``cd -`` or ``$OLDPWD`` after the leading ``cd``: the shell's record of the folder it left, which a RUN that
    starts in the WORKDIR does not have. Returns the text that uses it."""
    start = script.commands[first.commands[0]] if first.commands else None
    for c in script.commands:
        if c is start:
            continue
        words = [w.text for w in c.argv]
        if len(words) >= 2 and words[0] == "cd" and words[1] == "-":
            return "cd -"
        for w in words:
            if "OLDPWD" in w:
                return w
    return None


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
        for RUNs with relative `--mount` targets. A RUN that goes back with
        `cd -` or `$OLDPWD` keeps its `cd`, with a note: in a RUN that starts
        in the WORKDIR there is no previous folder to go back to.

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
    messages = {
        "workdir": Message(
            "Use WORKDIR {target} instead of cd",
            "`cd {target}` becomes `WORKDIR {target}`, so the folder the RUN works in is stated, not hidden in the "
            "script.{restore}",
        ),
        "oldpwd": Message(
            "`cd {target}` kept: the RUN goes back with `{back}`",
            "Line {line} later runs `{back}`, which returns to the folder the shell left with `cd {target}`. As "
            "`WORKDIR {target}` the shell would start there with no previous folder, so `{back}` would stay in "
            "{target} and the commands after it would run in the wrong folder (or fail). dockeropt leaves the RUN "
            "as it is; write the folder to go back to (`cd /app`) to let it move the `cd` into WORKDIR.",
        ),
    }

    def check(self, doc: Doc, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        out: list[Change] = []
        for node in m.graph.nodes:
            for ins in node.stage.body:
                if ins.keyword != "RUN":
                    continue  # only RUNs have facts (_run would return None)
                ch = self._run(m, node.stage, ins)
                if ch is not None:
                    out.append(ch)
        return out

    def _run(self, m: ImageModel, stage: Stage, run: Instruction) -> Change | None:
        facts = m.run(run)
        rs = facts.editable if facts is not None else None
        if rs is None or len(rs.script.items) < 2:
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
        if _relative_mount(m, run):
            return None
        back = _returns_with_oldpwd(rs.script, first)
        if back is not None:
            return self.say("oldpwd", run, line=run.start_line, target=target, back=back)
        doc = m.doc
        text = doc.text
        nl = doc.newline
        restore = _needs_restore(stage, run)
        wd = m.state(run).workdir
        if restore and (wd is None or not _workdir_written(m, run)):
            return None  # the folder to go back to is the base image's default, not stated in the file
        workdir_kw = m.style.kw("WORKDIR")
        prefix = text[run.range.start : run.args_range.start]  # "RUN --mount=… "
        rest_start = rs.physical(second.start, second.end).start
        new = f"{workdir_kw} {target}{nl}{prefix}{text[rest_start : run.range.end]}"
        if restore:
            new += f"{nl}{workdir_kw} {wd}"
        edit = Edit.replace(run.range.start, run.range.end, new)
        extra = f" A `WORKDIR {wd}` after it keeps the later instructions and the image in the folder they had." if restore else ""
        return self.say("workdir", run, [edit], Safety.SAFE, target=target, restore=extra)
