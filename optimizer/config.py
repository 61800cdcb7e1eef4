"""Settings that change what dockeropt reports and applies."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockeropt.edits import Safety


@dataclass
class Config:
    select: list[str] = field(default_factory=list)  # rule ids or prefixes; empty = all default rules
    ignore: list[str] = field(default_factory=list)
    safe_only: bool = False
    unsafe_fixes: bool = False
    buildkit: str | None = None  # target engine's BuildKit version, e.g. "0.8" (no heredocs)
    syntax_directive: bool = False  # may passes add "# syntax=docker/dockerfile:1"?
    default_uid: int = 10001
    registry_mirror: dict[str, str] = field(default_factory=dict)
    bind_mount_style: bool = False
    resolve_digests: bool = False  # DO303 also pins base images to registry digests (needs the network)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    max_iterations: int = 10

    def mirror(self, image_ref: str) -> str:
        """``image_ref`` rewritten through ``registry_mirror`` (longest matching prefix wins).

        Passes that suggest a base image call this on the reference they are about
        to write, so teams behind an internal mirror get pullable suggestions::

            registry_mirror = {"registry.example/distroless": "mirror.example.internal/distroless"}
            mirror("registry.example/distroless/static-debian12:nonroot")
            -> "mirror.example.internal/distroless/static-debian12:nonroot"

        A prefix matches whole path components only (``"python"`` matches
        ``python:3.12`` and ``python/x`` but not ``pythonista``); references
        without a matching prefix are returned unchanged.
        """
        best = ""
        for prefix in self.registry_mirror:
            p = prefix.rstrip("/")
            if len(p) <= len(best) or not image_ref.startswith(p):
                continue
            rest = image_ref[len(p) :]
            if rest == "" or rest[0] in "/:@":
                best = p
        if not best:
            return image_ref
        target = self.registry_mirror.get(best, self.registry_mirror.get(best + "/", best)).rstrip("/")
        return target + image_ref[len(best) :]

    @property
    def min_safety(self) -> Safety:
        if self.unsafe_fixes:
            return Safety.UNSAFE
        if self.safe_only:
            return Safety.SAFE
        return Safety.REVIEW
