"""DO402 init-process."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from dockeropt.analysis import leading_comment_start
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel
from dockeropt.model.programs import programs
from dockeropt.model.runtime import runtime_catalog
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import Script, parse_script
from dockeropt.syntax import Dockerfile, Instruction


def _init() -> dict[str, Any]:
    return runtime_catalog()["init"]


@cache
def _init_rx() -> re.Pattern[str]:
    names = "|".join(re.escape(p) for p in _init()["programs"])
    return re.compile(rf"(^|[\s\"'/\[,])({names})([\s\"',\]]|$)")


def _shells() -> list[str]:
    return runtime_catalog()["tool_images"]["shells"]


def _npm_server(argv: list[str | None]) -> bool:
    """``npm start``, ``yarn run serve``, ``pnpm dev``: a launcher starting a (probably long-running) script."""
    cat = _init()
    if not argv or argv[0] is None or posixpath.basename(argv[0]) not in cat["launchers"]:
        return False
    rest = [a for a in argv[1:] if a is not None and not a.startswith("-")]
    if not rest:
        return False  # bare `yarn` installs
    sub = rest[0]
    if sub in ("run", "run-script"):
        return len(rest) > 1 and rest[1] not in cat["not_server"]
    return sub not in cat["not_server"]


def _script_launches_npm(script: Script) -> bool:
    return any(_npm_server(list(c.words)) for c in script.commands)


def _pip_accepts_more(m: ImageModel, ctx: PassContext, stage: int, ins: Instruction, a) -> bool:  # type: ignore[no-untyped-def]
    """Can one more package join this pip install? Not in hash-checking or offline mode (it would fail)."""
    if a.has_flag("--require-hashes", "--no-index", "--no-deps", "--find-links", "-f"):
        return False
    for manifest in a.manifests:
        src = m.context_source(stage, manifest, before=ins.index)
        text = ctx.context.read_text(src) if ctx.context is not None and src is not None else None
        if text is None or "--hash" in text or "--no-index" in text or "--find-links" in text:
            return False
    return True


def _short(text: str, limit: int = 60) -> str:
    t = " ".join(text.split())
    return t if len(t) <= limit else t[: limit - 3] + "..."


@register
class InitProcess(Pass):
    """Run an init as PID 1 when the server starts through a shell or npm, without slowing the build.

    What it does:
        In the final stage, when the container's command starts a long-running
        server through a launcher that does not pass signals on (`npm start`,
        `yarn start`, a shell-form CMD that chains commands, `sh -c "…"`), it
        makes an init PID 1 and keeps the command as its arguments
        (`ENTRYPOINT ["/usr/bin/tini", "-g", "--"]`; `-g` signals the whole
        process group, so the server behind the shell or npm gets SIGTERM
        too). It only adds one where that costs no extra package-index
        download: tini or dumb-init the image already installs; `apk add
        --no-cache tini` on Alpine; `dumb-init` (a static binary on PyPI)
        added to the stage's own `pip install`, or in a small pip layer of
        its own on python images; `tini` added to an `apt-get install` the
        stage already runs. Anywhere else (a Debian or Ubuntu base whose
        stage installs nothing with apt, distroless) a fresh `apt-get update`
        would be needed, which more than doubles a small app's cold build,
        so it explains `docker run --init` (compose: `init: true`) instead.
        An ENTRYPOINT the stage already has keeps running, after the init (a
        shell-form one as `/bin/sh -c "…"`, as before). Nothing happens when
        an init is already there (tini, dumb-init, s6, supervisord, runit,
        catatonit).

    Why:
        `docker stop` sends SIGTERM to PID 1. A shell or npm as PID 1 does not
        pass it on to the server, so Docker waits its 10-second grace period
        and then kills everything: no clean shutdown, open requests cut, and
        every deploy or restart 10 seconds slower. An init forwards signals
        and reaps zombie processes, so the stop takes a moment and the app
        can shut down cleanly.

    Example:
        # before
        FROM alpine:3.20
        COPY app /app
        CMD ["sh", "-c", "cd /app && ./server"]
        # after
        FROM alpine:3.20
        RUN apk add --no-cache tini
        COPY app /app
        ENTRYPOINT ["/sbin/tini", "-g", "--"]
        CMD ["sh", "-c", "cd /app && ./server"]

    Fix safety:
        Review: the image gains a small init binary and an ENTRYPOINT.
        Applied only on bases whose own ENTRYPOINT is known (none, or one that
        just runs the command, like node's), as root, in the final stage, and
        only when the stage sets CMD itself (a new ENTRYPOINT resets an
        inherited CMD). Check that the app exits on SIGTERM.
    """

    id = "DO402"
    name = "init-process"
    after = ("DO201", "DO202", "DO401")
    messages = {
        "added": Message(
            "Run {init} as PID 1 so docker stop shuts the app down cleanly",
            "{what} is PID 1 and does not pass SIGTERM on to the server, so `docker stop` waits its 10-second grace "
            "period and then kills the app. {init} now runs as PID 1, installed {via}: it forwards SIGTERM to the "
            "whole process group and reaps zombie processes, so the 10-second kill becomes a clean shutdown. Check "
            "that the app exits on SIGTERM.{kept}",
        ),
        "use_init_flag": Message(
            "Run the container with --init",
            "{what} is PID 1 and does not pass SIGTERM on, so `docker stop` waits 10 seconds and then kills the app. "
            "{why} Start the container with `docker run --init` (compose: `init: true`): Docker's own init then runs "
            "as PID 1, so stopping it is a clean shutdown.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return []
        found = self._check(ctx.model(doc), ctx)
        return [found] if found is not None else []

    def _check(self, m: ImageModel, ctx: PassContext) -> Change | None:
        final = m.graph.final
        rt = m.runtime
        if final is None or rt is None:
            return None
        start = rt.start
        ep, cmd = start.entrypoint, start.cmd
        own = lambda i: i is not None and i.stage_index == final.index and i.onbuild is None  # noqa: E731
        if ep is not None and not own(ep):
            return None  # the ENTRYPOINT comes from the stage this one is built FROM
        ep = ep if own(ep) else None
        cmd = cmd if own(cmd) else None
        if cmd is None and ep is None:
            return None
        chain = m.chain(final.index)
        for n in chain:
            for ins in n.stage.body:
                if ins.keyword in ("ENTRYPOINT", "CMD") and _init_rx().search(ins.args):
                    return None  # an init already there
        launch = self._launcher(m, ep, cmd)
        if launch is None:
            return None
        what, target = launch
        img = final.image
        info = img.info if img is not None else None
        if info is None:
            return None
        if info.is_distroless:
            return self.say("use_init_flag", target, what=what,
                            why="A distroless base has no package manager to install an init.")
        entry = _init()["entrypoints"]
        if ep is None and info.family not in entry["none"] and not (
            info.family in entry["pass_through"] and cmd is not None and self._cmd_is_command(cmd)
        ):
            return None  # the base's own ENTRYPOINT would be replaced
        first = final.stage.body[0] if final.stage.body else None
        st = m.state(first) if first is not None else None
        if st is None or st.user.is_root is not True or tuple(st.shell) != ("/bin/sh", "-c"):
            return None  # the install would not run as root, or under another shell
        if ep is not None and not ep.json and any(i.keyword == "SHELL" for n in chain for i in n.stage.body):
            return None
        way = self._way(m, ctx, final.index, info)
        if way is None:
            pm = info.package_manager or "a package manager"
            why = (f"Installing tini on `{img.text if img else final.base_text}` would need its own `{pm}` index "
                   "download (`apt-get update`), which more than doubles a small app's cold build, and the stage "
                   "installs nothing with it that tini could join.")
            return self.say("use_init_flag", target, what=what, why=why)
        edits, argv0, via, init = way
        if ep is not None:
            if ep.json and ep.exec_args is not None:
                argv = [*argv0, *ep.exec_args]
            elif not ep.json:
                argv = [*argv0, "/bin/sh", "-c", ep.args.strip()]
            else:
                return None
            rng = ep.args_range
            edits.append(Edit.replace(rng.start, rng.end, json.dumps(argv, ensure_ascii=False)))
        else:
            assert cmd is not None
            at = leading_comment_start(cmd)
            edits.append(Edit.insert(at, m.style.line(f"ENTRYPOINT {json.dumps(argv0)}") + m.style.newline))
        kept = " The existing ENTRYPOINT still runs, started by the init." if ep is not None else ""
        return self.say("added", target, edits, Safety.REVIEW, what=what, init=init, via=via, kept=kept)

    # ------------------------------------------------------------------ parts

    def _way(self, m: ImageModel, ctx: PassContext, stage: int, info) -> tuple[list[Edit], list[str], str, str] | None:  # type: ignore[no-untyped-def]
        """(edits that add an init, its ENTRYPOINT words, where it comes from, its name) or None."""
        have = programs(m, stage)
        for name, spec in _init()["installed"].items():
            prog = have.get(name)
            if prog is not None and prog.instruction is not None:
                return [], [prog.path or spec["entrypoint"][0], *spec["entrypoint"][1:]], f"already, by line {m.doc.instructions[prog.instruction].start_line}", name
        node = m.graph[stage]
        frm = node.stage.from_instruction
        nl = m.style.newline
        for way in _init()["ways"]:
            if way.get("package_manager") and way["package_manager"] != info.package_manager:
                continue
            if way.get("family") and way["family"] != info.family:
                continue
            init = posixpath.basename(way["entrypoint"][0])
            if "merge" in way:
                edit = self._merge(m, ctx, stage, way["merge"], way["package"])
                if edit is None:
                    continue
                return [edit], list(way["entrypoint"]), way["via"], init
            line = m.style.line(f"RUN {way['install']}")
            edit = Edit.insert(frm.full_range.end, line + nl) if frm.text.endswith("\n") else Edit.insert(frm.range.end, nl + line)
            return [edit], list(way["entrypoint"]), way["via"], init
        return None

    @staticmethod
    def _merge(m: ImageModel, ctx: PassContext, stage: int, tool: str, package: str) -> Edit | None:
        """Add ``package`` to an install of ``tool`` the stage already runs as root (no extra index download)."""
        for ins, facts in m.stage_runs(stage):
            if facts.editable is None or not facts.understood:
                continue
            for a in facts.actions:
                if a.tool != tool or a.verb != "install" or a.user.is_root is not True:
                    continue
                if tool == "pip" and not any(w.kind == "system" for w in a.writes):
                    continue  # a venv or --user install puts the binary off PATH
                if tool == "pip" and not _pip_accepts_more(m, ctx, stage, ins, a):
                    continue
                cmd = facts.editable.script.commands[a.index]
                words = cmd.argv
                if not words or cmd.redirected:
                    continue
                last = words[-1]
                rng = facts.editable.physical(last.start, last.end)
                return Edit.insert(rng.end, f" {package}")
        return None

    @staticmethod
    def _cmd_is_command(cmd: Instruction) -> bool:
        """The CMD's first word is a program (a base ENTRYPOINT like docker-entrypoint.sh just runs it)."""
        if not cmd.json:
            return True  # /bin/sh -c …
        argv = cmd.exec_args or ()
        return bool(argv) and not argv[0].startswith("-") and not argv[0].endswith((".js", ".mjs", ".cjs"))

    def _launcher(self, m: ImageModel, ep: Instruction | None, cmd: Instruction | None) -> tuple[str, Instruction] | None:
        """(description of what is PID 1, the instruction) when a launcher starts a server; else None."""
        ins = ep if ep is not None else cmd
        assert ins is not None
        rt = m.runtime
        server = bool(rt is not None and rt.exposed)
        if not ins.json:
            script = parse_script(ins.args)
            if not script.ok or not script.commands:
                return None
            if len(script.items) == 1 and script.items[0].simple:
                c = script.commands[0]
                if c.argv and c.argv[0].value == "exec":
                    return None  # the shell replaces itself with the app
                if _npm_server(list(c.words)):
                    return f"`/bin/sh -c \"{ins.args.strip()}\"` (a shell running npm)", ins
            if server or _script_launches_npm(script):
                return f"`/bin/sh` (running `{_short(ins.args)}`)", ins
            return None
        argv = list(ins.exec_args or ())
        if not argv:
            return None
        prog = posixpath.basename(argv[0])
        if prog in _init()["launchers"] and _npm_server(list(argv)):
            return f"`{prog}` (`{' '.join(argv)}`)", ins
        if prog in _shells() and len(argv) >= 3 and argv[1] == "-c":
            inner = parse_script(argv[2])
            if inner.ok and len(inner.items) == 1 and inner.items[0].simple and inner.commands and inner.commands[0].argv and inner.commands[0].argv[0].value == "exec":
                return None
            if server or (inner.ok and _script_launches_npm(inner)):
                return f"`{prog}` (running `{_short(argv[2])}`)", ins
        return None
