"""DO201 add-runtime-stage."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dockeropt.analysis import leading_comment_start
from dockeropt.context import BuildContext
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.syntax import Dockerfile, Instruction, Stage

from ._runtime_stage_analysis import (
    Blocked,
    StageFacts,
    analyse,
    is_system_path,
    launch_argv,
    read_package_json,
    under,
)
from ._runtime_stage_catalog import (
    BUILD_ONLY_PKGS,
    TOOL_PACKAGE,
    Base,
    distroless_ref,
    jre_ref,
    missing_in_slim,
    parse_base,
    runtime_package,
    slim_ref,
)
from ._runtime_stage_node import DepsPlan, plan_deps_stage, runtime_copies

# instructions that describe how the image runs: they move to the runtime stage
_MOVED = ("CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL", "VOLUME", "LABEL", "MAINTAINER")
# instructions copied to the runtime stage (they stay in the build stage too)
_CARRIED = ("ARG", "ENV")
_VENV = "/opt/venv"

# python packages built from source (no wheels, or --no-binary) → runtime libraries they link
_PY_NATIVE = {
    "psycopg2": ["libpq5"],
    "psycopg": ["libpq5"],
    "mysqlclient": ["libmariadb3"],
    "python-ldap": ["libldap-2.5-0", "libsasl2-2"],
    "pyodbc": ["libodbc2"],
    "lxml": ["libxml2", "libxslt1.1"],
    "pillow": ["libjpeg62-turbo", "zlib1g", "libfreetype6", "liblcms2-2", "libwebp7", "libtiff6", "libopenjp2-7"],
}
# node packages that load system libraries of the full image at runtime
_NODE_NATIVE_SYSLIBS = {"canvas", "node-canvas", "gl", "zeromq", "node-rdkafka", "oracledb", "libxmljs", "libxmljs2"}
_NODE_DEV_BINS = {"ts-node": "ts-node", "tsx": "tsx", "nodemon": "nodemon", "babel-node": "@babel/node", "next": "next"}

_GO_BUILD_ONLY = re.compile(
    r"^(.*\.go|go\.mod|go\.sum|go\.work(\.sum)?|vendor|Dockerfile.*|.*\.dockerignore|\.git.*|README.*|LICEN[CS]E.*|"
    r"CHANGELOG.*|Makefile|testdata|\.github|\.gitlab-ci\.yml|\.golangci\.ya?ml|docs?|.*\.md|cmd|internal|pkg)$"
)
_JAVA_BUILD_ONLY = re.compile(
    r"^(src|pom\.xml|build\.gradle(\.kts)?|settings\.gradle(\.kts)?|gradle\.properties|gradle|gradlew(\.bat)?|mvnw(\.cmd)?|"
    r"\.mvn|target|build|\.gradle|Dockerfile.*|.*\.dockerignore|\.git.*|README.*|LICEN[CS]E.*|.*\.md|\.github|docs?)$"
)
_RUST_BUILD_ONLY = re.compile(
    r"^(src|Cargo\.toml|Cargo\.lock|target|build\.rs|benches|tests|examples|\.cargo|rust-toolchain(\.toml)?|"
    r"Dockerfile.*|.*\.dockerignore|\.git.*|README.*|LICEN[CS]E.*|.*\.md|\.github|docs?)$"
)


@dataclass
class Runtime:
    """What the runtime stage needs."""

    base: str
    shell: bool  # the runtime base has /bin/sh
    apt: list[str] = field(default_factory=list)
    copies: list[tuple[str, str]] = field(default_factory=list)  # (path in build stage, destination)
    env: list[str] = field(default_factory=list)  # extra ENV lines (text after ENV)
    build_before: dict[int, list[str]] = field(default_factory=dict)  # instruction index → lines inserted before it
    build_after: list[str] = field(default_factory=list)  # lines appended to the build stage
    cmd: list[str] | None = None  # new exec-form CMD (None: carry the original)
    leaves: list[str] = field(default_factory=list)  # what leaves the final image
    checks: list[str] = field(default_factory=list)  # what the user should check
    safety: Safety = Safety.REVIEW
    extra_runs: list[str] = field(default_factory=list)  # extra RUNs in the runtime stage (npm -g ...)
    chown: str | None = None
    deps: DepsPlan | None = None  # node: production dependencies from their own stage


class _Note(Exception):
    pass


def _q(argv: list[str]) -> str:
    return json.dumps(argv)


def _kw(style: str, word: str) -> str:
    return word.lower() if style.islower() else word


@register
class AddRuntimeStage(Pass):
    """Split a toolchain build into a build stage and a small runtime stage.

    What it does:
        When the final stage builds on a full toolchain image (node, python,
        golang, a JDK, rust) and installs or compiles there, the stage becomes
        the build stage (`AS build`) and a new final stage starts from a
        runtime base with only what the app needs:

        - node: `node:N-slim` (distroless nodejs when the CMD is plain
          `node file.js` and the app never spawns a shell). A `deps` stage
          installs the production dependencies from the manifests alone
          (`npm ci --omit=dev`, `npm install --omit=dev` without a
          lockfile); the runtime copies its node_modules first, then each
          top-level entry of the app folder from the build stage (sources,
          build output, templates, assets; the context listing with
          `.dockerignore` applied, plus what the build creates, such as
          tsc's outDir). When that list is not certain (an unknown build
          tool, install scripts, local packages, workspaces), the build
          stage runs `npm prune --omit=dev` and the runtime copies the whole
          app folder. `npm start` becomes the `node file` it runs.
        - python: the build stage installs into a venv (`/opt/venv`, on
          PATH before the first install); the runtime is `python:X-slim` with
          the venv on PATH, the app folder, and the runtime libraries of the
          `-dev` packages the build installed (libpq-dev → libpq5).
        - go: `CGO_ENABLED=0` and distroless static, or distroless base when
          the code uses cgo; only the binary and non-Go files of the app
          folder are copied.
        - java: a JDK build runs on the matching JRE; the jar and non-build
          files are copied.
        - rust: `cargo build --release` output runs on distroless cc.

        ENV, ARG, WORKDIR, LABEL, EXPOSE, VOLUME, HEALTHCHECK, STOPSIGNAL,
        USER, ENTRYPOINT and CMD move to the runtime stage. Users the build
        created are created again. The runtime stage puts what rarely
        changes first (packages, users, dependencies) and the app's files
        last, so a source edit rebuilds only the last layers. Where the
        split would have to guess (no CMD, shell scripts, writes outside the
        app folder, unsupported tools) it only explains what blocks it.

    Why:
        A full toolchain image carries compilers, headers, package managers
        and dev dependencies the running app never uses: hundreds of MB to
        pull, store and scan. The runtime stage keeps only what runs.

    Example:
        # before
        FROM node:18
        WORKDIR /app
        COPY . .
        RUN npm ci && npm run build
        CMD ["npm", "start"]
        # after (tsconfig.json has "outDir": "dist")
        FROM node:18 AS build
        WORKDIR /app
        COPY . .
        RUN npm ci && npm run build

        FROM node:18 AS deps
        WORKDIR /app
        COPY package.json package-lock.json ./
        RUN npm ci --omit=dev

        FROM node:18-slim
        WORKDIR /app
        COPY --from=deps /app /app
        COPY --from=build /app/dist /app/dist
        COPY --from=build /app/src /app/src
        COPY --from=build /app/tsconfig.json /app/
        CMD ["node", "dist/index.js"]

    Fix safety:
        Review: the app now runs on a smaller base. dockeropt checks the
        commands, the CMD and (with a build context) package.json and the
        requirements, but the app may still use a tool or library only the
        full image had. Unsafe when no build context was given, because then
        it cannot see which files and libraries the app needs.
    """

    id = "DO201"
    name = "add-runtime-stage"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        if not doc.stages:
            return
        stage = doc.stages[-1]
        base = parse_base(stage.base)
        if base is None or not base.full:
            return
        # a stage built FROM an earlier stage is not a toolchain base we know
        if any(s.name and s.name.lower() == stage.base.lower() for s in doc.stages[:-1]):
            return
        try:
            facts = analyse(stage, base, ctx.context)
            if facts is None:
                return
            rt = self._plan(doc, stage, facts, ctx.context)
        except (Blocked, _Note) as exc:
            yield self.change(
                "Runtime stage not added",
                f"The final stage builds on the full `{stage.base}` image, but {exc}; dockeropt leaves it as it is. "
                "Split it by hand into a build stage and a slim runtime stage.",
                stage.from_instruction,
            )
            return
        if ctx.context is None:
            rt.safety = Safety.UNSAFE
            rt.checks.append("no build context was given, so the app's files and libraries could not be checked")
        edit = self._edit(doc, stage, facts, rt)
        if edit is None:
            return
        leaves = rt.leaves[0] if len(rt.leaves) == 1 else ", ".join(rt.leaves[:-1]) + " and " + rt.leaves[-1]
        expl = (
            f"The final image now starts from `{rt.base}` and gets only the app from the `{self._build_name(doc, stage)}` "
            f"stage; {leaves} stay in the build stage. Check: {'; '.join(rt.checks)}."
        )
        yield self.change(f"Run on `{rt.base}` in a separate runtime stage", expl, stage.from_instruction, [edit], rt.safety)

    # ------------------------------------------------------------------ planning

    def _plan(self, doc: Dockerfile, stage: Stage, f: StageFacts, context: BuildContext | None) -> Runtime:
        if f.eco == "node":
            rt = self._node(stage, f, context)
        elif f.eco == "python":
            rt = self._python(stage, f, context)
        elif f.eco == "go":
            rt = self._go(stage, f, context)
        elif f.eco == "java":
            rt = self._java(stage, f, context)
        else:
            rt = self._rust(stage, f, context)
        self._user(f, rt)
        self._tools(f, rt)
        return rt

    def _user(self, f: StageFacts, rt: Runtime) -> None:
        user = f.final_user
        if user is None or user.split(":")[0] in ("root", "0"):
            return
        if "$" in user:
            raise _Note("the USER comes from a variable")
        name = user.split(":")[0]
        if not rt.shell and not (name.isdigit() or name == "nonroot"):
            raise _Note(f"USER {user} would not exist in the distroless runtime")
        if not f.user_runs and not name.isdigit():
            known = {"node": "node", "python": None}
            if known.get(f.base.family) != name:
                raise _Note(f"USER {user} comes from the base image and may not exist in the runtime base")
        rt.chown = user

    def _tools(self, f: StageFacts, rt: Runtime) -> None:
        """Tools the CMD/ENTRYPOINT/HEALTHCHECK call that the runtime base lacks."""
        missing = missing_in_slim(f.base.family)
        words: list[str] = []
        for ins in (f.cmd, f.entrypoint, f.healthcheck):
            if ins is None:
                continue
            if ins.keyword == "HEALTHCHECK":
                if ins.args.strip().upper() == "NONE":
                    continue
                if not rt.shell:
                    raise _Note("the HEALTHCHECK needs tools a distroless runtime does not have")
                words.extend(re.findall(r"[A-Za-z0-9_./-]+", ins.args))
                continue
            argv, _shell = launch_argv(ins)
            if argv is None:
                words.extend(re.findall(r"[A-Za-z0-9_./-]+", ins.args))
            else:
                words.extend(argv[:1])
                if argv[:2] in (["sh", "-c"], ["/bin/sh", "-c"], ["bash", "-c"], ["/bin/bash", "-c"]) and len(argv) > 2:
                    words.extend(re.findall(r"[A-Za-z0-9_./-]+", argv[2]))
        for w in words:
            base = posixpath.basename(w)
            if w.endswith(".sh") or base in ("bash",):
                raise _Note(f"the image starts through `{w}`, a shell script or shell dockeropt does not follow")
            if base in missing and base in TOOL_PACKAGE and base not in ("gcc", "make", "git"):
                pkg = TOOL_PACKAGE[base]
                if not rt.shell:
                    raise _Note(f"`{base}` is used at runtime and the distroless runtime has no package manager")
                if pkg not in rt.apt:
                    rt.apt.append(pkg)
            elif base in ("gcc", "make", "git", "mvn", "gradle", "cargo", "go", "pip", "poetry", "pipenv", "uv", "pdm"):
                raise _Note(f"the image runs `{base}` at startup, a build tool the runtime stage would not have")

    def _apt_runtime(self, f: StageFacts, rt: Runtime) -> None:
        """apt packages the build installed, as the runtime needs them."""
        for p in f.apt_pkgs:
            if p in BUILD_ONLY_PKGS:
                continue
            if p.endswith("-dev"):
                r = runtime_package(p)
                if r is None:
                    rt.checks.append(f"`{p}` is kept in the runtime stage because its runtime library package is unknown")
                    r = p
                for q in r.split():
                    if q not in rt.apt:
                        rt.apt.append(q)
                rt.checks.append(f"`{r}` replaces `{p}` in the runtime stage")
                continue
            if p not in rt.apt:
                rt.apt.append(p)

    def _app_copies(self, f: StageFacts, rt: Runtime) -> None:
        for r in f.roots:
            rt.copies.append((r, r))

    # -- node

    def _node(self, stage: Stage, f: StageFacts, context: BuildContext | None) -> Runtime:
        ver = f.base.version.split(".")[0] if f.base.version else None
        slim = slim_ref(f.base)
        if slim is None:
            raise _Note("dockeropt knows no slim variant of this node image")
        rt = Runtime(base=slim, shell=True)
        rt.leaves = ["the full image's compilers, headers and extra tools (gcc, make, git, curl)"]
        self._apt_runtime(f, rt)
        for g in f.node_globals:
            rt.extra_runs.append(g)
        if len(set(f.node_install_dirs)) > 1:
            raise _Note("npm installs in more than one folder")
        idir = f.node_install_dirs[0] if f.node_install_dirs else f.final_workdir
        if idir is None:
            raise _Note("the folder npm installs into is unknown")
        rel = "."
        if f.roots and context is not None:
            root = next((r for r in f.roots if under(idir, [r])), None)
            rel = posixpath.relpath(idir, root) if root else "."
        pkg = read_package_json(context, posixpath.join(rel, "package.json")) if context is not None else None
        scripts = pkg.get("scripts") if isinstance(pkg, dict) else None
        scripts = scripts if isinstance(scripts, dict) else {}
        deps = pkg.get("dependencies") if isinstance(pkg, dict) else None
        dev = pkg.get("devDependencies") if isinstance(pkg, dict) else None
        deps = deps if isinstance(deps, dict) else {}
        dev = dev if isinstance(dev, dict) else {}
        native = sorted(set(deps) & _NODE_NATIVE_SYSLIBS)
        if native:
            raise _Note(f"the dependency `{native[0]}` loads system libraries only the full image has")
        # CMD: resolve npm start
        argv, _shell = launch_argv(f.cmd)
        new_cmd: list[str] | None = None
        start_script: str | None = None
        if f.entrypoint is None and argv and argv[0] == "npm" and argv[1:] in (["start"], ["run", "start"], ["run-script", "start"]):
            start_script = scripts.get("start") if isinstance(scripts.get("start"), str) else None
            if start_script is None and context is not None and context.is_file(posixpath.join(rel, "server.js")) and pkg is not None and "start" not in scripts:
                start_script = "node server.js"
            if start_script and not any(k in scripts for k in ("prestart", "poststart")):
                if re.fullmatch(r"node(\s+[A-Za-z0-9_./@=:-]+)+", start_script.strip()):
                    new_cmd = start_script.split()
        effective = new_cmd or argv
        # dev dependencies may leave only when nothing at startup needs them
        runtime_words = " ".join(effective or []) + " " + (start_script or "")
        if argv and argv[0] == "npm" and len(argv) >= 3 and argv[1] in ("run", "run-script") and isinstance(scripts.get(argv[2]), str):
            runtime_words += " " + str(scripts.get(argv[2]))
        dev_needed = [b for b, p in _NODE_DEV_BINS.items() if re.search(rf"(^|\s){re.escape(b)}(\s|$)", runtime_words) and p in dev]
        dev_needed += [d for d in dev if re.search(rf"(^|[\s/]){re.escape(d)}(\s|$)", runtime_words)]
        v = int(ver) if ver and ver.isdigit() else 99
        flag = "--omit=dev" if v >= 16 else "--production"
        deps = None if dev_needed else plan_deps_stage(stage, f, context, pkg, scripts, rel, idir, flag)
        if deps is not None:
            rt.deps = deps
            if dev:
                rt.leaves.append("the devDependencies (" + ", ".join(sorted(dev)[:4]) + (", …" if len(dev) > 4 else "") + ")")
            rt.checks.append(
                f"production dependencies now come from a separate stage that runs `npm {'ci' if deps.lockfile else 'install'} {flag}` "
                "on the manifests alone, so a source edit no longer reinstalls or recopies node_modules"
            )
            rt.copies.extend(runtime_copies(deps))
        elif context is None or pkg is None:
            rt.checks.append("dev dependencies stay in node_modules because package.json could not be read")
        elif dev and not dev_needed:
            cd = "" if idir == f.final_workdir else f"cd {idir} && "
            rt.build_after.append(f"RUN {cd}npm prune {flag}")
            rt.leaves.append("the devDependencies (" + ", ".join(sorted(dev)[:4]) + (", …" if len(dev) > 4 else "") + ")")
        elif dev_needed:
            rt.checks.append(f"devDependencies stay because the start command uses `{dev_needed[0]}`")
        if new_cmd is not None:
            rt.cmd = new_cmd
            rt.checks.append(f"`npm start` now runs `{' '.join(new_cmd)}` directly, so signals reach node itself")
        # distroless when nothing needs a shell
        distroless = self._node_distroless(f, rt, context, effective, ver, rel)
        if distroless is not None:
            rt.base = distroless
            rt.shell = False
            assert effective is not None
            rt.cmd = effective[1:]
            rt.leaves.append("npm and the shell")
            rt.checks.append("the app runs without a shell or npm (distroless); it must not spawn shell commands")
        rt.checks.append("the app starts and finds every file it reads")
        if rt.deps is None:
            self._app_copies(f, rt)
        return rt

    def _node_distroless(self, f: StageFacts, rt: Runtime, context: BuildContext | None, effective: list[str] | None,
                         ver: str | None, rel: str) -> str | None:
        if context is None or not effective or effective[0] != "node" or len(effective) < 2:
            return None
        if f.entrypoint is not None or f.healthcheck is not None or rt.apt or rt.extra_runs or f.user_runs:
            return None
        if f.final_user is not None:
            return None
        ref = distroless_ref("nodejs", ver, False)
        if ref is None:
            return None
        # the app's own code must not spawn processes (a shell may be needed)
        if _mentions(context, rel, (".js", ".cjs", ".mjs", ".ts"), re.compile(r"child_process|execSync|spawn\(|\bshelljs\b|process\.binding")):
            return None
        return ref

    # -- python

    def _python(self, stage: Stage, f: StageFacts, context: BuildContext | None) -> Runtime:
        slim = slim_ref(f.base)
        if slim is None:
            raise _Note("dockeropt knows no slim variant of this python image")
        rt = Runtime(base=slim, shell=True)
        rt.leaves = ["the full image's compilers, headers and extra tools (gcc, make, git, curl)"]
        devs = [p for p in f.apt_pkgs if p.endswith("-dev") or p in BUILD_ONLY_PKGS]
        if devs:
            rt.leaves.append("the build packages " + ", ".join(devs))
        self._apt_runtime(f, rt)
        venv = f.venv
        if venv is None:
            venv = _VENV
            first = [i for i in (f.first_copy, f.first_install) if i is not None]
            at = min(first, key=lambda i: i.index) if first else stage.body[0]
            rt.build_before[at.index] = [f"RUN python -m venv {_VENV}", f'ENV PATH="{_VENV}/bin:$PATH"']
            rt.env.append(f'PATH="{_VENV}/bin:$PATH"')
        rt.copies.append((venv, venv))
        # native extensions built from source need their libraries at runtime
        reqs: list[str] = list(f.pip_packages)
        if context is not None:
            for r in f.pip_requirements:
                rel = _context_rel(f, r)
                text = context.read_text(rel) if rel is not None else None
                if text is None:
                    rt.checks.append(f"the requirements file {r} could not be read, so native libraries were not checked")
                    continue
                reqs.extend(line.split("#", 1)[0].strip() for line in text.splitlines())
        names = {re.split(r"[\s<>=!~\[;@]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs if r and not r.startswith("-")}
        libs: list[str] = []
        for n in sorted(names):
            if n in _PY_NATIVE:
                if n == "lxml" or n == "pillow":
                    if n not in {x.lower() for x in f.pip_no_binary} and ":all:" not in f.pip_no_binary:
                        continue  # wheels bundle their libraries
                for lib in _PY_NATIVE[n]:
                    if lib not in rt.apt:
                        rt.apt.append(lib)
                        libs.append(lib)
        if libs:
            rt.checks.append(f"{', '.join(libs)} {'is' if len(libs) == 1 else 'are'} installed in the runtime for the compiled extensions")
        for ins in (f.cmd, f.entrypoint):
            argv, _ = launch_argv(ins)
            for w in (argv or re.findall(r"\S+", ins.args if ins else "")):
                if w.startswith("/usr/local/bin/") or w.startswith("/usr/bin/pip"):
                    raise _Note(f"the image starts `{w}`, which moves into the venv")
            if argv and argv[0] in ("poetry", "pipenv", "uv", "pdm"):
                raise _Note(f"the image starts through `{argv[0]} run`, a tool the runtime would not have")
        rt.checks.append(f"console scripts resolve from {venv}/bin and the app finds every file it reads")
        self._app_copies(f, rt)
        return rt

    # -- go

    def _go(self, stage: Stage, f: StageFacts, context: BuildContext | None) -> Runtime:
        if not f.go_outputs:
            raise _Note("no `go build` output was found")
        cgo: bool | None
        if f.go_cgo_env is not None:
            cgo = f.go_cgo_env != "0"
        elif context is not None:
            cgo = _mentions(context, ".", (".go",), re.compile(r'^\s*import\s+"C"|^\s*"C"\s*$', re.M))
        else:
            cgo = None  # unknown: keep the dynamic build, glibc runtime
        argv_ep, _ = launch_argv(f.entrypoint)
        argv_cmd, _ = launch_argv(f.cmd)
        shell_needed = argv_ep is None or argv_cmd is None
        libs = [p for p in f.apt_pkgs if p.endswith("-dev")]
        writes = context is not None and _mentions(context, ".", (".go",), re.compile(r"os\.(Create|WriteFile|Mkdir|MkdirAll|OpenFile)\("))
        if shell_needed or (cgo and libs):
            rt = Runtime(base="debian:bookworm-slim", shell=True)
            if cgo and libs:
                self._apt_runtime(f, rt)
            rt.apt = [p for p in rt.apt if p not in ("golang",)]
            for p in ("ca-certificates", "tzdata"):
                if p not in rt.apt:
                    rt.apt.append(p)
            rt.checks.append("the CMD needs a shell, so the runtime is Debian slim" if shell_needed else "the cgo libraries are installed in Debian slim")
        elif cgo is False:
            if f.go_cgo_env is None:
                at = f.first_install if f.first_install is not None else stage.body[0]
                rt0_before = {at.index: ["ENV CGO_ENABLED=0"]}
            else:
                rt0_before = {}
            nonroot = not writes and f.final_user is None
            ref = distroless_ref("static", None, nonroot)
            assert ref is not None
            rt = Runtime(base=ref, shell=False, build_before=rt0_before)
            rt.checks.append("the binary is static (CGO_ENABLED=0)" + (" and runs as the distroless nonroot user" if nonroot else ""))
        else:
            ref = distroless_ref("cc" if cgo and context is not None and _has_files(context, (".cc", ".cpp", ".cxx")) else "base", None, False)
            assert ref is not None
            rt = Runtime(base=ref, shell=False)
            rt.checks.append("the binary links glibc dynamically" + (" (cgo)" if cgo else ", as the build did not switch cgo off"))
        rt.leaves = ["the Go toolchain", "the module cache", "the sources"]
        if not rt.shell:
            rt.cmd = self._exec_launch(f)
        for out in f.go_outputs:
            rt.copies.append((out, out))
        self._extra_files(f, rt, context, _GO_BUILD_ONLY)
        return rt

    def _exec_launch(self, f: StageFacts) -> list[str] | None:
        """A shell-form CMD as exec form (the runtime has no shell)."""
        if f.cmd is not None and not f.cmd.json:
            argv, _ = launch_argv(f.cmd)
            if argv is None:
                raise _Note("the CMD needs a shell")
            return argv
        return None

    def _extra_files(self, f: StageFacts, rt: Runtime, context: BuildContext | None, build_only: re.Pattern[str]) -> None:
        """Non-build files of the app folder (templates, config): copied beside the artifact."""
        if context is None:
            rt.checks.append("files the app reads at runtime beside the binary were not copied (no build context)")
            return
        if f.first_copy is None:
            return
        roots = [r for r in f.roots if not any(r == c[0] for c in rt.copies)]
        if len(roots) != 1:
            if roots:
                for r in roots:
                    rt.copies.append((r, r))
            return
        root = roots[0]
        extra = [n for n in context.listdir(".") if not build_only.match(n) and not n.endswith("_test.go")]
        for n in extra:
            p = posixpath.join(root, n)
            if not any(p == c[0] or under(c[0], [p]) for c in rt.copies):
                rt.copies.append((p, p))
        if extra:
            rt.checks.append("runtime files copied beside the binary: " + ", ".join(extra))

    # -- java

    def _java(self, stage: Stage, f: StageFacts, context: BuildContext | None) -> Runtime:
        jre = jre_ref(f.base)
        if jre is None:
            raise _Note("dockeropt knows no JRE image for this JDK")
        rt = Runtime(base=jre, shell=True)
        rt.leaves = ["the JDK (javac, jlink)", *(["Maven/Gradle and their caches"] if f.java_builds else []), "the sources"]
        jar: str | None = None
        for ins in (f.entrypoint, f.cmd):
            argv, _ = launch_argv(ins)
            words = argv if argv is not None else (ins.args.split() if ins is not None else [])
            if "-jar" in words and words.index("-jar") + 1 < len(words):
                jar = words[words.index("-jar") + 1]
            if words and words[0] in ("mvn", "./mvnw", "mvnw", "gradle", "./gradlew"):
                raise _Note(f"the image starts through `{words[0]}`, a build tool the runtime stage would not have")
        if jar is None:
            raise _Note("the CMD does not run `java -jar`, so dockeropt cannot tell which files the app needs")
        if "$" in jar:
            raise _Note("the jar path uses a variable")
        path = jar if jar.startswith("/") else posixpath.normpath(posixpath.join(f.final_workdir or "/", jar))
        if "*" in posixpath.dirname(path):
            raise _Note("the jar's folder is a wildcard")
        if "*" in path:
            rt.copies.append((path, posixpath.dirname(path) + "/"))
        else:
            rt.copies.append((path, path))
        rt.checks.append(f"only {jar} and the app's non-build files reach the runtime; the app must not need the JDK (javac, jcmd)")
        # distroless java runs `java -jar <CMD>`: only for a plain `java -jar app.jar`
        argv_cmd, _ = launch_argv(f.cmd)
        ver = f.base.version
        dl = distroless_ref("java", ver, False) if ver else None
        if (
            dl is not None and context is not None and f.entrypoint is None and argv_cmd == ["java", "-jar", jar]
            and "*" not in jar and f.healthcheck is None and f.final_user is None and not f.user_runs and not f.apt_pkgs
        ):
            rt.base = dl
            rt.shell = False
            rt.cmd = [jar]
            rt.leaves.insert(0, "the shell")
            rt.checks.append("the app runs without a shell (distroless java runs `java -jar` with the CMD)")
        self._extra_files(f, rt, context, _JAVA_BUILD_ONLY)
        return rt

    # -- rust

    def _rust(self, stage: Stage, f: StageFacts, context: BuildContext | None) -> Runtime:
        if len(set(f.cargo_dirs)) != 1:
            raise _Note("no single `cargo build --release` was found")
        cdir = f.cargo_dirs[0]
        target = posixpath.join(cdir, "target", "release")
        argv_ep, _ = launch_argv(f.entrypoint)
        argv_cmd, _ = launch_argv(f.cmd)
        exe_argv = argv_ep if f.entrypoint is not None else argv_cmd
        binary: str | None = None
        new_cmd: list[str] | None = None
        if exe_argv:
            exe = exe_argv[0]
            if exe in ("cargo",):
                if exe_argv[1:3] == ["run", "--release"] and context is not None:
                    name = _cargo_name(context)
                    if name is None:
                        raise _Note("the crate name could not be read from Cargo.toml")
                    binary = posixpath.join(target, name)
                    new_cmd = [binary, *exe_argv[4:]] if exe_argv[3:4] == ["--"] else [binary]
                    if len(exe_argv) > 3 and exe_argv[3] != "--":
                        raise _Note("`cargo run` has options dockeropt does not translate")
                else:
                    raise _Note("the image starts through cargo, which the runtime stage would not have")
            else:
                p = exe if exe.startswith("/") else posixpath.normpath(posixpath.join(f.final_workdir or "/", exe))
                if under(p, [target]):
                    binary = p
        if binary is None:
            raise _Note("the CMD does not run the binary from target/release")
        libs = [p for p in f.apt_pkgs if p.endswith("-dev") and p != "libssl-dev"]
        shell_needed = argv_ep is None or argv_cmd is None
        if shell_needed or libs:
            rt = Runtime(base="debian:bookworm-slim", shell=True)
            self._apt_runtime(f, rt)
            if "ca-certificates" not in rt.apt:
                rt.apt.append("ca-certificates")
        else:
            ref = distroless_ref("cc", None, False)
            assert ref is not None
            rt = Runtime(base=ref, shell=False)
            rt.cmd = self._exec_launch(f)
        if new_cmd is not None:
            rt.cmd = new_cmd
        rt.leaves = ["the Rust toolchain", "the cargo registry and target folder", "the sources"]
        rt.copies.append((binary, binary))
        rt.checks.append(f"only {binary} and the app's non-build files reach the runtime; the binary must link only glibc, libgcc and OpenSSL")
        self._extra_files(f, rt, context, _RUST_BUILD_ONLY)
        return rt

    # ------------------------------------------------------------------ text

    def _build_name(self, doc: Dockerfile, stage: Stage) -> str:
        taken = {s.name.lower() for s in doc.stages if s.name}
        if stage.name:
            cand = [f"{stage.name}-build", "build", "builder"]
        else:
            cand = ["build", "builder", "build-stage"]
        for c in cand:
            if c.lower() not in taken:
                return c
        return f"build{len(doc.stages)}"

    def _deps_name(self, doc: Dockerfile, build: str) -> str:
        taken = {s.name.lower() for s in doc.stages if s.name} | {build.lower()}
        for c in ("deps", "prod-deps", "runtime-deps"):
            if c not in taken:
                return c
        return f"deps{len(doc.stages)}"

    def _edit(self, doc: Dockerfile, stage: Stage, f: StageFacts, rt: Runtime) -> Edit | None:
        text = doc.text
        nl = doc.newline
        frm = stage.from_instruction
        if frm.is_multiline:
            return None
        style = frm.keyword_raw
        build = self._build_name(doc, stage)
        line = frm.line_text()
        m: re.Match[str] | None = None
        if stage.name:
            m = re.search(r"(\s+[Aa][Ss]\s+)(\S+)(\s*)$", line)
            if m is None:
                return None
            build_from = line[: m.start(2)] + build + line[m.end(2):]
        else:
            build_from = line.rstrip() + f" {_kw(style, 'AS')} {build}"
        start = frm.full_range.start
        end = stage.instructions[-1].full_range.end
        out: list[str] = [build_from, text[frm.range.end : frm.full_range.end]]
        if not text[frm.range.end : frm.full_range.end]:
            out.append(nl)
        pos = frm.full_range.end
        moved: list[Instruction] = []
        carried: list[Instruction] = []
        workdirs: list[Instruction] = []
        for ins in stage.body:
            cstart = leading_comment_start(ins)
            if ins.index in rt.build_before:
                out.append(text[pos:cstart])
                out.append("".join(_fix_kw(x, style) + nl for x in rt.build_before[ins.index]))
                pos = cstart
            if ins.keyword in _MOVED:
                out.append(text[pos:cstart])
                pos = ins.full_range.end
                moved.append(ins)
                continue
            if ins.keyword == "USER":
                moved.append(ins)
            elif ins.keyword in _CARRIED:
                carried.append(ins)
            elif ins.keyword == "WORKDIR":
                workdirs.append(ins)
        out.append(text[pos:end])
        build_text = "".join(out)
        if not build_text.endswith("\n"):
            build_text += nl
        build_text = re.sub(r"(\r?\n)(?:[ \t]*\r?\n)+$", r"\1", build_text)
        for extra in rt.build_after:
            build_text += _fix_kw(extra, style) + nl
        # the runtime stage
        r: list[str] = []
        name = f" {_kw(style, 'AS')} {stage.name}" if stage.name else ""
        platform = frm.flag("platform")
        plat = f"{platform.raw} " if platform else ""
        r.append(f"{_kw(style, 'FROM')} {plat}{rt.base}{name}")
        carried_lines = [
            ins.line_text() if not ins.is_multiline else text[ins.range.start : ins.range.end]
            for ins in carried
            if not (ins.keyword == "ENV" and f.eco == "go" and re.search(r"\b(GOPATH|GOFLAGS|GOOS|GOARCH|CGO_ENABLED|GO111MODULE|GOPROXY)\b", ins.args))
        ]
        runs: list[str] = []
        if rt.apt:
            runs.append(_fix_kw(
                "RUN apt-get update && apt-get install -y --no-install-recommends "
                + " ".join(rt.apt)
                + " && rm -rf /var/lib/apt/lists/*", style))
        for ins in f.user_runs:
            runs.append(text[ins.range.start : ins.range.end])
        for cmd in rt.extra_runs:
            runs.append(_fix_kw(f"RUN {cmd}", style))
        if runs and _runs_first(carried, f.user_runs, rt):
            # packages and users change less often than ARG/ENV values: their layers stay cached
            r.extend(runs)
            r.extend(carried_lines)
        else:
            r.extend(carried_lines)
            r.extend(runs)
        for e in rt.env:
            r.append(_fix_kw(f"ENV {e}", style))
        for ins in workdirs:
            r.append(ins.line_text())
        chown = f" --chown={rt.chown}" if rt.chown else ""
        deps_text = ""
        if rt.deps is not None:
            deps_name = self._deps_name(doc, build)
            deps_from = (line[: m.start(2)] + deps_name + line[m.end(2):]) if stage.name and m is not None else (
                line.rstrip() + f" {_kw(style, 'AS')} {deps_name}")
            d = [deps_from]
            d.extend(text[ins.range.start : ins.range.end] for ins in rt.deps.carried)
            d.extend(_fix_kw(x, style) for x in rt.deps.lines)
            deps_text = nl.join(d) + nl + nl
            # the production node_modules (and the manifests) first: cached until the manifests change
            r.append(_fix_kw(f"COPY --from={deps_name}{chown} {rt.deps.install_dir} {rt.deps.install_dir}", style))
        for src, dst in rt.copies:
            if not rt.shell and is_system_path(dst) and dst != src:
                return None
            own = "" if src == f.venv or (f.venv is None and src == _VENV) else chown
            r.append(_fix_kw(f"COPY --from={build}{own} {src} {dst}", style))
        for ins in moved:
            body = text[ins.range.start : ins.range.end]
            if ins.keyword == "CMD" and ins is f.cmd and rt.cmd is not None:
                body = f"{ins.keyword_raw} {_q(rt.cmd)}"
            elif ins.keyword == "CMD" and ins is not f.cmd:
                continue  # only the last CMD counts
            elif ins.keyword == "ENTRYPOINT" and not rt.shell and not ins.json:
                argv, _ = launch_argv(ins)
                if argv is None:
                    return None
                body = f"{ins.keyword_raw} {_q(argv)}"
            elif ins.keyword == "CMD" and not rt.shell and not ins.json:
                return None
            r.append(body)
        runtime_text = nl.join(r) + nl
        sep = nl
        if not text[start:end].endswith("\n") and end == len(text):
            runtime_text = runtime_text[: -len(nl)]
        new = build_text + sep + deps_text + runtime_text
        return Edit.replace(start, end, new)


_KEEP_BEFORE_RUNS = re.compile(r"\b(PATH|HOME|SHELL|LANG|LC_[A-Z]+|DEBIAN_FRONTEND|APT_\w+|\w*_?[Pp][Rr][Oo][Xx][Yy])\b")


def _runs_first(carried: list[Instruction], user_runs: list[Instruction], rt: Runtime) -> bool:
    """May the runtime's RUNs (apt, users) come before the carried ARG/ENV? Only when they cannot depend on them."""
    if rt.extra_runs or any("$" in ins.args for ins in user_runs):
        return False
    return not any(ins.keyword == "ENV" and _KEEP_BEFORE_RUNS.search(ins.args) for ins in carried)


def _fix_kw(line: str, style: str) -> str:
    if style.islower():
        kw, _, rest = line.partition(" ")
        return kw.lower() + " " + rest
    return line


def _context_rel(f: StageFacts, path: str) -> str | None:
    """A path in the image as a path in the build context (via the source copy's destination)."""
    for r in f.roots:
        if under(path, [r]):
            return posixpath.relpath(path, r)
    return None


def _walk(context: BuildContext, rel: str, limit: int = 2000) -> list[str]:
    out: list[str] = []
    stack = [rel]
    while stack and len(out) < limit:
        d = stack.pop()
        for n in context.listdir(d):
            p = n if d in (".", "") else f"{d}/{n}"
            if n in ("node_modules", ".git", "vendor", "target", "dist", "build", "__pycache__"):
                continue
            if context.is_dir(p):
                stack.append(p)
            else:
                out.append(p)
    return out


def _mentions(context: BuildContext, rel: str, exts: tuple[str, ...], pattern: re.Pattern[str]) -> bool:
    for p in _walk(context, rel):
        if p.endswith(exts):
            t = context.read_text(p)
            if t is not None and pattern.search(t):
                return True
    return False


def _has_files(context: BuildContext, exts: tuple[str, ...]) -> bool:
    return any(p.endswith(exts) for p in _walk(context, "."))


def _cargo_name(context: BuildContext) -> str | None:
    text = context.read_text("Cargo.toml")
    if text is None:
        return None
    bins = re.findall(r"^\[\[bin\]\]\s*\n(?:.*\n)*?\s*name\s*=\s*\"([^\"]+)\"", text, re.M)
    if bins:
        return bins[0] if len(bins) == 1 else None
    m = re.search(r"^\[package\][^\[]*?^\s*name\s*=\s*\"([^\"]+)\"", text, re.M | re.S)
    return m.group(1) if m else None


def base_of(ref: str) -> Base | None:
    return parse_base(ref)
