"""A minimal OCI distribution client: the digest a registry serves for ``repository:tag``.

Used by DO303 when ``resolve_digests`` is on. It asks the registry with a HEAD
request (``/v2/<repository>/manifests/<tag>``, accepting image indexes so the
multi-platform digest comes back), follows an anonymous bearer-token challenge
the registry itself names, and fails fast (a few seconds) with
:class:`RegistryUnavailable` when the network or the registry is not there.

Not a pass (the leading underscore keeps it out of pass discovery).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from dockeropt.catalog.images import _DOCKER_HUB, ImageRef

TIMEOUT = 4.0  # seconds per request

_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class RegistryUnavailable(Exception):
    """The registry could not be asked (no network, DNS, refused, timeout, denied)."""


def _api_host(ref: ImageRef) -> tuple[str, str]:
    """(registry API host, repository path) for a reference."""
    reg = ref.registry
    repo = ref.repository
    if reg is None or reg in _DOCKER_HUB:
        # Docker Hub's API lives on the catalog's "registry-1" host; official images are under library/
        host = next(h for h in sorted(_DOCKER_HUB) if h.startswith("registry-1."))
        return host, repo if "/" in repo else f"library/{repo}"
    return reg, repo


def _shown(ref: ImageRef) -> str:
    return "Docker Hub" if ref.registry is None or ref.registry in _DOCKER_HUB else ref.registry


def _request(url: str, headers: dict[str, str], method: str = "GET") -> urllib.request.Request:
    return urllib.request.Request(url, headers=headers, method=method)


def _token(challenge: str, opener: Callable[..., object]) -> str | None:
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", None)
    if not realm or not challenge.lower().startswith("bearer"):
        return None
    url = realm + "?" + urllib.parse.urlencode(params)
    with opener(_request(url, {}), timeout=TIMEOUT) as resp:  # type: ignore[attr-defined]
        data = json.loads(resp.read().decode("utf-8"))
    return data.get("token") or data.get("access_token")


def resolve_digest(ref: ImageRef, opener: Callable[..., object] = urllib.request.urlopen) -> str:
    """The digest the registry serves for ``ref``'s tag. Raises RegistryUnavailable."""
    api, repo = _api_host(ref)
    host = _shown(ref)
    url = f"https://{api}/v2/{repo}/manifests/{ref.tag or 'latest'}"
    headers = {"Accept": _ACCEPT}
    try:
        try:
            with opener(_request(url, headers, "HEAD"), timeout=TIMEOUT) as resp:  # type: ignore[attr-defined]
                digest = resp.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise RegistryUnavailable(f"{host} answered {exc.code} for {ref}") from None
            token = _token(exc.headers.get("WWW-Authenticate", ""), opener)
            if not token:
                raise RegistryUnavailable(f"{host} wants credentials for {ref}") from None
            with opener(_request(url, {**headers, "Authorization": f"Bearer {token}"}, "HEAD"), timeout=TIMEOUT) as resp:  # type: ignore[attr-defined]
                digest = resp.headers.get("Docker-Content-Digest")
    except RegistryUnavailable:
        raise
    except urllib.error.HTTPError as exc:
        raise RegistryUnavailable(f"{host} answered {exc.code} for {ref}") from None
    except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryUnavailable(f"cannot reach {host} ({reason})") from None
    if not digest or not _DIGEST.match(digest):
        raise RegistryUnavailable(f"{host} sent no digest for {ref}")
    return digest


# per-process memo: (api host, repository, tag) -> digest, or the error message
_MEMO: dict[tuple[str, str, str], str | RegistryUnavailable] = {}


def cached_digest(ref: ImageRef) -> str:
    host, repo = _api_host(ref)
    key = (host, repo, ref.tag or "latest")
    hit = _MEMO.get(key)
    if hit is None:
        down = next((v for (h, _, _), v in _MEMO.items() if h == host and isinstance(v, RegistryUnavailable)
                     and str(v).startswith("cannot reach")), None)
        if down is not None:
            hit = down  # the host is unreachable: do not wait for it again
        else:
            try:
                hit = resolve_digest(ref)
            except RegistryUnavailable as exc:
                hit = exc
        _MEMO[key] = hit
    if isinstance(hit, RegistryUnavailable):
        raise hit
    return hit
