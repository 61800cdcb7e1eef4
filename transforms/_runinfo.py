"""Thin re-export for ``_final_stage`` while it moves onto the image model: stages a stage is built FROM.

Not a pass (the leading underscore keeps it out of pass discovery).
"""

from __future__ import annotations

from dockeropt.syntax import Dockerfile, Stage
from dockeropt.transforms._hygiene import stage_graph


def ancestors(doc: Dockerfile, stage: Stage) -> list[Stage]:
    """Stages ``stage`` builds on, nearest first (the model's graph)."""
    return [doc.stages[i] for i in stage_graph(doc)[stage.index].ancestors]
