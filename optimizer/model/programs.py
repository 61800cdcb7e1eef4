"""Programs an image has: what its base ships and what its instructions add.

Passes that run something inside the finished container (a HEALTHCHECK probe,
an init as ENTRYPOINT) must only call programs that are really there. This
module answers "does the image built by this stage have ``curl``?" from:

* the base image (``image_programs`` in ``catalog/runtime.json``: python3 in
  python images, node in node images, curl and wget in full buildpack-based
  images, BusyBox wget on Alpine, the interpreter of distroless nodejs/python3);
* packages installed by RUN lines of the stage's FROM chain (apt, apk, dnf,
  pip; ``package_programs`` maps package names to programs), minus packages a
  later RUN removes;
* files a COPY or a download puts on disk under the program's name.

Each program comes with its path (None: found through PATH) and a phrase
saying where it comes from, for explanations.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from dockeropt.model.runtime import runtime_catalog

if TYPE_CHECKING:
    from dockeropt.model import ImageModel


def _data() -> dict[str, Any]:
    return runtime_catalog()


@dataclass(frozen=True, slots=True)
class Program:
    name: str
    path: str | None  # absolute path when known and needed (no shell, no PATH); None: call it by name
    how: str  # for explanations: "python3, which the python base image has"
    instruction: int | None = None  # the instruction that added it (None: the base image)


def programs(m: ImageModel, stage: int) -> dict[str, Program]:
    """Programs the image of ``stage`` has at its end, by name."""
    data = _data()
    out: dict[str, Program] = {}
    node = m.graph[stage]
    img = node.image
    info = img.info if img is not None else None
    if info is not None:
        cat = data["image_programs"]
        if info.is_distroless:
            for name, path in cat["distroless"].get(info.variant or "", {}).items():
                out[name] = Program(name, path, f"{path}, the interpreter of the distroless image (it has no shell, curl or wget)")
        else:
            for name in cat["families"].get(info.family, ()):
                out[name] = Program(name, None, f"{name}, which the {info.family} base image has")
            if info.is_full and info.variant is None:
                for name in cat["full"]:
                    out.setdefault(name, Program(name, None, f"{name}, which the full {info.repository} image has"))
            if info.os == "alpine" and info.has_shell:
                for name in cat["alpine"]:
                    out.setdefault(name, Program(name, None, f"BusyBox {name}, which Alpine images have"))
    provides: dict[str, list[str]] = {k: v for k, v in data["package_programs"].items() if not k.startswith("_")}
    known = {p for names in provides.values() for p in names}
    installers = frozenset(data["package_programs_managers"])
    for n in m.chain(stage)[::-1]:
        for ins in n.stage.body:
            facts = m.run(ins)
            if facts is not None:
                for a in facts.actions:
                    if a.tool in installers and a.verb in ("install", "upgrade", "remove"):
                        for pkg in a.packages:
                            name = pkg.split("=", 1)[0].split(">", 1)[0].split("<", 1)[0]
                            for prog in provides.get(name, ()):
                                if a.verb == "remove":
                                    out.pop(prog, None)
                                else:
                                    out[prog] = Program(prog, None, f"{prog}, which line {ins.start_line} installs", ins.index)
                    for w in a.writes:
                        if w.path and posixpath.basename(w.path) in known and a.verb == "download":
                            prog = posixpath.basename(w.path)
                            out[prog] = Program(prog, w.path, f"{w.path}, which line {ins.start_line} downloads", ins.index)
                continue
            cf = m.copy(ins)
            if cf is not None and not cf.heredoc:
                for src in cf.sources:
                    target = cf.target_of(src)
                    prog = posixpath.basename(target)
                    if prog in known or prog in _probe_programs():
                        out[prog] = Program(prog, target, f"{target}, which line {ins.start_line} copies in", ins.index)
    return out


@cache
def _probe_programs() -> frozenset[str]:
    probes = _data()["probes"]
    return frozenset(p["program"] for kind, lst in probes.items() if not kind.startswith("_") for p in lst)
