"""DO401 exec-form."""

from __future__ import annotations

import json
from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.model.runtime import runtime_catalog
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.shell import parse_script
from dockeropt.syntax import Dockerfile, Instruction, Stage


def _no_forward() -> list[str]:
    """Launchers that start a long-running child and do not forward signals themselves (catalog: init.launchers)."""
    return runtime_catalog()["init"]["launchers"]


def _shells() -> list[str]:
    return runtime_catalog()["tool_images"]["shells"]


def _exec_array(words: list[str]) -> str:
    return json.dumps(words, ensure_ascii=False)


@register
class ExecForm(Pass):
    """Start CMD and ENTRYPOINT in exec form, so the app is PID 1 and receives signals.

    What it does:
        Rewrites a shell-form `CMD` or `ENTRYPOINT` to exec (JSON) form when
        the command is one simple command with literal words (no variables,
        globs, redirections, pipes or `&&`). When the command needs the shell
        only to expand variables (`gunicorn --bind 0.0.0.0:$PORT app:app`), it
        keeps the shell but puts `exec` in front, so the shell replaces itself
        with the app. Anything more complex is left alone with a note. A
        shell-form ENTRYPOINT is only converted when no CMD follows it in the
        stage (exec form would start passing that CMD as arguments).

    Why:
        In shell form Docker runs `/bin/sh -c "…"`: the shell is PID 1 and does
        not forward SIGTERM, so `docker stop` waits its 10-second grace period
        and then kills the app without a clean shutdown. In exec form (or after
        `exec`) the app itself is PID 1 and gets SIGTERM at once.

    Example:
        # before
        CMD gunicorn --workers 2 app:app
        CMD python -m http.server $PORT
        # after
        CMD ["gunicorn", "--workers", "2", "app:app"]
        CMD exec python -m http.server $PORT

    Fix safety:
        Review: the command line is the same words without a shell around
        them. Check that the app handles SIGTERM (most servers do), and, for a
        base image whose ENTRYPOINT wraps CMD (node's docker-entrypoint.sh),
        that it still runs the command. Not applied in a stage that sets its
        own ENTRYPOINT, where CMD's form changes the entrypoint's arguments.
    """

    id = "DO401"
    name = "exec-form"
    messages = {
        "exec": Message(
            "Write {keyword} in exec form",
            "`{command}` runs under /bin/sh, which is PID 1 and does not forward SIGTERM: `docker stop` waits 10 "
            "seconds, then kills the app. In exec form `{program}` is PID 1 and shuts down cleanly. Check that the app "
            "handles SIGTERM.{launcher}",
        ),
        "exec_prefix": Message(
            "Let the shell exec the {keyword} command",
            "`{command}` needs the shell to expand variables, so it keeps shell form, with `exec` in front: the shell "
            "then replaces itself with the app, which becomes PID 1 and receives SIGTERM on `docker stop` instead of "
            "being killed after 10 seconds.",
        ),
        "chain": Message(
            "{keyword} needs a shell; left in shell form",
            "This {keyword} chains several commands, so it stays in shell form and /bin/sh is PID 1: `docker stop` "
            "waits 10 seconds and then kills the app. Move the set-up into the image or an entrypoint script that ends "
            "with `exec`, so the app itself receives SIGTERM.",
        ),
        "entrypoint_then_cmd": Message(
            "Shell-form ENTRYPOINT left as is: a CMD follows it",
            "A shell-form ENTRYPOINT ignores CMD; in exec form the CMD would become its arguments and change what runs. "
            "Decide which one you mean, then write both in exec form so signals reach the app.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for stage in doc.stages:
            yield from self._stage(stage)

    def _stage(self, stage: Stage) -> Iterable[Change]:
        body = stage.body
        entrypoints = [i for i in body if i.keyword == "ENTRYPOINT"]
        for ins in body:
            if ins.keyword not in ("CMD", "ENTRYPOINT") or ins.json or ins.onbuild is not None:
                continue
            if ins.keyword == "CMD" and entrypoints:
                continue  # CMD is the entrypoint's arguments: changing its form changes them
            if ins.keyword == "ENTRYPOINT" and any(i.keyword == "CMD" and i.index > ins.index for i in body):
                yield self.say("entrypoint_then_cmd", ins)
                continue
            yield from self._convert(ins)

    def _convert(self, ins: Instruction) -> Iterable[Change]:
        script = parse_script(ins.args)
        if not script.ok or len(script.items) != 1 or not script.items[0].simple:
            if script.ok and len(script.commands) > 1:
                yield self.say("chain", ins, keyword=ins.keyword)
            return
        cmd = script.commands[0]
        if cmd.assignments or not cmd.argv or cmd.redirected:
            return
        name = cmd.argv[0].value
        if name == "exec" or (name is not None and name.rsplit("/", 1)[-1] in _shells()):
            return  # already exec'ing, or an explicit shell the author chose
        rng = ins.args_range
        # a leading ~ is expanded by the shell only
        values = [None if (w.value is not None and w.value.startswith("~")) else w.value for w in cmd.argv]
        if all(v is not None for v in values):
            words = [v for v in values if v is not None]
            new = _exec_array(words)
            launcher = (f" `{name}` itself may not forward signals to the server it starts; prefer running the server directly."
                        if name in _no_forward() else "")
            yield self.say("exec", ins, [Edit.replace(rng.start, rng.end, new)], Safety.REVIEW, keyword=ins.keyword,
                           command=ins.args.strip(), program=words[0], launcher=launcher)
            return
        # the shell is needed to expand variables: keep it, but let the app replace it
        if any("$(" in w.text or "`" in w.text for w in cmd.argv):
            return
        yield self.say("exec_prefix", ins, [Edit.insert(rng.start, "exec ")], Safety.REVIEW, keyword=ins.keyword,
                       command=ins.args.strip())
