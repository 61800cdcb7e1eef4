"""Thin re-exports for passes of other owners (DO304, ``_final_stage``) while they move onto the image model.

The facts come from the model (:mod:`dockeropt.model.stages`): one ARG reader,
one FROM-stage walker. New code reads ``ctx.model(doc).graph`` instead.

Not a pass (the leading underscore keeps it out of pass discovery).
"""

from __future__ import annotations

from dockeropt.model.stages import StageGraph, build_states
from dockeropt.syntax import Dockerfile, Stage

_LAST: tuple[str, StageGraph] | None = None


def stage_graph(doc: Dockerfile) -> StageGraph:
    """The model's stage graph of ``doc`` (the last one is kept: callers ask once per stage)."""
    global _LAST
    if _LAST is None or _LAST[0] != doc.text:
        _LAST = (doc.text, build_states(doc)[0])
    return _LAST[1]


def base_image(doc: Dockerfile, stage: Stage) -> str | None:
    """The stage's external base image reference (earlier stages followed, ARG defaults applied); None: unknown."""
    g = stage_graph(doc)
    return g[g[stage.index].root].base
