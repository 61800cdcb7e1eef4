"""DO106 pip-no-cache."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import Command, Word
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._hygiene import (
    cache_mount_targets,
    env_before,
    has_flag,
    insert_after,
    script_sets,
    stage_runs,
)

_PIP = re.compile(r"^pip(\d+(\.\d+)?)?$")
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


def pip_install_word(cmd: Command) -> tuple[Word, tuple[Word, ...]] | None:
    """The ``install`` word of a pip install (pip, pip3, python -m pip) and the words after it."""
    eff = cmd.effective()
    name = cmd.name
    if name is None:
        return None
    if _PIP.match(name):
        rest = eff[1:]
    elif _PYTHON.match(name):
        args = eff[1:]
        # python [-I|-E|-s|-u|-B] -m pip ...
        i = 0
        while i < len(args) and args[i].value in ("-I", "-E", "-s", "-u", "-B", "-q"):
            i += 1
        if len(args) < i + 2 or args[i].value != "-m" or args[i + 1].value != "pip":
            return None
        rest = args[i + 2 :]
    else:
        return None
    # global options before the subcommand (valueless only)
    j = 0
    while j < len(rest) and rest[j].value in ("-q", "--quiet", "-v", "--verbose", "--disable-pip-version-check", "--no-input", "--isolated", "--no-color", "-qq", "-vv"):
        j += 1
    if j < len(rest) and rest[j].value == "install":
        return rest[j], rest[:j] + rest[j + 1 :]
    return None


@register
class PipNoCache(Pass):
    """Add --no-cache-dir to pip install when no cache mount keeps pip's cache.

    What it does:
        Adds `--no-cache-dir` after `install` in `pip install`, `pip3
        install` and `python -m pip install` commands of a RUN that has no
        cache mount over pip's cache (`~/.cache/pip`) and where neither
        the command nor an earlier ENV sets `PIP_NO_CACHE_DIR` or
        `PIP_CACHE_DIR`. Where DO102 (cache-mounts) will mount pip's cache
        on the RUN, this rule stays quiet, so the two never fight; where DO102
        cannot (an unknown user or HOME), this rule still keeps the cache out
        of the layer.

    Why:
        pip keeps every wheel it downloads or builds in its cache. In an
        image that cache is never used again but stays in the layer, often
        tens of megabytes (hundreds for packages such as torch).

    Example:
        # before
        RUN pip install -r requirements.txt
        # after
        RUN pip install --no-cache-dir -r requirements.txt

    Fix safety:
        Safe: pip installs the same packages; only its download cache is not
        written.
    """

    id = "DO106"
    name = "pip-no-cache"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for stage in doc.stages:
            yield from self._stage(doc, stage, ctx)

    @staticmethod
    def _do102_mounts_pip(doc: Dockerfile, stage: Stage, ins: Instruction, ctx: PassContext) -> bool:
        """Will DO102 put a cache mount over pip's cache on this RUN? Then it, not we, handles it."""
        if not ctx.enabled("DO102"):
            return False
        from dockeropt.transforms.do102_cache_mounts import plan_run

        plan = plan_run(doc, stage, ins, ctx)
        return plan is not None and any(t.manager.id == "pip" for t in plan.targets)

    def _stage(self, doc: Dockerfile, stage: Stage, ctx: PassContext) -> Iterable[Change]:
        for ins, rs in stage_runs(stage):
            if self._do102_mounts_pip(doc, stage, ins, ctx):
                continue  # DO102 adds a cache mount for pip instead; never both
            targets = cache_mount_targets(ins)
            if any(t == "?" or ".cache" in t or "pip" in t for t in targets):
                continue
            if any(env_before(stage, ins, k)[0] for k in ("PIP_NO_CACHE_DIR", "PIP_CACHE_DIR")):
                continue
            if script_sets(rs, "PIP_NO_CACHE_DIR") or script_sets(rs, "PIP_CACHE_DIR"):
                continue
            edits: list[Edit] = []
            for cmd in rs.script.commands:
                found = pip_install_word(cmd)
                if found is None:
                    continue
                word, rest = found
                if has_flag(rest, "--no-cache-dir", "--cache-dir"):
                    continue
                edits.append(insert_after(rs, word, "--no-cache-dir"))
            if not edits:
                continue
            n = len(edits)
            yield self.change(
                "Add --no-cache-dir to pip install",
                f"pip no longer writes its download and wheel cache into this layer ({n} command{'s' if n > 1 else ''}); "
                "the same packages are installed. To keep the cache between builds instead, use a cache mount "
                "(DO102 cache-mounts).",
                ins,
                edits,
                Safety.SAFE,
            )
