"""DO403 healthcheck."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from dockeropt.analysis import leading_comment_start
from dockeropt.edits import Change, Edit, Safety
from dockeropt.model import ImageModel
from dockeropt.model.programs import Program, programs
from dockeropt.model.runtime import runtime_catalog, server_spec, source_files
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile

_TIMING = "--interval=30s --timeout=5s --start-period=15s --retries=3"
_PORT_TOKEN = "\x00PORT\x00"


def _probes() -> dict[str, Any]:
    return runtime_catalog()["probes"]


def _route_rank(route: str) -> int:
    names = runtime_catalog()["health_route_names"]
    return names.index(route) if route in names else len(names)


def _sh_word(word: str, var_text: str | None) -> str:
    """``word`` as one shell word; the port placeholder becomes ``var_text`` (expanded by the shell)."""
    if re.fullmatch(r"[A-Za-z0-9_./:=@%+-]+", word) and _PORT_TOKEN not in word:
        return word
    escaped = re.sub(r'([\\"`$])', r"\\\1", word)
    return '"' + escaped.replace(_PORT_TOKEN, var_text or "") + '"'


def _names_its_port(m: ImageModel, chain: list[Any]) -> bool:
    """Without a TCP EXPOSE: the start command names the port, or the source file it runs does."""
    rt = m.runtime
    if rt is None or rt.listen is None or rt.listen.number is None:
        return False
    if any(i.keyword == "EXPOSE" for n in chain for i in n.stage.body):
        return False  # EXPOSE of other protocols (udp) only
    if rt.listen.source == "command":
        return True
    if rt.listen.source != "source":
        return False
    words = [*(rt.start.program or ()), *(rt.start.program_text or "").split()]
    where = rt.listen.where.lstrip("./")
    return any(w.lstrip("./") == where or w.endswith("/" + where) for w in words)


@register
class Healthcheck(Pass):
    """Add a HEALTHCHECK that probes the port the app really uses, over HTTP, on a route it serves.

    What it does:
        For the final stage of a Dockerfile that EXPOSEs a TCP port (or,
        without EXPOSE, whose start command or source names the port the app
        listens on) and has no HEALTHCHECK, it adds one that requests a health route every 30
        seconds, only when the image model knows all three parts of the
        probe: the port the app listens on (from its start command: a known
        server's flags, or the app's own `--port 9000` / `-addr :9090`, which
        win over EXPOSE, and a bare number the app gets, `python app.py 9000`,
        which leaves the port unknown unless EXPOSE names it too; its source
        or `ENV PORT`; `${PORT:-3000}` when the app reads `PORT`, so a
        container started with another `PORT` is probed there), that it
        speaks HTTP (a known server or framework, or the source's own HTTP
        server), and a route it serves: a health route the source defines
        (`/healthz`, `/health`, …), one the framework serves when the source
        enables it (Rails `/up`, Spring's `/actuator/health`), or `/` for a
        static file server. The probe uses only what the final image has:
        the interpreter of python and node bases (`python3 -c` with urllib,
        `node -e` with http), curl or wget when the stage installs them, curl
        on a full image that ships it, BusyBox wget on Alpine, and on
        distroless nodejs and python3 images their interpreter by its
        absolute path (they have no shell). Anything else gets a note instead
        of a probe: php-fpm speaks FastCGI and gRPC servers speak HTTP/2
        frames an HTTP GET cannot check (a gRPC server is probed with
        `grpc_health_probe` only when the image has it and the source
        registers the standard health service), an app with no known health
        route, an HTTPS server (an `http://` probe fails its TLS handshake), or
        an unknown protocol.

    Why:
        Without a health check Docker, compose and Swarm only know whether the
        process runs, not whether it answers: a hung server stays "up". With
        one, `docker ps` shows `healthy`/`unhealthy`, `depends_on:
        condition: service_healthy` works and Swarm replaces broken tasks. A
        probe on the wrong port, protocol or route is worse than none: the
        container turns unhealthy while it serves, and orchestrators restart
        it in a loop.

    Example:
        # before (the app reads PORT and serves /healthz)
        FROM python:3.11-slim
        ENV PORT=8000
        EXPOSE 8000
        CMD gunicorn --bind 0.0.0.0:$PORT app:app
        # after
        FROM python:3.11-slim
        ENV PORT=8000
        EXPOSE 8000
        HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT:-8000}/healthz', timeout=4)"
        CMD gunicorn --bind 0.0.0.0:$PORT app:app

    Fix safety:
        Review: a failing probe marks the container unhealthy (orchestrators
        may restart it). Check that the app answers with a 2xx or 3xx status
        on that port and path, from inside the container.
    """

    id = "DO403"
    name = "healthcheck"
    after = ("DO201", "DO202")
    messages = {
        "added": Message(
            "Add a HEALTHCHECK on port {port}",
            "Adds a HEALTHCHECK that requests {where} on port {port_desc} every 30 seconds with {how}, so `docker ps` "
            "and orchestrators see when the app stops answering, not only when it exits.{extra} A failing probe marks "
            "the container unhealthy: check that the app answers 2xx or 3xx there.",
        ),
        "grpc_added": Message(
            "Add a gRPC HEALTHCHECK on port {port}",
            "Adds a HEALTHCHECK that asks the standard gRPC health service on port {port_desc} every 30 seconds with "
            "{how} ({proto_why}; the source registers the health service in {marker_file}). A failing probe marks the "
            "container unhealthy: check that the server reports SERVING.",
        ),
        "distroless": Message(
            "No HEALTHCHECK on a distroless image",
            "{seen} but its distroless base has no shell, curl, wget or interpreter to probe it, "
            "so no HEALTHCHECK was added. Let the orchestrator probe the port (Kubernetes httpGet, a compose "
            "healthcheck on a sidecar) or copy a small static probe binary into the image.",
        ),
        "fastcgi": Message(
            "No HEALTHCHECK: port {port} speaks FastCGI, not HTTP",
            "{proto_why}, so an HTTP probe of port {port} would never succeed and the container would stay unhealthy "
            "(Swarm restarts it in a loop, compose `service_healthy` never starts what depends on it). Probe it in "
            "FastCGI instead: install `cgi-fcgi` (Debian package libfcgi-bin) and php-fpm's `ping.path`, then "
            "`HEALTHCHECK CMD SCRIPT_NAME=/ping SCRIPT_FILENAME=/ping REQUEST_METHOD=GET cgi-fcgi -bind -connect "
            "127.0.0.1:{port}`, or let the web server in front of it check the app.",
        ),
        "grpc": Message(
            "No HEALTHCHECK: port {port} serves gRPC, not plain HTTP",
            "{proto_why}, so an HTTP probe would never succeed and the container would stay unhealthy. {grpc_hint}",
        ),
        "https": Message(
            "No HEALTHCHECK: port {port} serves HTTPS, not plain HTTP",
            "{proto_why}, so an http:// probe of port {port} would fail the TLS handshake and keep the container "
            "unhealthy while it works. Probe it over TLS yourself, trusting the app's certificate or skipping its check "
            "on the loopback address (`curl -fsSk https://127.0.0.1:{port}/`, or node's `https.get` with "
            "`rejectUnauthorized: false`), on a route the app serves.",
        ),
        "no_protocol": Message(
            "No HEALTHCHECK: what port {port} speaks is unknown",
            "{seen}, but dockeropt cannot tell from {basis} whether the app answers HTTP there, "
            "so it adds no probe: a probe in the wrong protocol keeps the container unhealthy while it works. Add a "
            "HEALTHCHECK that fits the app, or run dockeropt with the build context so it can read the app's source.",
        ),
        "argument_port": Message(
            "No HEALTHCHECK: the start command may set another port",
            "{seen}, but {where} is not that port, and the app may listen there instead (`sys.argv[1]`, "
            "`process.argv[2]`); its source does not show where the port comes from, so dockeropt adds no probe: a "
            "probe on the wrong port keeps the container unhealthy while it works. Pass the port with a flag "
            "(`--port 9000`) or `ENV PORT`, or add the HEALTHCHECK yourself.",
        ),
        "no_port": Message(
            "No HEALTHCHECK: which port the app listens on is unknown",
            "The image exposes {ports}, and dockeropt cannot tell which one the app serves HTTP on, so it adds no "
            "probe. Expose only the app's port, or add the HEALTHCHECK yourself.",
        ),
        "no_route": Message(
            "No HEALTHCHECK: the app shows no health route",
            "The app speaks HTTP on port {port}, but {route_why}, so dockeropt adds no probe: requesting a route the "
            "app does not serve (a 404 on `/`) marks it unhealthy while it works. Add a health route such as "
            "`/healthz` that answers 200 and run dockeropt again, or write the HEALTHCHECK for a route you know.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return []
        found = self._check(ctx.model(doc), ctx)
        return [found] if found is not None else []

    def _check(self, m: ImageModel, ctx: PassContext) -> Change | None:
        final = m.graph.final
        rt = m.runtime
        if final is None or rt is None:
            return None
        chain = m.chain(final.index)
        if any(i.keyword == "HEALTHCHECK" for n in chain for i in n.stage.body):
            return None
        exposed = [p for p in rt.exposed if p.number is not None]
        if not exposed and not _names_its_port(m, chain):
            return None  # no EXPOSE, and neither the start command nor the file it runs names the port
        img = final.image
        info = img.info if img is not None else None
        if info is None:
            return None
        start_lines = [i for i in (rt.start.cmd, rt.start.entrypoint) if i is not None]
        expose = next((i for n in reversed(chain) for i in n.stage.body if i.keyword == "EXPOSE"), None)
        if expose is None:  # no EXPOSE: the notes name the start command, which shows the port
            expose = start_lines[0] if start_lines else final.stage.from_instruction
        end = m.end_state(final.index)
        have = programs(m, final.index)
        ports = sorted({p.number for p in exposed if p.number is not None})
        if not ports and rt.listen is not None and rt.listen.number is not None:
            ports = [rt.listen.number]
        if exposed:
            seen = f"The image exposes port {ports[0]}"
        else:
            assert rt.listen is not None
            seen = f"The app listens on port {ports[0]} ({rt.listen.where}; the image has no EXPOSE)"
        if info.is_distroless and not any(p.path for p in have.values()):
            return self.say("distroless", expose, seen=seen)
        listen = rt.listen
        port_text = rt.probe_port_text(end.env) if listen is not None else None
        if listen is not None and listen.source == "argument" and listen.number is None:
            return self.say("argument_port", expose, seen=seen, where=listen.where)
        if listen is None or port_text is None:
            if len(ports) > 1:
                return self.say("no_port", expose, ports=" and ".join(str(p) for p in ports))
            return None
        port_label = port_text if listen.env is None else f"`{port_text}`"
        port_desc = port_text if listen.env is None else (
            f"`{port_text}` (the app reads {listen.env}; {port_text.split(':-')[1].rstrip('}')} unless the container sets another)")
        proto = rt.protocol
        if proto not in ("fastcgi", "grpc", "https") and not any(spec["program"] in have for spec in _probes()["http"]):
            return None  # nothing in the image to probe with
        if proto == "fastcgi":
            return self.say("fastcgi", expose, port=port_label, proto_why=_cap(rt.protocol_reason or "the app speaks FastCGI"))
        if proto == "grpc":
            return self._grpc(m, ctx, expose, have, port_text, port_label, port_desc, rt.protocol_reason or "the app serves gRPC")
        if proto == "https":
            return self.say("https", expose, port=port_label, proto_why=_cap(rt.protocol_reason or "the app serves HTTPS"))
        if proto != "http":
            basis = "the Dockerfile alone (no build context was given)" if ctx.context is None else \
                "the start command, the app's manifests or its source"
            return self.say("no_protocol", expose, port=port_label, basis=basis,
                            seen=seen if not exposed else f"The image exposes port {port_label}")
        route, where = self._route(m, ctx)
        if route is None:
            return self.say("no_route", expose, port=port_label, route_why=where)
        url = f"http://127.0.0.1:{_PORT_TOKEN}{route}"
        probe = self._probe(have, url, listen.env, port_text, route, shell=bool(end.shell) and img is not None and img.has_shell is not False)
        if probe is None:
            return None
        text, how = probe
        line = m.style.line(f"HEALTHCHECK {_TIMING} {m.style.kw('CMD')} {text}")
        start = rt.start
        anchors = [i for i in (start.cmd, start.entrypoint) if i is not None and i.stage_index == final.index]
        nl = m.style.newline
        if anchors:
            at = leading_comment_start(min(anchors, key=lambda i: i.index))
            edit = Edit.insert(at, line + nl)
        else:
            last = final.stage.instructions[-1]
            edit = Edit.insert(last.full_range.end, line + nl) if last.text.endswith("\n") else Edit.insert(last.range.end, nl + line)
        extra = f" The image exposes {len(ports)} ports; {listen.where} says the app listens on this one." if len(ports) > 1 else ""
        if not exposed:
            extra = f" The image has no EXPOSE; {listen.where} says the app listens on this port."
        elif listen.source == "command" and listen.number is not None and listen.number not in ports:
            extra = f" EXPOSE names {' and '.join(str(p) for p in ports)}, but {listen.where} sets port {listen.number}, where the app listens."
        return self.say("added", anchors[0] if anchors else expose, [edit], Safety.REVIEW,
                        port=port_label, port_desc=port_desc, where=where, how=how, extra=extra)

    # ------------------------------------------------------------------ parts

    @staticmethod
    def _route(m: ImageModel, ctx: PassContext) -> tuple[str | None, str]:
        rt = m.runtime
        assert rt is not None
        if rt.health_routes:
            route = sorted(rt.health_routes, key=_route_rank)[0]
            shown = route in rt.routes or any(r.rstrip("/") == route for r in rt.routes)
            return route, (f"the `{route}` route the source defines" if shown else f"`{route}`, the health route {', '.join(rt.frameworks)} serves")
        spec = server_spec(rt.start.program)
        if spec is not None and spec.get("static"):
            return "/", f"`/` ({spec['program']} serves the folder's files there)"
        if "/" in rt.routes:
            return "/", "`/`, the route the source defines (it has no health route)"
        if ctx.context is None:
            return None, "no build context was given to look for its routes"
        named = [r for r in rt.routes if r]  # Django's path("") names no path of its own (include() may prefix it)
        if named:
            shown = ", ".join(f"`{r}`" for r in named[:4])
            return None, f"its source defines {shown} and no health route"
        if rt.routes:
            return None, "its source defines only routes whose full path dockeropt cannot tell (such as Django's `path(\"\")`), and no health route"
        return None, "dockeropt found no route in its source"

    @staticmethod
    def _probe(have: dict[str, Program], url: str, var: str | None, port_text: str, route: str, shell: bool) -> tuple[str, str] | None:
        """(HEALTHCHECK command text, how the tool is there) with a program the image has."""
        for spec in _probes()["http"]:
            prog = have.get(spec["program"])
            if prog is None:
                continue
            exe = prog.path or spec["program"]
            if var is None:
                argv = [exe if i == 0 else w.replace("{url}", url.replace(_PORT_TOKEN, port_text)) for i, w in enumerate(spec["argv"])]
                return json.dumps(argv, ensure_ascii=False), prog.how
            default = port_text.split(":-", 1)[1].rstrip("}")
            if shell:
                words = [exe if i == 0 else w.replace("{url}", url) for i, w in enumerate(spec["argv"])]
                return " ".join(_sh_word(w, port_text) for w in words), prog.how
            if "env_argv" in spec:
                argv = [exe if i == 0 else w.replace("{var}", var).replace("{default}", default).replace("{path}", route)
                        for i, w in enumerate(spec["env_argv"])]
                return json.dumps(argv, ensure_ascii=False), prog.how
        return None

    def _grpc(self, m: ImageModel, ctx: PassContext, expose, have: dict[str, Program], port_text: str,  # type: ignore[no-untyped-def]
              port_label: str, port_desc: str, why: str) -> Change:
        rt = m.runtime
        assert rt is not None
        missing_service = None
        for spec in _probes()["grpc"]:
            prog = have.get(spec["program"])
            if prog is None:
                continue
            marker = self._marker(ctx, rt.app_context_dir, spec["source_marker"])
            if marker is None:
                if spec["program"] == "grpc_health_probe":
                    missing_service = spec["program"]
                continue
            exe = prog.path or spec["program"]
            if spec.get("how"):  # the app's own module: ask it through the interpreter the app runs with
                program = rt.start.program
                if not program or not re.fullmatch(r"python(3(\.\d+)?)?", program[0].rsplit("/", 1)[-1]):
                    continue
                exe = program[0]
            argv = [exe, *spec["argv"][1:]]
            text = " ".join(_sh_word(w.replace("{port}", _PORT_TOKEN), port_text) for w in argv) if "$" in port_text else \
                json.dumps([w.replace("{port}", port_text) for w in argv])
            line = m.style.line(f"HEALTHCHECK {_TIMING} {m.style.kw('CMD')} {text}")
            start = rt.start
            final = m.graph.final
            assert final is not None
            anchors = [i for i in (start.cmd, start.entrypoint) if i is not None and i.stage_index == final.index]
            nl = m.style.newline
            if anchors:
                edit = Edit.insert(leading_comment_start(min(anchors, key=lambda i: i.index)), line + nl)
            else:
                last = final.stage.instructions[-1]
                edit = Edit.insert(last.full_range.end, line + nl) if last.text.endswith("\n") else Edit.insert(last.range.end, nl + line)
            how = spec.get("how") or prog.how
            return self.say("grpc_added", anchors[0] if anchors else expose, [edit], Safety.REVIEW, port=port_label,
                            port_desc=port_desc, how=how, proto_why=why, marker_file=marker)
        if missing_service is not None:
            return self.say("grpc", expose, port=port_label, proto_why=_cap(why), grpc_hint=(
                f"The image has {missing_service}, but the source does not register the standard gRPC health service "
                "(grpc.health.v1), which it asks: register it, then probe with "
                f"`HEALTHCHECK CMD {missing_service} -addr=127.0.0.1:{port_text}`."))
        return self.say("grpc", expose, port=port_label, proto_why=_cap(why), grpc_hint=(
            "Probe it with a gRPC health client instead: add `grpc_health_probe` to the image, register the standard "
            f"health service (grpc.health.v1) in the server, and use `HEALTHCHECK CMD grpc_health_probe -addr=127.0.0.1:{port_text}`."))

    @staticmethod
    def _marker(ctx: PassContext, app_dir: str | None, pattern: str) -> str | None:
        if ctx.context is None or app_dir is None:
            return None
        rx = re.compile(pattern, re.M)
        for path, text in source_files(ctx.context, app_dir, (".py", ".go", ".js", ".ts", ".java", ".kt", ".rb", ".cs")):
            if rx.search(text):
                return path
        return None


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
