"""Small, standard-library clients for the smoke probes that are not plain HTTP.

- :func:`fastcgi_get`: one FastCGI ``GET`` (the protocol php-fpm speaks on port 9000);
- :func:`grpc_health`: the standard ``grpc.health.v1.Health/Check`` call over HTTP/2 without
  TLS (prior knowledge, as gRPC servers speak it on 50051).

Both answer ``None`` when nothing listens yet (connection refused or reset), so callers can poll.
"""

from __future__ import annotations

import socket
import struct

# --------------------------------------------------------------------------- #
# FastCGI (https://fastcgi-archives.github.io/FastCGI_Specification.html)

_FCGI_BEGIN, _FCGI_END, _FCGI_PARAMS, _FCGI_STDIN, _FCGI_STDOUT, _FCGI_STDERR = 1, 3, 4, 5, 6, 7
_FCGI_RESPONDER = 1


def _fcgi_record(rtype: int, content: bytes, request_id: int = 1) -> bytes:
    pad = -len(content) % 8
    return struct.pack("!BBHHBx", 1, rtype, request_id, len(content), pad) + content + b"\0" * pad


def _fcgi_len(n: int) -> bytes:
    return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)


def fcgi_params(params: dict[str, str]) -> bytes:
    out = b""
    for k, v in params.items():
        kb, vb = k.encode(), v.encode()
        out += _fcgi_len(len(kb)) + _fcgi_len(len(vb)) + kb + vb
    return out


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def fastcgi_get(host: str, port: int, script: str, uri: str = "/", timeout: float = 5.0) -> tuple[int, str] | None:
    """(HTTP status, body) of a FastCGI GET of ``script``; None when nothing answers."""
    path, _, query = uri.partition("?")
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "dockeropt-verify", "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "GET", "REQUEST_URI": uri, "QUERY_STRING": query, "SCRIPT_FILENAME": script,
        "SCRIPT_NAME": path, "DOCUMENT_URI": path, "DOCUMENT_ROOT": script.rsplit("/", 1)[0] or "/",
        "SERVER_NAME": "localhost", "SERVER_ADDR": host, "SERVER_PORT": str(port), "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "0", "CONTENT_LENGTH": "0", "CONTENT_TYPE": "", "HTTP_HOST": "localhost",
    }
    req = (_fcgi_record(_FCGI_BEGIN, struct.pack("!HB5x", _FCGI_RESPONDER, 0))
           + _fcgi_record(_FCGI_PARAMS, fcgi_params(params)) + _fcgi_record(_FCGI_PARAMS, b"")
           + _fcgi_record(_FCGI_STDIN, b""))
    out, err = b"", b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(req)
            while True:
                _ver, rtype, _rid, clen, pad = struct.unpack("!BBHHBx", _recv_exact(s, 8))
                content = _recv_exact(s, clen + pad)[:clen]
                if rtype == _FCGI_STDOUT:
                    out += content
                elif rtype == _FCGI_STDERR:
                    err += content
                elif rtype == _FCGI_END:
                    break
    except (OSError, ConnectionError, struct.error):
        return None
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = out.partition(b"\n\n")
    status = 200
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "status":
            try:
                status = int(value.split()[0])
            except (ValueError, IndexError):
                status = 500
    text = body.decode("utf-8", "replace")
    if not out and err:
        return 500, err.decode("utf-8", "replace")
    return status, text


# --------------------------------------------------------------------------- #
# gRPC health check over HTTP/2 (RFC 9113, HPACK RFC 7541, gRPC over HTTP/2)

_DATA, _HEADERS, _RST, _SETTINGS, _PING, _GOAWAY = 0, 1, 3, 4, 6, 7
_END_STREAM, _END_HEADERS, _ACK = 0x1, 0x4, 0x1
HEALTH_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _h2_frame(ftype: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack("!I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack("!I", stream) + payload


def _hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(headers: list[tuple[str, str]]) -> bytes:
    """Header block of literal fields without indexing, new names, no Huffman coding."""
    out = b""
    for name, value in headers:
        nb, vb = name.encode(), value.encode()
        out += b"\x00" + _hpack_int(len(nb), 7) + nb + _hpack_int(len(vb), 7) + vb
    return out


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def health_request(host: str, port: int, service: str = "") -> bytes:
    """The client's bytes: preface, SETTINGS, HEADERS and one DATA frame with a HealthCheckRequest."""
    msg = (b"\x0a" + _varint(len(service.encode())) + service.encode()) if service else b""
    headers = [(":method", "POST"), (":scheme", "http"), (":path", "/grpc.health.v1.Health/Check"),
               (":authority", f"{host}:{port}"), ("content-type", "application/grpc"), ("te", "trailers")]
    return (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _h2_frame(_SETTINGS, 0, 0)
            + _h2_frame(_HEADERS, _END_HEADERS, 1, hpack_literal(headers))
            + _h2_frame(_DATA, _END_STREAM, 1, b"\x00" + struct.pack("!I", len(msg)) + msg))


def parse_health_response(message: bytes) -> str:
    """The status name in a HealthCheckResponse (field 1, an enum; absent means 0, UNKNOWN)."""
    i, status = 0, 0
    while i < len(message):
        key = message[i]
        i += 1
        if key == 0x08:  # field 1, varint
            val, shift = 0, 0
            while i < len(message):
                b = message[i]
                i += 1
                val |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            status = val
        else:
            break
    return HEALTH_STATUS.get(status, str(status))


def grpc_health(host: str, port: int, service: str = "", timeout: float = 5.0) -> str | None:
    """The server's health status (``SERVING``...), ``"no answer: ..."`` when it ends the call without
    a message (e.g. no health service), or None when nothing listens or speaks HTTP/2 there."""
    data = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(health_request(host, port, service))
            while True:
                head = _recv_exact(s, 9)
                length = int.from_bytes(head[:3], "big")
                ftype, flags, stream = head[3], head[4], struct.unpack("!I", head[5:9])[0] & 0x7FFFFFFF
                payload = _recv_exact(s, length)
                if ftype == _SETTINGS and not flags & _ACK:
                    s.sendall(_h2_frame(_SETTINGS, _ACK, 0))
                elif ftype == _PING and not flags & _ACK:
                    s.sendall(_h2_frame(_PING, _ACK, 0, payload))
                elif ftype == _DATA and stream == 1:
                    pad = payload[0] if flags & 0x8 else 0
                    data += payload[1:len(payload) - pad] if flags & 0x8 else payload
                    if len(data) >= 5 and len(data) >= 5 + struct.unpack("!I", data[1:5])[0]:
                        return parse_health_response(data[5:5 + struct.unpack("!I", data[1:5])[0]])
                    if flags & _END_STREAM:
                        break
                elif ftype == _HEADERS and stream == 1 and flags & _END_STREAM:
                    break  # trailers (or trailers-only) before any message
                elif ftype == _RST and stream == 1:
                    return "no answer: stream reset"
                elif ftype == _GOAWAY:
                    return "no answer: connection closed by the server (GOAWAY)"
    except (OSError, ConnectionError):
        return None
    return "no answer: the call ended without a health message (is grpc.health.v1 registered?)"
