"""DO201 for Rust: ``cargo build --release`` output on distroless cc or Debian slim.

For a plain single-crate project (``[package]``, ``src/main.rs``, no
workspace, no build script) the build stage first builds the dependencies
against a dummy ``main.rs`` from Cargo.toml and Cargo.lock alone, so a source
edit recompiles only the crate itself.
"""

from __future__ import annotations

import posixpath
import re

from dockeropt.model import ecosystems as eco

from ._runtime_common import (
    add,
    app_folder_or_context,
    check_user,
    command_text,
    runtime_files,
    runtime_packages,
    start_tools,
)
from ._runtime_go import _exec_start, _needs_shell
from ._runtime_stage_analysis import Act, Blocked, StageRead, under
from ._runtime_stage_edit import Plan


def _cargo_names(text: str) -> tuple[str | None, str | None]:
    """(package name, binary name) from Cargo.toml."""
    bins = re.findall(r"^\[\[bin\]\]\s*\n(?:[^\[]*?\n)*?\s*name\s*=\s*\"([^\"]+)\"", text, re.M)
    m = re.search(r"^\[package\][^\[]*?^\s*name\s*=\s*\"([^\"]+)\"", text, re.M | re.S)
    pkg = m.group(1) if m else None
    if len(bins) > 1:
        return pkg, None
    return pkg, bins[0] if bins else pkg


def plan(r: StageRead) -> Plan:
    spec = eco.spec("rust")
    builds = [a for a in r.acts if a.action.tool == "cargo" and a.action.verb == "build"]
    if len(builds) != 1:
        raise Blocked("has no single `cargo build`", builds[1].ins if len(builds) > 1 else r.stage.from_instruction)
    b = builds[0]
    if not b.action.has_flag("--release", "-r"):
        raise Blocked("runs `cargo build` without --release", b.ins, "Build with --release")
    others = [a for a in r.acts if a.action.tool == "cargo" and a.action.verb == "global"]
    if others:
        raise Blocked("runs `cargo install`, which puts binaries outside the project", others[0].ins)
    project = b.action.project or r.workdir or "/"
    target = next((w.path for w in b.action.writes if w.path), None) or posixpath.join(project, "target")
    release = posixpath.join(target, "release")
    ctx = r.context
    rel = r.context_dir(project, b.ins.index)
    toml = ctx.read_text(posixpath.join(rel, "Cargo.toml")) if ctx is not None and rel is not None else None
    pkg_name, bin_name = _cargo_names(toml) if toml else (None, None)
    st = r.start
    argv = list(st.argv) if st.argv else None
    binary: str | None = None
    new_cmd: list[str] | None = None
    if argv and argv[0] == "cargo":
        if argv[1:3] in (["run", "--release"], ["run", "-r"]) and bin_name:
            binary = posixpath.join(release, bin_name)
            rest = argv[3:]
            if rest and rest[0] != "--":
                raise Blocked("starts with `cargo run` options dockeropt does not translate", st.cmd)
            new_cmd = [binary, *rest[1:]]
        else:
            raise Blocked("starts through cargo, which the runtime would not have", st.cmd or st.entrypoint, "Start the binary directly")
    elif argv:
        exe = argv[0]
        path = exe if exe.startswith("/") else posixpath.normpath(posixpath.join(r.workdir or "/", exe))
        if under(path, release):
            binary = path
    if binary is None:
        raise Blocked("does not start the binary from target/release", st.cmd or st.entrypoint, "Start ./target/release/<name>")
    lock = ctx.read_text(posixpath.join(rel, "Cargo.lock")) if ctx is not None and rel is not None else None
    crates = set(re.findall(r'^name = "([^"]+)"', lock or "", re.M))
    libs: list[str] = []
    for name, e in spec.get("native", {}).items():
        if name in crates:
            libs.extend(x for x in e.get("runtime", {}).get("deb", ()) if x != "libssl3" and x != "ca-certificates")
    dev = [p for p, _ in r.packages if p.endswith("-dev") and p != "libssl-dev"]
    distro = r.info.distro if r.info else None
    if _needs_shell(r) or dev or libs:
        p = Plan(base=eco.compiled_runtime("rust", "shell", distro) or "debian:bookworm-slim", shell=True, pm="apt", safety=r.safety, follows_base=False)
        runtime_packages(r, p)
        add(p.packages, *libs, *eco.shell_runtime_packages("rust"))
    else:
        p = Plan(base=eco.compiled_runtime("rust", "glibc", distro) or "", shell=False, safety=r.safety, follows_base=False)
        _exec_start(r, p)
    if new_cmd is not None:
        p.cmd = new_cmd
    p.leaves = ["the Rust toolchain", "the cargo registry and target folder", "the sources"]
    binary_copy = f"COPY --from={{build}} {binary} {binary}"
    p.copies.append(binary_copy)
    p.drop_env = eco.build_only_env("rust")
    p.checks.append(f"only {binary} reaches the runtime; it must link only glibc, libgcc and OpenSSL"
                    + (f" (and {', '.join(libs)})" if libs else ""))
    _dependency_layer(r, p, b, rel, toml, pkg_name, spec)
    why = runtime_files(r, "rust", rel, (".rs",))
    if why is not None:
        app_folder_or_context(r, p, [binary_copy], why)
        p.leaves = [x for x in p.leaves if x != "the sources"]  # the copy of the app folder brings them along
    start_tools(r, p, None)
    check_user(r, p)
    return p


def _dependency_layer(r: StageRead, p: Plan, b: Act, rel: str | None, toml: str | None, pkg_name: str | None, spec: dict) -> None:
    ctx = r.context
    if ctx is None or rel is None or toml is None or pkg_name is None:
        return
    if re.search(r"^\[(workspace|lib)\]|^build\s*=|^\[\[bin\]\]|^\[\[example\]\]|^\[\[bench\]\]", toml, re.M):
        return
    if not ctx.is_file(posixpath.join(rel, "src/main.rs")) or ctx.exists(posixpath.join(rel, "build.rs")):
        return
    if any(mt.type == "cache" for mt in (r.m.run(b.ins).mounts if r.m.run(b.ins) else ())):
        return  # target/ on a cache mount: the layer would not keep the built dependencies
    first = next(((ins, cf) for ins, cf in r.copies if cf.whole_context and cf.folder == (b.action.project or "")), None)
    if first is None or first[0].index > b.ins.index or r.m.state(first[0]).workdir != b.action.project:
        return
    files = [posixpath.normpath(posixpath.join(rel, f)) for f in ("Cargo.toml", "Cargo.lock") if ctx.is_file(posixpath.join(rel, f))]
    crate = pkg_name.replace("-", "_")
    build = command_text(r, b.ins, b.action)
    main = spec["dummy_main"]
    p.before[first[0].index] = [
        f"COPY {' '.join(files)} ./",
        f"RUN mkdir -p src && echo '{main}' > src/main.rs && {build} && rm -rf src target/release/deps/{crate}-* target/release/{pkg_name}*",
    ]
    p.checks.append("the build stage compiles the dependencies from Cargo.toml and Cargo.lock first, so a source edit rebuilds only the crate")
