"""The smoke harness without an engine: app.json keys for health/probes/set-up, the FastCGI and gRPC
clients against in-process fake servers, and the dependency-manifest edit."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from docker_support import APPS_DIR, app_names
from dockeropt.probes import _h2_frame, fastcgi_get, grpc_health, health_request, parse_health_response
from dockeropt.verify import SmokeSpec, VerifyError, edit_manifest

# --------------------------------------------------------------------------- app.json


def test_health_port_is_used_only_with_a_healthcheck_and_a_port_variable() -> None:
    spec = SmokeSpec.from_json({"http": {"path": "/h", "port": 3000, "expect": "ok"}})
    assert (spec.port_env, spec.run_port(False), spec.run_port(True)) == ("PORT", 3000, 18000)
    spec = SmokeSpec.from_json({"http": {"path": "/h", "port": 3000, "expect": "ok", "health_port": 18124}})
    assert spec.run_port(True) == 18124
    fixed = SmokeSpec.from_json({"http": {"path": "/h", "port": 8103, "expect": "ok", "port_env": None}})
    assert fixed.port_env is None and fixed.run_port(True) == 8103  # the app cannot be moved: probe its port


def test_fcgi_and_grpc_probes() -> None:
    f = SmokeSpec.from_json({"fcgi": {"port": 9000, "script": "/var/www/html/index.php", "expect": "ok"}})
    assert (f.kind, f.is_server, f.port_env, f.http_path) == ("fcgi", True, None, "/")
    g = SmokeSpec.from_json({"grpc": {"port": 50051}})
    assert (g.kind, g.expect, g.grpc_service) == ("grpc", "SERVING", "")
    assert "gRPC health :50051" in g.describe()


def test_setup_env_dep_edit_add_file() -> None:
    spec = SmokeSpec.from_json({
        "http": {"path": "/", "port": 1, "expect": "x"},
        "env": {"COREPACK_ENABLE_NETWORK": "0"},
        "setup": {"image": "node:18", "cmd": ["yarn", "install"]},
        "dep_edit": "package.json",
        "add_file": {"path": "a.js", "content": "x", "http_path": "/a", "expect": "y"},
    })
    assert spec.env == {"COREPACK_ENABLE_NETWORK": "0"}
    assert spec.setup is not None and spec.setup.cmd == ["yarn", "install"]
    assert spec.dep_edit == "package.json" and spec.add_file is not None and spec.add_file.http_path == "/a"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"http": {"path": "/", "port": 1, "expect": "x"}, "grpc": {"port": 2}}, "one probe"),
        ({"fcgi": {"port": 9000, "expect": "x"}}, "script's absolute path"),
        ({"fcgi": {"port": 9000, "script": "/i.php", "expect": "x", "service": "s"}}, "unknown key fcgi.service"),
        ({"grpc": {"port": "50051"}}, "grpc.port must be an integer"),
        ({"http": {"path": "/", "port": 1, "expect": "x", "health_port": 70000}}, "port out of range"),
        ({"http": {"path": "/", "port": 1, "expect": "x"}, "env": {"1X": "y"}}, "not an environment variable"),
        ({"http": {"path": "/", "port": 1, "expect": "x"}, "env": {"X": 1}}, "'env' must map"),
        ({"cmd": [], "setup": {"image": "x"}}, "'setup' must be"),
        ({"cmd": [], "setup": {"image": "x", "cmd": []}}, "'setup' must be"),
        ({"cmd": [], "add_file": {"path": "a", "content": "", "http_path": "/", "expect": "x"}}, "needs an HTTP probe"),
        ({"cmd": [], "add_file": {"path": "a"}}, "'add_file' must have exactly"),
        ({"cmd": [], "dep_edit": ""}, "'dep_edit' must be"),
        ({"grpc": {"port": 1}, "cmd": []}, "not both"),
    ],
)
def test_bad_probe_keys_are_rejected_with_a_reason(data: object, message: str) -> None:
    with pytest.raises(VerifyError, match=message):
        SmokeSpec.from_json(data)


@pytest.mark.parametrize("name", app_names())
def test_corpus_app_extras_name_real_files(name: str) -> None:
    spec = SmokeSpec.load(APPS_DIR / name / "app.json")
    if spec.dep_edit is not None:
        assert (APPS_DIR / name / spec.dep_edit).is_file(), spec.dep_edit
    if spec.add_file is not None:
        assert not (APPS_DIR / name / spec.add_file.path).exists(), "the added file must be new"


def test_no_committed_lockfile_names_a_registry() -> None:
    for lock in ("package-lock.json", "pnpm-lock.yaml", "poetry.lock", "yarn.lock", "uv.lock", "Pipfile.lock"):
        for path in APPS_DIR.glob(f"*/{lock}"):
            text = path.read_text(encoding="utf-8")
            assert "://" not in text, f"{path} embeds a URL: generate it in the app's set-up instead"


# --------------------------------------------------------------------------- dependency-manifest edit


def test_manifest_edit_changes_the_file_but_no_dependency(tmp_path: Path) -> None:
    pkg = tmp_path / "package.json"
    pkg.write_text('{\n  "name": "x",\n  "dependencies": {"a": "^1.0.0"}\n}\n')
    edit_manifest(pkg)
    data = json.loads(pkg.read_text())
    assert data["dependencies"] == {"a": "^1.0.0"} and len(data["x-dockeropt-bench"]) == 12
    first = pkg.read_text()
    edit_manifest(pkg)
    assert pkg.read_text() != first  # a new token each time: never a cache hit
    req = tmp_path / "requirements.txt"
    req.write_text("flask==3.0.3")
    edit_manifest(req)
    lines = req.read_text().splitlines()
    assert lines[0] == "flask==3.0.3" and lines[1].startswith("# dockeropt lab: manifest edit ")
    gomod = tmp_path / "go.mod"
    gomod.write_text("module x\n\ngo 1.19\n")
    edit_manifest(gomod)
    assert gomod.read_text().splitlines()[-1].startswith("// ")


# --------------------------------------------------------------------------- fake servers


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """Start a one-connection TCP server on 127.0.0.1 running ``handler``; returns its port."""
    socks: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(handler: Callable[[socket.socket], None]) -> int:
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        socks.append(srv)

        def run() -> None:
            conn, _ = srv.accept()
            with conn:
                handler(conn)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)
        return int(srv.getsockname()[1])

    yield start
    for s in socks:
        s.close()
    for t in threads:
        t.join(timeout=5)


def _recv(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError
        buf += chunk
    return buf


def _fcgi_responder(stdout: bytes, seen: dict[str, str]) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        params = b""
        while True:
            _v, rtype, rid, clen, pad = struct.unpack("!BBHHBx", _recv(conn, 8))
            content = _recv(conn, clen + pad)[:clen]
            if rtype == 4:
                params += content
            if rtype == 5 and clen == 0:
                break
        i = 0
        while i < len(params):  # names and values are short here (1-byte lengths)
            kl, vl = params[i], params[i + 1]
            seen[params[i + 2:i + 2 + kl].decode()] = params[i + 2 + kl:i + 2 + kl + vl].decode()
            i += 2 + kl + vl
        for rtype, body in ((6, stdout), (6, b""), (3, b"\0" * 8)):
            conn.sendall(struct.pack("!BBHHBx", 1, rtype, rid, len(body), 0) + body)

    return handle


def test_fastcgi_client_speaks_to_a_responder(serve: Callable[[Callable[[socket.socket], None]], int]) -> None:
    seen: dict[str, str] = {}
    port = serve(_fcgi_responder(b"Content-type: application/json\r\n\r\n{\"status\":\"php-fpm ok\"}", seen))
    got = fastcgi_get("127.0.0.1", port, "/var/www/html/index.php", "/index.php?x=1")
    assert got == (200, '{"status":"php-fpm ok"}')
    assert seen["SCRIPT_FILENAME"] == "/var/www/html/index.php" and seen["QUERY_STRING"] == "x=1"
    assert seen["REQUEST_METHOD"] == "GET"


def test_fastcgi_status_header_and_nothing_listening(serve: Callable[[Callable[[socket.socket], None]], int]) -> None:
    port = serve(_fcgi_responder(b"Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.", {}))
    assert fastcgi_get("127.0.0.1", port, "/nope.php") == (404, "File not found.")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    unused = free.getsockname()[1]
    free.close()
    assert fastcgi_get("127.0.0.1", unused, "/x.php", timeout=1) is None


def _h2_server(status: int | None) -> Callable[[socket.socket], None]:
    """Read the client's preface and frames until its DATA, then answer (HPACK blocks are opaque bytes)."""

    def handle(conn: socket.socket) -> None:
        assert _recv(conn, 24) == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        conn.sendall(_h2_frame(4, 0, 0))  # server SETTINGS
        while True:
            head = _recv(conn, 9)
            payload = _recv(conn, int.from_bytes(head[:3], "big"))
            if head[3] == 0:  # the request's DATA: 5-byte gRPC prefix + HealthCheckRequest
                assert payload[0] == 0 and struct.unpack("!I", payload[1:5])[0] == len(payload) - 5
                break
        conn.sendall(_h2_frame(1, 0x4, 1, b"\x88"))  # response headers (:status 200, indexed)
        if status is not None:
            msg = bytes([0x08, status])
            conn.sendall(_h2_frame(0, 0, 1, b"\0" + struct.pack("!I", len(msg)) + msg))
        conn.sendall(_h2_frame(1, 0x5, 1, b"\x00"))  # trailers, END_STREAM
        try:
            conn.recv(100)  # the client's SETTINGS ack, or its close
        except OSError:
            pass

    return handle


def test_grpc_health_client_reads_the_status(serve: Callable[[Callable[[socket.socket], None]], int]) -> None:
    assert grpc_health("127.0.0.1", serve(_h2_server(1)), "lab.Echo") == "SERVING"
    assert grpc_health("127.0.0.1", serve(_h2_server(2))) == "NOT_SERVING"
    assert (grpc_health("127.0.0.1", serve(_h2_server(None))) or "").startswith("no answer")


def test_grpc_request_encoding() -> None:
    req = health_request("127.0.0.1", 50051, "lab.Echo")
    assert req.startswith(b"PRI * HTTP/2.0") and b"/grpc.health.v1.Health/Check" in req
    assert req.endswith(b"\x00\x00\x00\x00\x0a\x0a\x08lab.Echo")  # gRPC prefix + field 1 (service)
    assert parse_health_response(b"") == "UNKNOWN" and parse_health_response(b"\x08\x03") == "SERVICE_UNKNOWN"


# --------------------------------------------------------------------------- set-up cache


def test_setup_outputs_are_cached_by_inputs(tmp_path: Path) -> None:
    from dockeropt.verify import run_setup

    calls = tmp_path / "calls"
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = image ]; then echo sha256:feed; exit 0; fi\n'
        f'echo run >>"{calls}"\n'
        'while [ "$1" != -v ]; do shift; done; dir=${2%%:/src}\n'
        'echo "lock for $(cat "$dir/package.json")" >"$dir/yarn.lock"\n'
    )
    fake.chmod(0o755)
    spec = SmokeSpec.from_json({"cmd": [], "setup": {"image": "node:18", "cmd": ["yarn"]}})
    cache = tmp_path / "cache"
    for i in range(2):
        app = tmp_path / f"app{i}"
        app.mkdir()
        (app / "package.json").write_text("{}")
        run_setup(str(fake), app, spec, cache_dir=cache)
        assert (app / "yarn.lock").read_text() == "lock for {}\n"
    assert calls.read_text().count("run") == 1  # the second copy came from the cache
    changed = tmp_path / "app2"
    changed.mkdir()
    (changed / "package.json").write_text('{"a": 1}')
    run_setup(str(fake), changed, spec, cache_dir=cache)
    assert calls.read_text().count("run") == 2 and "a" in (changed / "yarn.lock").read_text()
