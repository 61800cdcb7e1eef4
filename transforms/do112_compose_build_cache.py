"""DO112 compose-build-cache."""

from __future__ import annotations

import io
import itertools
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockeropt.context import BuildContext, is_ignored, parse_dockerignore
from dockeropt.edits import Change, FileChange, Safety
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.source import TextRange
from dockeropt.syntax import Dockerfile

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
CACHE_DIR = ".buildx-cache"
_LIMIT = 1 << 20  # compose files are small; refuse anything over 1 MiB
_INDENTS = tuple(
    (m, s, o) for m, s, o in itertools.product((2, 4, 3, 6, 8), (2, 4, 3, 6, 8), (0, 2, 4)) if s - o >= 2
)


def cache_from(service: str) -> str:
    return f"type=local,src={CACHE_DIR}/{service}"


def cache_to(service: str) -> str:
    return f"type=local,dest={CACHE_DIR}/{service},mode=max"


@dataclass
class _Compose:
    """One compose file: where it is and what it says."""

    abs_path: Path
    rel: str | None  # path relative to the build context root; None: outside it
    text: str
    services: list[str] = field(default_factory=list)  # services that build from this Dockerfile
    cached: list[str] = field(default_factory=list)  # of those, ones that already set cache_from/cache_to
    new_text: str | None = None
    problem: str | None = None  # why it cannot be changed


def _yaml(indent: tuple[int, int, int]) -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return y


def _dump(y: Any, data: Any) -> str:
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def _load(text: str) -> tuple[Any, tuple[int, int, int] | None]:
    """(round-trip tree, the indentation that reproduces ``text`` exactly, or None). Raises on bad YAML."""
    from ruamel.yaml import YAML

    probe = YAML(typ="rt")
    docs = list(probe.load_all(text))
    if len(docs) != 1:
        raise ValueError("it holds several YAML documents" if docs else "it is empty")
    for indent in _INDENTS:
        y = _yaml(indent)
        data = y.load(text)
        if _dump(y, data) == text:
            return data, indent
    return _yaml(_INDENTS[0]).load(text), None


def _builds_this(build: Any, compose_dir: Path, dockerfile: Path) -> bool:
    """Does a service's ``build:`` value build ``dockerfile``? (Only literal local paths count.)"""
    if isinstance(build, str):
        context, name = build, "Dockerfile"
    elif isinstance(build, dict):
        if "dockerfile_inline" in build:
            return False
        context = build.get("context", ".")
        name = build.get("dockerfile", "Dockerfile")
    else:
        return False
    if not isinstance(context, str) or not isinstance(name, str):
        return False
    if "$" in context or "$" in name or "://" in context or context.startswith("git@"):
        return False  # interpolated or remote: cannot tell
    ctx_dir = Path(os.path.expanduser(context)) if os.path.isabs(os.path.expanduser(context)) else compose_dir / context
    target = Path(name) if os.path.isabs(name) else ctx_dir / name
    try:
        return target.resolve() == dockerfile.resolve()
    except OSError:
        return False


def _build_context_dir(build: Any, compose_dir: Path) -> Path:
    context = build if isinstance(build, str) else build.get("context", ".")
    return (compose_dir / str(context)).resolve()


def _rel(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


@register
class ComposeBuildCache(Pass):
    """Give compose services that build this Dockerfile a persistent BuildKit cache (cache_from/cache_to).

    What it does:
        Looks for `compose.yaml`, `compose.yml`, `docker-compose.yml` and
        `docker-compose.yaml` in the build context's folder and the
        Dockerfile's folder. For every service whose `build:` resolves to
        this Dockerfile (`build: .`, or `context:` plus `dockerfile:`,
        relative to the compose file; `dockerfile` defaults to
        `Dockerfile`), it adds to the service's `build:` mapping
        (a short `build: .` becomes `context: .`):

            cache_from:
              - type=local,src=.buildx-cache/<service>
            cache_to:
              - type=local,dest=.buildx-cache/<service>,mode=max

        Compose hands these to BuildKit (buildx): each build reads the
        previous build's layers from `.buildx-cache/<service>` and writes
        its own back, all stages included (`mode=max`). Each service gets
        its own folder, so a parallel `docker compose build` over a monorepo
        never has two builds writing one cache; the layers they share (the
        same base image and install steps) are stored per service and reused
        by each. When `.buildx-cache` lies inside the service's build context
        it is also added to that context's `.dockerignore`, so the cache is
        never sent to the builder or copied by `COPY . .`. The comments,
        quoting and indentation of the compose file are kept (ruamel.yaml
        round trip); a file that cannot be re-emitted byte for byte is left
        alone with a note. Services that already set `cache_from` or
        `cache_to`, and compose files outside the build context, are not
        changed. The rule is opt-in: select DO112.

    Why:
        On a CI runner every build starts with an empty builder cache, so
        every dependency install runs again. With a local cache folder that
        CI keeps between runs (`actions/cache` or the runner's cache keyed
        on the lockfiles), rebuilds reuse every unchanged layer. Keep
        `.buildx-cache/` out of git (add it to `.gitignore`) and persist it
        in CI. Relative `src`/`dest` paths are read from the folder
        `docker compose` runs in, so run it from the compose file's folder.
        To share one cache across CI runners instead of a folder, replace
        the entries with `type=registry,ref=<your registry>/<image>:buildcache`.

    Example:
        # compose.yaml before
        services:
          api:
            build: .   # the app
        # after
        services:
          api:
            build: # the app
              context: .
              cache_from:
                - type=local,src=.buildx-cache/api
              cache_to:
                - type=local,dest=.buildx-cache/api,mode=max

    Fix safety:
        Review: the image is unchanged, but exporting a cache needs a
        builder that supports it: the containerd image store, or a buildx
        builder with the `docker-container` driver (`docker buildx create
        --use`). The classic `docker` driver fails the build with "Cache
        export is not supported for the docker driver".
    """

    id = "DO112"
    name = "compose-build-cache"
    default_enabled = False
    messages = {
        "unreadable": Message(
            "Cannot read {file}",
            "{path} could not be parsed as YAML ({error}), so its services' build caches were not set up. Fix the "
            "file and run dockeropt again.",
        ),
        "outside": Message(
            "Add a build cache to {file}",
            "{path} builds this Dockerfile ({names}) but lies outside the build context, so dockeropt does not change "
            "it. Add `cache_from: [type=local,src=.buildx-cache/<service>]` and `cache_to: "
            "[type=local,dest=.buildx-cache/<service>,mode=max]` to each service's `build:` by hand.",
        ),
        "reformat": Message(
            "Add a build cache to {path}",
            "{path} builds this Dockerfile ({names}), but rewriting it would change its formatting, so dockeropt "
            "leaves it alone. Add `cache_from: [type=local,src=.buildx-cache/<service>]` and `cache_to: "
            "[type=local,dest=.buildx-cache/<service>,mode=max]` to each service's `build:` by hand.",
        ),
        "cache": Message(
            "Cache compose builds of {services}",
            "Adds `cache_from`/`cache_to` to the {service_word} {names} in {path}: `docker compose build` now reads "
            "and writes BuildKit's layer cache in `{cache}/<service>`, so a CI run that keeps that folder rebuilds "
            "only what changed.{ignore_note} Gitignore `{cache}/`, persist it in CI, and build with the containerd "
            "image store or a `docker-container` buildx builder (the classic `docker` driver cannot export caches).",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        bc = ctx.context
        dockerfile = ctx.path if ctx.path is not None else (bc.dockerfile if bc is not None else None)
        if bc is None or dockerfile is None:
            return []
        anchor = doc.instructions[0].range if doc.instructions else TextRange(0, 0)
        out: list[Change] = []
        for comp in self._compose_files(bc, dockerfile):
            change = self._change(comp, bc, dockerfile, anchor)
            if change is not None:
                out.append(change)
        return out

    # ------------------------------------------------------------------ finding

    @staticmethod
    def _compose_files(bc: BuildContext, dockerfile: Path) -> list[_Compose]:
        folders: list[Path] = []
        for folder in (bc.root, dockerfile.parent if str(dockerfile.parent) else Path(".")):
            try:
                resolved = folder.resolve()
            except OSError:
                continue
            if resolved not in folders:
                folders.append(resolved)
        out: list[_Compose] = []
        for folder in folders:
            for name in COMPOSE_NAMES:
                path = folder / name
                rel = _rel(path, bc.root)
                text = bc.read_raw(rel) if rel is not None else None
                if text is None:
                    try:
                        if not path.is_file() or path.stat().st_size > _LIMIT:
                            continue
                        text = path.read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
                out.append(_Compose(path, rel, text))
        return out

    def _change(self, comp: _Compose, bc: BuildContext, dockerfile: Path, anchor: TextRange) -> Change | None:
        shown = comp.rel or str(comp.abs_path)
        if "services" not in comp.text:
            return None
        try:
            data, indent = _load(comp.text)
        except Exception as exc:  # ruamel raises many error types for bad YAML
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return self.say("unreadable", anchor, file=posixpath.basename(shown), path=shown, error=first)
        services = data.get("services") if isinstance(data, dict) else None
        if not isinstance(services, dict):
            return None
        compose_dir = comp.abs_path.parent
        todo: list[tuple[str, Any]] = []
        for name, svc in services.items():
            if not isinstance(svc, dict) or "build" not in svc or not isinstance(name, str):
                continue
            build = svc["build"]
            if not _builds_this(build, compose_dir, dockerfile):
                continue
            if isinstance(build, dict) and ("cache_from" in build or "cache_to" in build):
                continue  # the user's own cache settings win
            todo.append((name, svc))
        if not todo:
            return None
        names = ", ".join(f"`{n}`" for n, _ in todo)
        if comp.rel is None:
            return self.say("outside", anchor, file=posixpath.basename(shown), path=shown, names=names)
        if indent is None:
            return self.say("reformat", anchor, path=comp.rel, names=names)
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        ignore_dirs: set[Path] = set()
        for name, svc in todo:
            build = svc["build"]
            if not isinstance(build, dict):
                mapping = CommentedMap()
                mapping["context"] = build
                svc["build"] = mapping
                build = mapping
            build["cache_from"] = CommentedSeq([cache_from(name)])
            build["cache_to"] = CommentedSeq([cache_to(name)])
            ignore_dirs.add(_build_context_dir(build, compose_dir))
        new_text = _dump(_yaml(indent), data)
        files = [FileChange(comp.rel, new_text)]
        ignored_in: list[str] = []
        for ctx_dir in sorted(ignore_dirs):
            fc = self._dockerignore(bc, dockerfile, ctx_dir, compose_dir / CACHE_DIR)
            if fc is not None:
                files.append(fc)
                ignored_in.append(fc.path)
        ignore_note = (
            f" `{CACHE_DIR}` is added to {' and '.join(ignored_in)} so the cache never enters the build context."
            if ignored_in else ""
        )
        service_word = "service" if len(todo) == 1 else "services"
        return self.say("cache", anchor, (), Safety.REVIEW, files=files, services=", ".join(n for n, _ in todo),
                        service_word=service_word, names=names, path=comp.rel, cache=CACHE_DIR, ignore_note=ignore_note)

    @staticmethod
    def _dockerignore(bc: BuildContext, dockerfile: Path, ctx_dir: Path, cache_dir: Path) -> FileChange | None:
        """Add the cache folder to the .dockerignore the compose build uses, when it lies in that context."""
        inside = _rel(cache_dir, ctx_dir)
        if inside is None:
            return None  # the cache is outside the context: never sent
        candidates = [dockerfile.parent / (dockerfile.name + ".dockerignore"), ctx_dir / ".dockerignore"]
        rel = current = None
        for cand in candidates:
            r = _rel(cand, bc.root)
            if r is None:
                continue
            text = bc.read_raw(r)
            if text is not None:
                rel, current = r, text
                break
        if rel is None:
            rel = _rel(ctx_dir / ".dockerignore", bc.root)
            if rel is None:
                return None
        if current is not None and is_ignored(parse_dockerignore(current), inside + "/x"):
            return None
        line = inside
        if current is None:
            return FileChange(rel, f"# Added by dockeropt (DO112): BuildKit's local build cache\n{line}\n", created=True)
        nl = "\r\n" if current.count("\r\n") * 2 > current.count("\n") else "\n"
        head = current if current.endswith("\n") or not current else current + nl
        return FileChange(rel, head + f"# Added by dockeropt (DO112){nl}{line}{nl}")
