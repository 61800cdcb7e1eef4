"""DO402 init-process."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable

from dockeropt.analysis import leading_comment_start
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import Script, parse_script
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._defer import overlaps, pending_fix_ranges
from dockeropt.transforms._final_stage import base_info, chain, has_expose, inherited, kw, last, restructuring_pending

_LAUNCHERS = frozenset({"npm", "yarn", "pnpm"})
_SHELLS = frozenset({"sh", "bash", "dash", "ash"})
# npm/yarn subcommands that are not a long-running server
_NOT_SERVER = frozenset({"test", "t", "install", "i", "ci", "build", "lint", "audit", "pack", "publish", "exec", "x"})
_INIT = re.compile(r"(^|[\s\"'/\[,])(tini|tini-static|dumb-init|supervisord|s6-svscan|s6-overlay|runsvdir|catatonit|/init)([\s\"',\]]|$)")

# base images whose own ENTRYPOINT only execs its arguments when they are a command
# (node's docker-entrypoint.sh, Temurin's CA-certificate hook): a launcher CMD runs the same without it
_PASS_THROUGH_ENTRYPOINT = frozenset({"node", "eclipse-temurin"})
# families whose images set no ENTRYPOINT
_NO_ENTRYPOINT = frozenset({"python", "debian", "ubuntu", "golang", "rust", "ruby", "openjdk", "amazoncorretto", "alpine", "dotnet"})

_TINI = {"apt": "/usr/bin/tini", "apk": "/sbin/tini"}


def _npm_server(argv: list[str | None]) -> bool:
    """``npm start``, ``yarn run serve``, ``pnpm dev``: a launcher starting a (probably long-running) script."""
    if not argv or argv[0] is None or posixpath.basename(argv[0]) not in _LAUNCHERS:
        return False
    rest = [a for a in argv[1:] if a is not None and not a.startswith("-")]
    if not rest:
        return False  # bare `yarn` installs
    sub = rest[0]
    if sub in ("run", "run-script"):
        return len(rest) > 1 and rest[1] not in _NOT_SERVER
    return sub not in _NOT_SERVER


def _script_launches_npm(script: Script) -> bool:
    return any(_npm_server(list(c.words)) for c in script.commands)


@register
class InitProcess(Pass):
    """Run an init (tini) as PID 1 when the server starts through a shell or npm.

    What it does:
        In the final stage, when the container's command starts a long-running
        server through a launcher that does not pass signals on (`npm start`,
        `yarn start`, a shell-form CMD that chains commands, `sh -c "…"`), it
        installs `tini` (apt on Debian and Ubuntu bases, apk on Alpine) right
        after FROM and runs it as the ENTRYPOINT: `["/usr/bin/tini", "-g", "--"]`
        (Alpine: `/sbin/tini`); `-g` sends signals to the whole process group,
        so the server behind the shell or npm gets SIGTERM too. An ENTRYPOINT the stage already has keeps
        running, after tini (a shell-form one as `/bin/sh -c "…"`, as before).
        On distroless bases, which have no package manager, it only suggests
        `docker run --init`. Nothing happens when an init is already there
        (tini, dumb-init, s6, supervisord, runit, catatonit).

    Why:
        `docker stop` sends SIGTERM to PID 1. A shell or npm as PID 1 does not
        pass it on to the server, so Docker waits its 10-second grace period
        and then kills everything: no clean shutdown, open requests cut, and
        every deploy or restart 10 seconds slower. tini forwards signals and
        reaps zombie processes, so the stop takes a moment and the app can
        shut down cleanly.

    Example:
        # before
        FROM node:18-slim
        WORKDIR /app
        COPY . .
        CMD ["npm", "start"]
        # after
        FROM node:18-slim
        RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
        WORKDIR /app
        COPY . .
        ENTRYPOINT ["/usr/bin/tini", "-g", "--"]
        CMD ["npm", "start"]

    Fix safety:
        Review: the image gains the tini package (about 30 kB) and an
        ENTRYPOINT. Applied only on bases whose own ENTRYPOINT is known (none,
        or one that just runs the command, like node's), as root, in the
        final stage, and only when the stage sets CMD itself (a new
        ENTRYPOINT resets an inherited CMD). Check that the app exits on
        SIGTERM.
    """

    id = "DO402"
    name = "init-process"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return []
        stage = doc.stages[-1]
        found = self._check(doc, ctx, stage)
        return [found] if found is not None else []

    def _check(self, doc: Dockerfile, ctx: PassContext, stage: Stage) -> Change | None:
        stages = chain(doc, stage)
        cmd = last(stage, "CMD")
        ep = last(stage, "ENTRYPOINT")
        if cmd is None and ep is None:
            return None
        # an init already there
        for st in stages:
            for ins in st.body:
                if ins.keyword in ("ENTRYPOINT", "CMD") and _INIT.search(ins.args):
                    return None
        if ep is None and inherited(doc, stage, "ENTRYPOINT") is not None:
            return None
        launch = self._launcher(doc, stage, ep, cmd)
        if launch is None:
            return None
        what, target = launch
        info = base_info(doc, stage)
        if info is None:
            return None
        if info.is_distroless:
            return self.change(
                "Run the container with --init",
                f"{what} is PID 1 and does not pass SIGTERM on, so `docker stop` waits 10 seconds and then kills the "
                "app. A distroless base has no package manager to install tini: start the container with "
                "`docker run --init` (compose: `init: true`), so stopping it is a clean shutdown.",
                target,
            )
        if restructuring_pending(doc, ctx, stage):
            return None  # the stage is about to be rebuilt (runtime stage, slim base): look again afterwards
        if any(overlaps(pending_fix_ranges("DO401", doc, ctx), i.range.start, i.range.end) for i in (cmd, ep) if i is not None):
            return None  # exec form first: it may make the app PID 1 by itself
        pm = info.package_manager
        if pm not in _TINI or info.os not in ("debian", "ubuntu", "alpine"):
            return None
        if ep is None and info.family not in _NO_ENTRYPOINT and not (
            info.family in _PASS_THROUGH_ENTRYPOINT and cmd is not None and self._cmd_is_command(cmd)
        ):
            return None  # the base's own ENTRYPOINT would be replaced
        if info.default_user not in (None, "root"):
            return None
        for st in stages[1:]:
            if any(i.keyword in ("USER", "SHELL") for i in st.body):
                return None  # the install would not run as root, or under another shell
        tini = _TINI[pm]
        nl = doc.newline
        frm = stage.from_instruction
        if pm == "apt":
            install = f"{kw(stage, 'RUN')} apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*"
            source = "apt"
        else:
            install = f"{kw(stage, 'RUN')} apk add --no-cache tini"
            source = "apk"
        edits = [Edit.insert(frm.full_range.end, install + nl) if frm.text.endswith("\n") else Edit.insert(frm.range.end, nl + install)]
        if ep is not None:
            if ep.json and ep.exec_args is not None:
                argv = [tini, "-g", "--", *ep.exec_args]
            elif not ep.json:
                if any(i.keyword == "SHELL" for st in stages for i in st.body):
                    return None
                argv = [tini, "-g", "--", "/bin/sh", "-c", ep.args.strip()]
            else:
                return None
            rng = ep.args_range
            edits.append(Edit.replace(rng.start, rng.end, json.dumps(argv, ensure_ascii=False)))
        else:
            assert cmd is not None
            at = leading_comment_start(cmd)
            edits.append(Edit.insert(at, f"{kw(stage, 'ENTRYPOINT')} {json.dumps([tini, '-g', '--'])}{nl}"))
        expl = (
            f"{what} is PID 1 and does not pass SIGTERM on to the server, so `docker stop` waits its 10-second grace "
            f"period and then kills the app. tini (from {source}) now runs as PID 1: it forwards SIGTERM to the whole "
            "process group and reaps zombie processes, so the 10-second kill becomes a clean shutdown. Check that the app exits on SIGTERM."
        )
        if ep is not None:
            expl += " The existing ENTRYPOINT still runs, started by tini."
        return self.change("Run tini as PID 1 so docker stop shuts the app down cleanly", expl, target, edits, Safety.REVIEW)

    @staticmethod
    def _cmd_is_command(cmd: Instruction) -> bool:
        """The CMD's first word is a program (a base ENTRYPOINT like docker-entrypoint.sh just runs it)."""
        if not cmd.json:
            return True  # /bin/sh -c …
        argv = cmd.exec_args or ()
        return bool(argv) and not argv[0].startswith("-") and not argv[0].endswith((".js", ".mjs", ".cjs"))

    def _launcher(self, doc: Dockerfile, stage: Stage, ep: Instruction | None, cmd: Instruction | None) -> tuple[str, Instruction] | None:
        """(description of what is PID 1, the instruction) when a launcher starts a server; else None."""
        ins = ep if ep is not None else cmd
        assert ins is not None
        server = has_expose(doc, stage)
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
        if prog in _LAUNCHERS and _npm_server(list(argv)):
            return f"`{prog}` (`{' '.join(argv)}`)", ins
        if prog in _SHELLS and len(argv) >= 3 and argv[1] == "-c":
            inner = parse_script(argv[2])
            if inner.ok and len(inner.items) == 1 and inner.items[0].simple and inner.commands and inner.commands[0].argv and inner.commands[0].argv[0].value == "exec":
                return None
            if server or (inner.ok and _script_launches_npm(inner)):
                return f"`{prog}` (running `{_short(argv[2])}`)", ins
        return None


def _short(text: str, limit: int = 60) -> str:
    t = " ".join(text.split())
    return t if len(t) <= limit else t[: limit - 3] + "..."
