"""DO303 pin-base-tag."""

from __future__ import annotations

from collections.abc import Iterable

from dockeropt.catalog.images import ImageRef, current_version_tag, family_of, parse_image
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.source import TextRange
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms import _registry


def _image_word(ins: Instruction) -> tuple[str, TextRange] | None:
    """The image reference a FROM names, and its document range."""
    words = ins.args.split()
    if not words:
        return None
    word = words[0]
    rng = ins.logical.physical(ins.args_start, ins.args_start + len(word))
    if not ins.logical.is_contiguous(ins.args_start, ins.args_start + len(word)):
        return None
    return word, rng


def _external(doc: Dockerfile, stage: Stage) -> ImageRef | None:
    """The parsed base of a stage that names an image (not a variable, an earlier stage or scratch)."""
    base = stage.base
    if "$" in base or base.lower() == "scratch":
        return None
    earlier = doc.stage_named(base)
    if earlier is not None and earlier.index < stage.index:
        return None
    return parse_image(base)


@register
class PinBaseTag(Pass):
    """Pin `latest` (or a missing tag) to the current version of the base image.

    What it does:
        A FROM whose image has no tag or the `latest` tag gets the catalog's
        current version of that image family: `node` becomes `node:22`,
        `python:latest` becomes `python:3.12`, `debian` becomes
        `debian:bookworm`. Variables, digests, earlier stages, `scratch` and
        images the catalog does not know are left alone. With the
        `resolve_digests` setting (`dockeropt fix --resolve-digests`) it also
        asks the registry for the digest of every tagged base and pins it
        (`node:22@sha256:…`); without a network it says so in one line and
        pins nothing.

    Why:
        `latest` moves. The same Dockerfile builds on another major version
        the day a new one is published, so a rebuild with no code change can
        break, and two machines build different images. A version tag changes
        only with patch releases; a digest never changes.

    Example:
        # before
        FROM python
        FROM node:latest AS web
        # after
        FROM python:3.12
        FROM node:22 AS web

    Fix safety:
        Review: the pinned version is the catalog's current one, which may be
        newer (or older) than the image an earlier build pulled as `latest`.
        Check the app against that version. Digest pins are the image the
        tag names today; they stop security updates until you bump them.
    """

    id = "DO303"
    name = "pin-base-tag"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        out: list[Change] = []
        unresolved: list[str] = []
        reason: str | None = None
        for stage in doc.stages:
            ref = _external(doc, stage)
            found = _image_word(stage.from_instruction)
            if ref is None or found is None:
                continue
            word, rng = found
            if word != stage.base:
                continue
            fam = family_of(ref)
            if ref.digest is None and (ref.tag is None or ref.tag == "latest"):
                if fam is None:
                    continue
                tag = current_version_tag(fam[0])
                if tag is None:
                    continue
                new = str(ref.with_tag(tag))
                what = f"`{word}` (no tag means `latest`)" if ref.tag is None else f"`{word}`"
                expl = (
                    f"{what} follows whatever is newest when the image is built, so a rebuild without any code "
                    f"change can move to another major version. Pinned to `{new}`, the current version in "
                    f"dockeropt's catalog; check the app against {tag}, which may differ from the version earlier "
                    "builds pulled."
                )
                out.append(self.change(f"Pin {word} to {new}", expl, stage.from_instruction,
                                       [Edit.replace(rng.start, rng.end, new)], Safety.REVIEW))
                continue
            if ctx.config.resolve_digests and ref.digest is None and ref.tag is not None:
                try:
                    digest = _registry.cached_digest(ref)
                except _registry.RegistryUnavailable as exc:
                    unresolved.append(word)
                    reason = reason or str(exc)
                    continue
                new = f"{word}@{digest}"
                expl = (
                    f"Pins `{word}` to the digest the registry serves for it today, so every build uses exactly "
                    "this image. The tag keeps showing the version; bump the digest to take security updates."
                )
                out.append(self.change(f"Pin {word} to its digest", expl, stage.from_instruction,
                                       [Edit.insert(rng.end, f"@{digest}")], Safety.REVIEW))
        if unresolved:
            out.append(self.change(
                "Base image digests not pinned: the registry is unreachable",
                f"--resolve-digests: {reason}; base images were not pinned to digests.",
                doc.stages[0].from_instruction,
            ))
        return out
