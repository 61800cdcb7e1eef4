"""DO106 pip-no-cache."""

from __future__ import annotations

from collections.abc import Iterable

from dockeropt.edits import Change, Edit, Safety
from dockeropt.model.caches import cache_folders, covered, tool_mount
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile


@register
class PipNoCache(Pass):
    """Add --no-cache-dir to pip install when no cache mount keeps pip's cache.

    What it does:
        Adds `--no-cache-dir` after `install` in `pip install`, `pip3
        install` and `python -m pip install` commands of a RUN that has no
        cache mount over pip's cache (`~/.cache/pip`) and where nothing in
        effect for the command (ENV, ARG, an export or prefix in the RUN)
        sets `PIP_NO_CACHE_DIR` or `PIP_CACHE_DIR`. It runs after DO102
        (cache-mounts): while DO102 has a fix for the stage this rule waits,
        then sees whether pip's cache is mounted, so the two never fight;
        where DO102 cannot mount it (an unknown user or HOME), this rule
        still keeps the cache out of the layer.

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
    after = ("DO102",)
    messages = {
        "no_cache": Message(
            "Add --no-cache-dir to pip install",
            "pip no longer writes its download and wheel cache into this layer ({count}); the same packages are "
            "installed. To keep the cache between builds instead, use a cache mount (DO102 cache-mounts).",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        for node in m.graph.nodes:
            for ins, facts in m.stage_runs(node.index):
                rs = facts.editable
                if rs is None:
                    continue
                edits: list[Edit] = []
                for a in facts.actions:  # by_tool("pip"), without a list per RUN
                    inv = a.invocation
                    if a.tool != "pip" or inv is None or a.verb != "install":
                        continue
                    # (every test below is pure: the cheapest that decides goes first; without mounts the
                    # cache folders cannot matter)
                    folders = cache_folders(a) if facts.mounts else ()
                    if folders and tool_mount(facts.mounts, folders) is not None:
                        continue
                    settled = inv.manager.hygiene or {}  # the install already says what to do with the cache
                    if inv.has_flag(*settled.get("settled_by_flags", ())) or any(name in a.env for name in settled.get("settled_by_env", ())):
                        continue
                    if any(f.path is None or covered(facts.mounts, f.path) is not None for f in folders) and facts.cache_mounts():
                        continue  # a cache mount dockeropt cannot place may be pip's
                    word = inv.subcommand_end
                    edits.append(Edit.insert(rs.physical(word.start, word.end).end, " --no-cache-dir"))
                if not edits:
                    continue
                n = len(edits)
                yield self.say("no_cache", ins, edits, Safety.SAFE, count=f"{n} command{'s' if n > 1 else ''}")
