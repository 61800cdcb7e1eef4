"""DO303 pin-base-tag."""

from __future__ import annotations

from collections.abc import Iterable

from dockeropt.catalog import pins
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.source import TextRange
from dockeropt.syntax import Dockerfile, Instruction
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


@register
class PinBaseTag(Pass):
    """Pin `latest` (or a missing tag) to what `latest` is today, from a dated pin catalog.

    What it does:
        A FROM whose image has no tag or the `latest` tag gets the tag
        `latest` pointed to when dockeropt's pin catalog
        (`catalog/pins.json`) was checked, and the explanation names that
        date: `node` becomes `node:26`, `python:latest` becomes
        `python:3.15`, `debian` becomes `debian:trixie`. A family the pin
        catalog does not list (or lists with an entry that was not current on
        the catalog's date) is never pinned from a guess: it gets a note.
        Variables, digests, earlier stages, `scratch` and images the image
        catalog does not know are left alone. With the `resolve_digests`
        setting (`dockeropt fix --resolve-digests`) it also asks the registry
        for the digest of every tagged base and pins it (`node:26@sha256:…`);
        without a network it says so in one line and pins nothing.

    Why:
        `latest` moves. The same Dockerfile builds on another major version
        the day a new one is published, so a rebuild with no code change can
        break, and two machines build different images. A version tag changes
        only with patch releases; a digest never changes. A pin older than
        what `latest` gives today would be a silent downgrade, so the pins
        are dated and refreshed with every release (`python -m
        dockeropt.catalog.pins` lists the families that are due).

    Example:
        # before
        FROM python
        FROM node:latest AS web
        # after
        FROM python:3.15
        FROM node:26 AS web

    Fix safety:
        Review: the pinned version is what `latest` was on the pin
        catalog's date; a build pulled before that may have run an older
        one. Check the app against that version. Digest pins are the image
        the tag names today; they stop security updates until you bump them.
    """

    id = "DO303"
    name = "pin-base-tag"
    messages = {
        "pin": Message(
            "Pin {word} to {new}",
            "{what} follows whatever is newest when the image is built, so a rebuild without any code change can move "
            "to another major version. Pinned to `{new}`, what `latest` pointed to when dockeropt's pin catalog was "
            "checked on {as_of} ({family} {version}, released {released}); check the app against {version}, which may "
            "differ from the version earlier builds pulled. The next {family} release is due around {next_due}.",
        ),
        "no_pin": Message(
            "`{word}` follows `latest`",
            "{what} follows whatever is newest when the image is built, so a rebuild without any code change can move "
            "to another major version. dockeropt's pin catalog (checked on {as_of}) has no current version for "
            "{family}, and a guessed pin could be a downgrade, so it is left as is: pin it to the version you test "
            "with.",
        ),
        "digest": Message(
            "Pin {word} to its digest",
            "Pins `{word}` to the digest the registry serves for it today, so every build uses exactly this image. "
            "The tag keeps showing the version; bump the digest to take security updates.",
        ),
        "unreachable": Message(
            "Base image digests not pinned: the registry is unreachable",
            "--resolve-digests: {reason}; base images were not pinned to digests.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        m = ctx.model(doc)
        out: list[Change] = []
        unresolved: list[str] = []
        reason: str | None = None
        for node in m.graph.nodes:
            img = node.image
            if node.parent is not None or img is None or img.ref is None or "$" in node.base_text:
                continue
            found = _image_word(node.stage.from_instruction)
            if found is None:
                continue
            word, rng = found
            if word != node.base_text:
                continue
            ref = img.ref
            frm = node.stage.from_instruction
            if ref.digest is None and (ref.tag is None or ref.tag == "latest"):
                if img.info is None or pins.unversioned(img.info.family):
                    continue
                family = img.info.family
                what = f"`{word}` (no tag means `latest`)" if ref.tag is None else f"`{word}`"
                pin = pins.pin_for(family)
                if pin is None:
                    out.append(self.say("no_pin", frm, word=word, what=what, family=family, as_of=pins.as_of().isoformat()))
                    continue
                new = str(ref.with_tag(pin.tag))
                out.append(self.say("pin", frm, [Edit.replace(rng.start, rng.end, new)], Safety.REVIEW, word=word, new=new,
                                    what=what, as_of=pins.as_of().isoformat(), family=family, version=pin.version,
                                    released=pin.released.isoformat(), next_due=pin.next_due.strftime("%B %Y")))
                continue
            if ctx.config.resolve_digests and ref.digest is None and ref.tag is not None:
                try:
                    digest = _registry.cached_digest(ref)
                except _registry.RegistryUnavailable as exc:
                    unresolved.append(word)
                    reason = reason or str(exc)
                    continue
                out.append(self.say("digest", frm, [Edit.insert(rng.end, f"@{digest}")], Safety.REVIEW, word=word))
        if unresolved:
            out.append(self.say("unreachable", doc.stages[0].from_instruction, reason=reason))
        return out
