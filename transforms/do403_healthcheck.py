"""DO403 healthcheck."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

from dockeropt.analysis import leading_comment_start
from dockeropt.catalog.images import ImageInfo
from dockeropt.context import BuildContext
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import analysis_script
from dockeropt.syntax import Dockerfile, Stage
from dockeropt.transforms._final_stage import base_info, chain, exposed_tcp_ports, kw, last, restructuring_pending

_INSTALLERS = frozenset({"apt-get", "apt", "apk", "dnf", "yum", "microdnf"})
_REMOVERS = frozenset({"remove", "purge", "autoremove", "del", "erase"})
_SOURCE_EXT = (".js", ".mjs", ".cjs", ".ts", ".py", ".go", ".java", ".kt", ".rb", ".php", ".rs", ".cs", ".ex", ".scala")
_SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", "dist", "build", "target", "vendor", ".tox"})
_ROUTES = ("/healthz", "/health", "/healthcheck", "/_health", "/actuator/health")
_ROUTE_RE = re.compile(r"""["'`](/healthz|/health|/healthcheck|/_health|/actuator/health)/?["'`]""")
_MAX_FILES = 2000
_MAX_BYTES = 512 * 1024


def health_route(context: BuildContext | None) -> str | None:
    """A health route the app's source names (``"/healthz"``, ``"/health"``…), or None."""
    if context is None:
        return None
    found: set[str] = set()
    seen = 0
    for dirpath, dirnames, filenames in os.walk(context.root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(_SOURCE_EXT):
                continue
            seen += 1
            if seen > _MAX_FILES:
                break
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, context.root).replace(os.sep, "/")
            if context.ignored(rel):
                continue
            try:
                if os.path.getsize(path) > _MAX_BYTES:
                    continue
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
            except OSError:
                continue
            found.update(m.group(1) for m in _ROUTE_RE.finditer(text))
        if seen > _MAX_FILES:
            break
    return next((r for r in _ROUTES if r in found), None)


def _installed_tools(doc: Dockerfile, stage: Stage) -> set[str]:
    """curl/wget installed by a package manager in the stage (or the stages it is built FROM), and not removed."""
    tools: set[str] = set()
    for st in reversed(chain(doc, stage)):
        for ins in st.body:
            script = analysis_script(ins, doc.text)
            if script is None or not script.ok:
                continue
            for c in script.commands:
                if c.name not in _INSTALLERS:
                    continue
                args = [a for a in c.args if a is not None]
                names = {a.split("=", 1)[0] for a in args}
                removing = any(a in _REMOVERS for a in args)
                for tool in ("curl", "wget"):
                    if tool in names:
                        (tools.discard if removing else tools.add)(tool)
    return tools


# distroless images that carry an interpreter (at these paths), and nothing else to probe with
_DISTROLESS_RUNTIMES = {"nodejs": "/nodejs/bin/node", "python3": "/usr/bin/python3"}


def _python(prog: str, url: str) -> list[str]:
    return [prog, "-c", f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"]


def _node(prog: str, url: str) -> list[str]:
    return [prog, "-e", f"require('http').get('{url}', r => process.exit(r.statusCode < 400 ? 0 : 1))"
            ".on('error', () => process.exit(1))"]


def _probe(info: ImageInfo, installed: set[str], url: str) -> tuple[list[str], str] | None:
    """(exec-form probe, how the tool is there) using only programs the final image has."""
    if info.is_distroless:
        prog = _DISTROLESS_RUNTIMES.get(info.variant or "")
        if prog is None:
            return None
        make = _node if info.variant == "nodejs" else _python
        return make(prog, url), f"{prog}, the interpreter of the distroless image (it has no shell, curl or wget)"
    if info.family == "python":
        return _python("python3", url), "python3, which the python base image has (no curl needed)"
    if info.family == "node":
        return _node("node", url), "node, which the node base image has (no curl needed)"
    if "curl" in installed:
        return ["curl", "-fsS", "-o", "/dev/null", url], "curl, which the stage installs"
    if "wget" in installed:
        return ["wget", "-q", "-O", "/dev/null", url], "wget, which the stage installs"
    if info.is_full and info.variant is None:
        return ["curl", "-fsS", "-o", "/dev/null", url], f"curl, which the full {info.repository} image has"
    if info.os == "alpine" and info.has_shell:
        return ["wget", "-q", "-O", "/dev/null", url], "BusyBox wget, which Alpine images have"
    return None


@register
class Healthcheck(Pass):
    """Add a HEALTHCHECK that probes the exposed port with a tool the image really has.

    What it does:
        For the final stage of a Dockerfile that EXPOSEs a TCP port and has no
        HEALTHCHECK, it adds one that requests `http://127.0.0.1:<port><path>`
        every 30 seconds. The probe uses only what the final image has: the
        interpreter of python and node bases (`python3 -c` with urllib, `node
        -e` with http), curl or wget when the stage installs them, curl on a
        full image that ships it, BusyBox wget on Alpine, and on distroless
        nodejs and python3 images their interpreter by its absolute path
        (they have no shell). The path is a health route found in the build
        context's source (`/healthz`, `/health`, …), else `/`. On the other
        distroless bases (static, base, cc, java) it only explains why there
        is none; with no usable tool it adds nothing.

    Why:
        Without a health check Docker, compose and Swarm only know whether the
        process runs, not whether it answers: a hung server stays "up". With
        one, `docker ps` shows `healthy`/`unhealthy`, `depends_on:
        condition: service_healthy` works and Swarm replaces broken tasks.
        Health checks that call curl in an image without curl fail forever,
        so the tool must be there.

    Example:
        # before
        FROM python:3.11-slim
        EXPOSE 8000
        CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
        # after
        FROM python:3.11-slim
        EXPOSE 8000
        HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/', timeout=4)"]
        CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]

    Fix safety:
        Review: a failing probe marks the container unhealthy (orchestrators
        may restart it). Check that the app answers with a 2xx or 3xx status
        on that port and path, from inside the container.
    """

    id = "DO403"
    name = "healthcheck"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return []
        found = self._check(doc, ctx, doc.stages[-1])
        return [found] if found is not None else []

    def _check(self, doc: Dockerfile, ctx: PassContext, stage: Stage) -> Change | None:
        stages = chain(doc, stage)
        if any(i.keyword == "HEALTHCHECK" for st in stages for i in st.body):
            return None
        ports = exposed_tcp_ports(doc, stage)
        if not ports:
            return None
        info = base_info(doc, stage)
        if info is None:
            return None
        expose = next(i for st in stages for i in st.body if i.keyword == "EXPOSE")
        if info.is_distroless and (info.variant or "") not in _DISTROLESS_RUNTIMES:
            return self.change(
                "No HEALTHCHECK on a distroless image",
                f"The image exposes port {ports[0]} but its distroless base has no shell, curl, wget or interpreter to probe it, "
                "so no HEALTHCHECK was added. Let the orchestrator probe the port (Kubernetes httpGet, a compose "
                "healthcheck on a sidecar) or copy a small static probe binary into the image.",
                expose,
            )
        if restructuring_pending(doc, ctx, stage):
            return None
        port = ports[0]
        route = health_route(ctx.context)
        path = route or "/"
        url = f"http://127.0.0.1:{port}{path}"
        probe = _probe(info, _installed_tools(doc, stage), url)
        if probe is None:
            return None
        argv, how = probe
        cmd = last(stage, "CMD")
        ep = last(stage, "ENTRYPOINT")
        anchors = [i for i in (cmd, ep) if i is not None]
        nl = doc.newline
        line = (f"{kw(stage, 'HEALTHCHECK')} --interval=30s --timeout=5s --start-period=15s --retries=3 "
                f"{kw(stage, 'CMD')} {json.dumps(argv, ensure_ascii=False)}")
        if anchors:
            at = leading_comment_start(min(anchors, key=lambda i: i.index))
            edit = Edit.insert(at, line + nl)
        else:
            end = stage.instructions[-1]
            edit = Edit.insert(end.full_range.end, line + nl) if end.text.endswith("\n") else Edit.insert(end.range.end, nl + line)
        where = (f"the `{route}` route the source defines" if route
                 else "`/` (no health route was found in the source)" if ctx.context is not None
                 else "`/` (no build context was given to look for a health route)")
        expl = (
            f"Adds a HEALTHCHECK that requests {where} on port {port} every 30 seconds with {how}, so `docker ps` "
            "and orchestrators see when the app stops answering, not only when it exits."
            + (f" The image exposes {len(ports)} ports; the first one is probed." if len(ports) > 1 else "")
            + " A failing probe marks the container unhealthy: check that the app answers 2xx or 3xx there."
        )
        return self.change(f"Add a HEALTHCHECK on port {port}", expl, anchors[0] if anchors else expose, [edit], Safety.REVIEW)
