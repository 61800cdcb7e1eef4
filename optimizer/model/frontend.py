"""Which Dockerfile features the build that runs this file can use.

The ``# syntax=`` directive names the frontend; without it the engine's
built-in frontend runs, whose version follows from the ``buildkit`` setting
(the engine's BuildKit version). The feature table and the built-in frontend
of each BuildKit release are data (``catalog/frontend.json``). A frontend
dockeropt does not know (a custom image, a digest it cannot date) supports
nothing new: passes then decline with a note.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@cache
def _data() -> dict[str, Any]:
    return json.loads(resources.files("dockeropt.catalog").joinpath("frontend.json").read_text(encoding="utf-8"))


def _version(text: str) -> tuple[int, int] | None:
    m = re.match(r"^(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    # "1" floats to the newest 1.x release: every stable 1.x feature
    return (int(m.group(1)), int(m.group(2)) if m.group(2) is not None else 999)


@dataclass(frozen=True)
class Frontend:
    """The Dockerfile frontend in effect."""

    source: str  # "directive" | "setting" | "default"
    directive: str | None  # the ``# syntax=`` value, if any
    version: tuple[int, int] | None  # None: a frontend dockeropt does not know
    channel: str  # "stable" | "labs" | "experimental" | "unknown"

    @property
    def label(self) -> str:
        if self.directive is not None:
            return f"`# syntax={self.directive}`"
        if self.source == "setting":
            return "the engine's built-in frontend (from the `buildkit` setting)"
        return "an engine's built-in frontend (no `# syntax=` line; dockeropt assumes BuildKit 0.8, Docker 20.10)"

    def supports(self, feature: str) -> bool:
        """Can a file built by this frontend use ``feature`` (a key of ``frontend.json``)?"""
        spec = _data()["features"].get(feature)
        if spec is None:
            raise KeyError(f"unknown frontend feature {feature!r}")
        if self.version is None:
            return False
        since = _version(spec["since"])
        assert since is not None
        if self.version >= since:
            return True
        alt = {"experimental": spec.get("experimental_since"), "labs": spec.get("labs_since")}.get(self.channel)
        if alt is not None:
            v = _version(alt)
            return v is not None and self.version >= v
        return False

    def feature_text(self, feature: str) -> str:
        return str(_data()["features"][feature]["what"])


def frontend_for(directive: str | None, buildkit: str | None) -> Frontend:
    """The frontend for a file with ``# syntax=<directive>`` built on an engine with BuildKit ``buildkit``."""
    data = _data()
    if directive is not None:
        d = directive.strip()
        ref = d.partition("@")[0]
        name, tag = ref.rsplit(":", 1) if ":" in ref.rsplit("/", 1)[-1] else (ref, "")
        if name not in data["official_frontends"]:
            return Frontend("directive", d, None, "unknown")
        if not tag or tag in ("latest",):
            return Frontend("directive", d, (1, 999), "stable")
        channel = "stable"
        if tag.endswith("-labs"):
            channel = "labs"
        elif tag.endswith("-experimental") or tag == "experimental":
            channel = "experimental"
        if tag == "experimental":
            return Frontend("directive", d, (1, 999), "experimental")
        v = _version(tag)
        return Frontend("directive", d, v, channel if v is not None else "unknown")
    if buildkit is not None:
        m = re.match(r"^v?(\d+)\.(\d+)", buildkit.strip())
        table: dict[str, str] = data["builtin_frontend"]
        if m:
            key = f"{int(m.group(1))}.{int(m.group(2))}"
            if key in table:
                return Frontend("setting", None, _version(table[key]), "stable")
            known = sorted((_version(k) or (0, 0), v) for k, v in table.items())
            mine = (int(m.group(1)), int(m.group(2)))
            older = [v for k, v in known if k <= mine]
            if older:
                return Frontend("setting", None, _version(older[-1]), "stable")
        return Frontend("setting", None, None, "unknown")
    return Frontend("default", None, _version(data["default_builtin"]), "stable")


DIRECTIVE = "# syntax=docker/dockerfile:1"


def mount_plan(frontend: Frontend, has_directive: bool, syntax_directive: bool) -> tuple[bool, bool]:
    """May a pass write ``RUN --mount``, and must it add :data:`DIRECTIVE` with it? ``(allowed, add_directive)``.

    One rule for every pass that writes mounts: with the ``syntax_directive`` setting and no ``# syntax=`` line,
    the pass adds the directive (and the current frontend has mounts); otherwise mounts are allowed only when
    the frontend in effect has them.
    """
    if syntax_directive and not has_directive:
        return True, True
    return frontend.supports("run-mount"), False
