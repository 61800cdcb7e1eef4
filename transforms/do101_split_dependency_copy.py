"""DO101 split-dependency-copy."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from dockeropt.analysis import copy_spec, full_context_copy, leading_comment_start, resolve, workdirs
from dockeropt.context import BuildContext
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import Command, RunScript, run_script
from dockeropt.syntax import Dockerfile, Instruction, Stage

# --------------------------------------------------------------------------- install detection


@dataclass
class Install:
    """A dependency install (or build) found in a RUN, and how to cache it."""

    ecosystem: str
    mode: str  # "move": the command only needs manifests; "prefetch": insert a download step
    manifests: list[str]  # context-relative paths (relative to the command's folder)
    optional: list[str] = field(default_factory=list)  # copied only when present in the context
    optional_dirs: list[str] = field(default_factory=list)  # folders copied when present
    moved_command: str | None = None  # replacement text for the moved command (flags added)
    after_copy: list[str] = field(default_factory=list)  # commands to run after the source copy
    prefetch: str | None = None  # the download command for mode "prefetch"
    blocker: str | None = None  # why the install needs the source (display-only note)
    missing: str | None = None  # a required manifest the build context lacks
    safety: Safety = Safety.SAFE
    detail: str = ""
    bind_ok: bool = False  # the install never writes its manifests: they may be read-only bind mounts


def _flags_and_positionals(args: Sequence[str | None]) -> tuple[list[str], list[str | None]]:
    flags: list[str] = []
    pos: list[str | None] = []
    for a in args:
        if a is not None and a.startswith("-"):
            flags.append(a)
        else:
            pos.append(a)
    return flags, pos


def _node(cmd: Command, ctx: _Ctx) -> Install | None:
    args = cmd.args
    name = cmd.name
    if name not in ("npm", "yarn", "pnpm") or cmd.name is None:
        return None
    if name == "npm":
        if not args or args[0] not in ("install", "i", "ci", "clean-install", "install-clean", "isntall"):
            return None
        flags, pos = _flags_and_positionals(args[1:])
        if pos or any(f in ("-g", "--global") for f in flags):
            return None  # installs named packages, not the manifest's
        lock_required = args[0] != "install" and args[0] != "i"
        inst = Install("npm", "move", ["package.json"], optional=["package-lock.json", "npm-shrinkwrap.json", ".npmrc"])
        inst.bind_ok = lock_required  # npm ci never rewrites package-lock.json; npm install may
        if lock_required and ctx.context is None:
            inst.manifests = ["package*.json"]
            inst.optional = [".npmrc"]
        return _check_package_json(inst, ctx)
    if name == "yarn":
        if args and args[0] != "install":
            if args[0] is None or not args[0].startswith("-"):
                return None
        flags, pos = _flags_and_positionals(args[1:] if args and args[0] == "install" else args)
        if pos:
            return None
        inst = Install("yarn", "move", ["package.json"], optional=["yarn.lock", ".yarnrc.yml", ".yarnrc", ".npmrc"], optional_dirs=[".yarn/releases", ".yarn/plugins", ".yarn/patches"])
        if any(f in ("--frozen-lockfile", "--immutable") for f in flags):
            inst.manifests.append("yarn.lock")
            inst.optional.remove("yarn.lock")
            inst.bind_ok = True
        return _check_package_json(inst, ctx)
    if name == "pnpm":
        if not args or args[0] not in ("install", "i"):
            return None
        flags, pos = _flags_and_positionals(args[1:])
        if pos:
            return None
        inst = Install("pnpm", "move", ["package.json"], optional=["pnpm-lock.yaml", ".npmrc", ".pnpmfile.cjs"], optional_dirs=["patches"])
        if "--frozen-lockfile" in flags:
            inst.manifests.append("pnpm-lock.yaml")
            inst.optional.remove("pnpm-lock.yaml")
            inst.bind_ok = True
        if ctx.exists("pnpm-workspace.yaml"):
            inst.blocker = "pnpm-workspace.yaml declares workspace packages, whose package.json files the install reads"
        return _check_package_json(inst, ctx)
    return None


_LIFECYCLE = ("preinstall", "install", "postinstall", "prepare", "prepublish", "preprepare", "postprepare")


def _check_package_json(inst: Install, ctx: _Ctx) -> Install:
    if inst.blocker:
        return inst
    text = ctx.read("package.json")
    if text is None:
        if ctx.context is not None:
            inst.missing = "package.json"
        else:
            inst.safety = Safety.REVIEW
            inst.detail = "No build context was given, so package.json's lifecycle scripts could not be checked."
        return inst
    try:
        pkg = json.loads(text)
    except ValueError:
        inst.blocker = "package.json is not valid JSON"
        return inst
    if not isinstance(pkg, dict):
        inst.blocker = "package.json is not a JSON object"
        return inst
    scripts = pkg.get("scripts") or {}
    hooks = [h for h in _LIFECYCLE if isinstance(scripts, dict) and h in scripts]
    if hooks:
        inst.blocker = f"package.json runs the '{hooks[0]}' lifecycle script during install, which may read source files"
        return inst
    if pkg.get("workspaces"):
        inst.blocker = "package.json declares workspaces, whose own package.json files the install reads"
        return inst
    for section in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
        deps = pkg.get(section) or {}
        if isinstance(deps, dict):
            for dep, spec in deps.items():
                if isinstance(spec, str) and spec.startswith(("file:", "link:", "workspace:", "portal:", ".", "/")):
                    inst.blocker = f"dependency '{dep}' comes from a local path ({spec}), which the install reads"
                    return inst
    return inst


_PIP_NAMES = re.compile(r"^pip(\d+(\.\d+)?)?$")


def _pip_args(cmd: Command) -> list[str | None] | None:
    """Arguments after ``install`` for pip/pip3/python -m pip/uv pip; None if not a pip install."""
    name = cmd.name
    args = cmd.args
    if name is None:
        return None
    if _PIP_NAMES.match(name):
        return args[1:] if args and args[0] == "install" else None
    if re.match(r"^python(\d+(\.\d+)?)?$", name):
        if len(args) >= 3 and args[0] == "-m" and args[1] == "pip" and args[2] == "install":
            return args[3:]
        return None
    if name == "uv" and len(args) >= 2 and args[0] == "pip" and args[1] == "install":
        return args[2:]
    return None


def _local_spec(spec: str) -> bool:
    return spec in (".", "..") or spec.startswith(("./", "../", "/", "file:")) or (
        "/" in spec and not re.match(r"^[A-Za-z][\w.+-]*://", spec) and "@" not in spec
    )


_REQ_OPTS = {"-r": "req", "--requirement": "req", "-c": "con", "--constraint": "con"}
_OPTS_WITH_VALUE = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--target", "-t", "--prefix", "--root",
    "--platform", "--python-version", "--implementation", "--abi", "--trusted-host", "--cache-dir", "--src",
    "--upgrade-strategy", "--progress-bar", "--log", "--proxy", "--retries", "--timeout", "--cert", "--client-cert",
    "--only-binary", "--no-binary", "--global-option", "--config-settings", "-C", "--python", "--report",
}


def _pip(cmd: Command, ctx: _Ctx) -> Install | None:
    args = _pip_args(cmd)
    if args is None:
        return None
    files: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a is None:
            return None  # an expansion: we cannot tell what is installed
        if a in _REQ_OPTS:
            if i + 1 >= len(args) or args[i + 1] is None:
                return None
            files.append(args[i + 1] or "")
            i += 2
            continue
        m = re.match(r"^(-r|-c)(.+)$|^(--requirement|--constraint)=(.+)$", a)
        if m:
            files.append(m.group(2) or m.group(4))
            i += 1
            continue
        if a in ("-e", "--editable"):
            return Install("pip", "move", [], blocker="pip installs the project itself in editable mode (-e), which needs the source")
        if a in _OPTS_WITH_VALUE:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        if _local_spec(a):
            return Install("pip", "move", [], blocker=f"pip installs '{a}' from the build context, which needs the source")
        i += 1
    if not files:
        return None
    inst = Install("pip", "move", [], bind_ok=True)
    seen: list[str] = []
    queue = [posixpath.normpath(f) for f in files]
    while queue:
        f = queue.pop(0)
        if f in seen:
            continue
        if f.startswith("../") or f.startswith("/") or "$" in f:
            return Install("pip", "move", [], blocker=f"requirement file '{f}' lies outside the copied context")
        seen.append(f)
        text = ctx.read(f)
        if text is None:
            if ctx.context is not None:
                return Install("pip", "move", [], blocker=f"requirement file '{f}' is not in the build context")
            inst.safety = Safety.REVIEW
            inst.detail = "No build context was given, so nested requirement files could not be checked."
            continue
        base = posixpath.dirname(f)
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^(-r|--requirement|-c|--constraint)[\s=]*(\S+)", line)
            if m:
                queue.append(posixpath.normpath(posixpath.join(base, m.group(2))))
                continue
            if line.startswith(("-e", "--editable")):
                return Install("pip", "move", [], blocker=f"'{f}' installs a local project in editable mode, which needs the source")
            spec = line.split(";", 1)[0].strip()
            if _local_spec(spec) or " @ file:" in line:
                return Install("pip", "move", [], blocker=f"'{f}' installs '{spec}' from the build context, which needs the source")
    inst.manifests = seen
    return inst


def _python_tools(cmd: Command, ctx: _Ctx) -> Install | None:
    name, args = cmd.name, cmd.args
    if name == "poetry" and args and args[0] == "install":
        flags, _ = _flags_and_positionals(args[1:])
        if "--only-root" in flags:
            return None
        inst = Install("poetry", "move", ["pyproject.toml"], optional=["poetry.lock", "poetry.toml"])
        text = ctx.read("pyproject.toml")
        if text is not None and re.search(r"\bpath\s*=", text):
            inst.blocker = "pyproject.toml has path dependencies, which the install reads from the source"
            return inst
        if "--no-root" not in flags:
            inst.moved_command = _append_flag(cmd, "--no-root")
            inst.after_copy = [_cmd_text(cmd)]
            inst.safety = Safety.REVIEW
            inst.detail = "The dependencies install with --no-root before the source copy; the project itself installs after it."
        return inst
    if name == "pipenv" and args and args[0] in ("install", "sync"):
        flags, pos = _flags_and_positionals(args[1:])
        if pos:
            return None
        return Install("pipenv", "move", ["Pipfile"], optional=["Pipfile.lock"])
    if name == "uv" and args and args[0] == "sync":
        flags, _ = _flags_and_positionals(args[1:])
        inst = Install("uv", "move", ["pyproject.toml"], optional=["uv.lock", ".python-version"])
        inst.bind_ok = any(f in ("--locked", "--frozen") for f in flags)  # otherwise uv may rewrite uv.lock
        text = ctx.read("pyproject.toml")
        if text is not None and ("[tool.uv.workspace]" in text or re.search(r"\bpath\s*=", text)):
            inst.blocker = "pyproject.toml declares a uv workspace or path sources, which the install reads from the source"
            return inst
        if "--no-install-project" not in flags and "--only-install-project" not in flags:
            inst.moved_command = _append_flag(cmd, "--no-install-project")
            inst.after_copy = [_cmd_text(cmd)]
            inst.safety = Safety.REVIEW
            inst.detail = "The dependencies install with --no-install-project before the source copy; the project itself installs after it."
        return inst
    return None


def _other(cmd: Command, ctx: _Ctx) -> Install | None:
    name, args = cmd.name, cmd.args
    if name == "go" and args:
        if args[:2] == ["mod", "download"]:
            return Install("go", "move", ["go.mod"], optional=["go.sum", "go.work", "go.work.sum"], bind_ok=True)
        if args[0] in ("build", "install", "test", "vet", "run", "generate"):
            if not ctx.exists("go.mod") or ctx.context is None:
                return None
            text = ctx.read("go.mod") or ""
            if re.search(r"^\s*replace\s.*=>\s*\.", text, re.M):
                return Install("go", "prefetch", [], blocker="go.mod replaces a module with a local folder, which the download reads")
            return Install("go", "prefetch", ["go.mod"], optional=["go.sum"], prefetch="go mod download", bind_ok=True)
        return None
    if name == "bundle" and (not args or args[0] == "install"):
        inst = Install("bundler", "move", ["Gemfile"], optional=["Gemfile.lock", ".ruby-version"])
        text = ctx.read("Gemfile")
        if text is not None and (re.search(r"^\s*gemspec\b", text, re.M) or re.search(r"\bpath:\s", text)):
            inst.blocker = "the Gemfile loads a gemspec or a path gem, which needs the source"
        return inst
    if name == "composer" and args and args[0] == "install":
        inst = Install("composer", "move", ["composer.json"], optional=["composer.lock", "auth.json"])
        text = ctx.read("composer.json")
        flags, _ = _flags_and_positionals(args[1:])
        if text is not None and '"path"' in text:
            inst.blocker = "composer.json has a path repository, which the install reads from the source"
            return inst
        extra = [f for f in ("--no-scripts", "--no-autoloader") if f not in flags]
        if extra:
            inst.moved_command = _append_flag(cmd, " ".join(extra))
        dump = "composer dump-autoload --optimize" + (" --no-dev" if "--no-dev" in flags else "")
        inst.after_copy = [dump]
        if "--no-scripts" not in flags and text is not None and "post-install-cmd" in text:
            inst.after_copy.append("composer run-script post-install-cmd")
        inst.safety = Safety.REVIEW
        inst.detail = "Composer installs without scripts and autoloader first; the autoloader is dumped after the source copy."
        return inst
    if name in ("mvn", "mvnw") and args:
        goals = [a for a in args if a is not None and not a.startswith("-")]
        if not any(g in ("package", "install", "verify", "compile", "test") for g in goals):
            return None
        if ctx.context is None or not ctx.exists("pom.xml"):
            return None
        pom = ctx.read("pom.xml") or ""
        if "<modules>" in pom:
            return Install("maven", "prefetch", [], blocker="a multi-module pom.xml needs every module's pom.xml")
        keep = [a for a in args if a in ("-B", "--batch-mode", "-q", "--quiet", "-ntp", "--no-transfer-progress", "-U")]
        if any(a in ("-s", "--settings", "-f", "--file") for a in args if a):
            return Install("maven", "prefetch", [], blocker="the build names its own settings or pom file")
        exe = cmd.effective()[0].text
        inst = Install("maven", "prefetch", ["pom.xml"], prefetch=" ".join([exe, *keep, "dependency:go-offline"]), safety=Safety.REVIEW)
        if exe.endswith("mvnw"):
            inst.manifests.append("mvnw")
            inst.optional_dirs.append(".mvn")
        inst.detail = "Maven's dependency:go-offline fetches most, not always all, plugins and dependencies."
        return inst
    if name in ("gradle", "gradlew") and args:
        if not any(a in ("build", "assemble", "bootJar", "jar", "installDist", "shadowJar") for a in args):
            return None
        if ctx.context is None:
            return None
        settings = ctx.read("settings.gradle") or ctx.read("settings.gradle.kts") or ""
        if re.search(r"^\s*include\b", settings, re.M):
            return Install("gradle", "prefetch", [], blocker="a multi-project Gradle build needs every subproject's build file")
        build = [f for f in ("build.gradle", "build.gradle.kts") if ctx.exists(f)]
        if not build:
            return None
        exe = cmd.effective()[0].text
        inst = Install(
            "gradle", "prefetch", build,
            optional=["settings.gradle", "settings.gradle.kts", "gradle.properties"],
            prefetch=f"{exe} dependencies --no-daemon",
            safety=Safety.REVIEW,
        )
        if exe.endswith("gradlew"):
            inst.manifests.append("gradlew")
            inst.optional_dirs.append("gradle")
        inst.detail = "`gradle dependencies` resolves the root project's configurations ahead of the source copy."
        return inst
    return None


_DETECTORS: tuple[Callable[[Command, _Ctx], Install | None], ...] = (_node, _pip, _python_tools, _other)


_BIND_UNSAFE = re.compile(r"[\s,=\"'$*?\[\]\\]")


def bind_mount_flags(mounts: Sequence[tuple[str, str]]) -> str:
    """``--mount=type=bind,source=…,target=…`` flags, one per (source, target)."""
    return " ".join(f"--mount=type=bind,source={src},target={dst}" for src, dst in mounts)


def bind_target(target_abs: str, run_workdir: str | None) -> str:
    """A mount target as the install sees it: relative to the RUN's WORKDIR when inside it (as docker init writes)."""
    if run_workdir and run_workdir != "/" and target_abs.startswith(run_workdir.rstrip("/") + "/"):
        return target_abs[len(run_workdir.rstrip("/")) + 1 :]
    return target_abs


def bindable(path: str) -> bool:
    """Can ``path`` be written in a --mount flag as it is (no CSV quoting, no globs, no variables)?"""
    return bool(path) and not _BIND_UNSAFE.search(path)


def _cmd_text(cmd: Command) -> str:
    return " ".join(w.text for w in (*cmd.assignments, *cmd.argv))


def _append_flag(cmd: Command, flag: str) -> str:
    return f"{_cmd_text(cmd)} {flag}"


def _is_prefetch(cmd: Command, ecosystem: str) -> bool:
    """A dependency download that already runs ahead of the source copy."""
    args = [a for a in cmd.args if a is not None]
    if ecosystem == "go":
        return cmd.name == "go" and args[:2] == ["mod", "download"]
    if ecosystem == "maven":
        return cmd.name in ("mvn", "mvnw") and any(a.startswith("dependency:") for a in args)
    if ecosystem == "gradle":
        return cmd.name in ("gradle", "gradlew") and "dependencies" in args
    return False


# commands that cannot read the application source, so a RUN of only these may run before the copy
_SOURCE_FREE = {
    "apt-get", "apt", "apk", "yum", "dnf", "microdnf", "useradd", "groupadd", "adduser", "addgroup", "mkdir",
    "corepack", "update-ca-certificates", "ln", "true", "echo", "set", "export", "locale-gen", "dpkg-reconfigure",
    "cd",
}
# package-manager cache maintenance
_CACHE_CLEAN = {("npm", "cache"), ("yarn", "cache"), ("pnpm", "store"), ("pip", "cache"), ("pip3", "cache"), ("gem", "cleanup")}
# "<tool> config ..." only writes the tool's own settings
_CONFIG_TOOLS = {"poetry", "npm", "yarn", "pnpm", "composer", "bundle", "pip", "pip3", "git"}


def _source_free(cmd: Command) -> bool:
    name = cmd.name
    if name is None:
        return False
    if name in _SOURCE_FREE:
        return True
    if name in _CONFIG_TOOLS and cmd.args[:1] == ["config"]:
        return True
    if (name, (cmd.args or [None])[0]) in _CACHE_CLEAN:
        return True
    if name == "rm":
        return all(
            a is not None and (a.startswith("-") or a.startswith(("/var/lib/apt", "/var/cache", "/tmp/", "/root/.cache", "/root/.npm", "~/.cache", "~/.npm")))
            for a in cmd.args
        )
    if name == "npm" and cmd.args[:1] in (["install"], ["i"]) and any(a in ("-g", "--global") for a in cmd.args):
        return True
    if _pip_args(cmd) is not None:
        rest = _pip_args(cmd) or []
        return all(a is not None and not _local_spec(a) and a not in _REQ_OPTS and not a.startswith(("-r", "-c", "--req", "--con", "-e")) for a in rest)
    return False


# --------------------------------------------------------------------------- pass


@dataclass
class _Ctx:
    context: BuildContext | None
    subdir: str  # the install's folder relative to the context root ("" = root)

    def path(self, rel: str) -> str:
        return posixpath.normpath(posixpath.join(self.subdir, rel)) if self.subdir else rel

    def exists(self, rel: str) -> bool:
        return self.context is not None and self.context.exists(self.path(rel))

    def read(self, rel: str) -> str | None:
        return self.context.read_text(self.path(rel)) if self.context is not None else None


_MOVABLE_PAST = {"ENV", "ARG", "USER", "SHELL", "LABEL", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "CMD", "ENTRYPOINT", "MAINTAINER"}


@register
class SplitDependencyCopy(Pass):
    """Install dependencies from their manifests before copying the source.

    What it does:
        When a stage copies the whole build context (`COPY . .`, `ADD . /app`)
        and only then installs dependencies, this pass copies just the
        dependency manifests first, runs the install, and copies the rest of
        the source after it. Instructions the install depends on (WORKDIR,
        ENV, ARG, USER, SHELL) keep their order relative to it. A RUN that
        installs and then builds (`npm ci && npm run build`) is split so only
        the install moves. For builds without a separate install (go build,
        mvn package, gradle build) it inserts a download step (`go mod
        download`, `mvn dependency:go-offline`, `gradle dependencies`).

        Ecosystems: npm, yarn, pnpm, pip (requirement files named by -r/-c,
        nested ones included), poetry (--no-root), pipenv, uv
        (--no-install-project), go, bundler, composer (--no-scripts
        --no-autoloader, then dump-autoload), maven and gradle. Cargo needs a
        dummy-source build and is not handled yet.

        Only manifests that exist in the build context and are not excluded by
        .dockerignore are copied; without a context, only names the Dockerfile
        itself proves. Where the install needs the source (`pip install .`,
        `-e .`, `file:` dependencies, npm lifecycle scripts, workspaces, path
        gems) it leaves the file alone and says why.

        With the `bind-mount-style` setting (off by default), the install
        reads its manifests from bind mounts instead of a COPY layer, the
        style `docker init` generates:
        `RUN --mount=type=bind,source=package.json,target=package.json npm ci`
        (one `--mount` per manifest, lockfile included). Every manifest
        gets its own mount (each nested pip requirement file too), with the
        target where the install reads it (relative to WORKDIR). The later
        `COPY . .` still puts the manifests in the image. Only installs that
        never write their manifests are mounted (npm ci, yarn/pnpm with a
        frozen lockfile, pip -r, uv sync --locked/--frozen, go mod download);
        the others keep the COPY, and the explanation says why.

    Why:
        Docker reuses a layer only while everything it depends on is
        unchanged. After `COPY . .`, any source edit invalidates the layer, so
        the dependency install runs again on every build. With the manifests
        copied first, the install layer stays cached until a manifest changes,
        which typically halves warm rebuild times.

    Example:
        # before
        WORKDIR /app
        COPY . .
        RUN npm ci && npm run build
        # after
        WORKDIR /app
        COPY package.json package-lock.json ./
        RUN npm ci
        COPY . .
        RUN npm run build

    Fix safety:
        Safe when the build context was checked: the install sees the same
        manifests, environment and working folder as before. Review when no
        context was known (lifecycle scripts could not be checked), and when
        flags are added to the install (poetry --no-root, uv
        --no-install-project, composer --no-scripts --no-autoloader) or a
        download step is inserted for Maven or Gradle.
    """

    id = "DO101"
    name = "split-dependency-copy"

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for stage in doc.stages:
            yield from self._stage(doc, stage, ctx)

    def _stage(self, doc: Dockerfile, stage: Stage, ctx: PassContext) -> Iterable[Change]:
        body = stage.body
        wd = workdirs(stage)
        for fi, full in enumerate(body):
            spec = full_context_copy(full)
            if spec is None:
                continue
            if len(spec.sources) != 1 or "$" in full.args:
                return
            # the first RUN after the copy that installs or builds dependencies
            between: list[Instruction] = []
            for ins in body[fi + 1 :]:
                if ins.keyword == "RUN":
                    found = self._find_install(doc, ins, full, ctx, wd, stage)
                    if found is not None:
                        yield from found
                        return
                    rs = run_script(ins)
                    if rs is None or not rs.script.ok or not all(_source_free(c) for c in rs.script.commands):
                        return
                elif ins.keyword not in _MOVABLE_PAST and not (ins.keyword == "WORKDIR"):
                    return
                between.append(ins)
            return

    def _find_install(
        self, doc: Dockerfile, run: Instruction, full: Instruction, ctx: PassContext, wd: dict[int, str | None], stage: Stage
    ) -> list[Change] | None:
        rs = run_script(run)
        if rs is None or run.heredocs or not rs.script.ok:
            return None
        spec = copy_spec(full)
        assert spec is not None
        dest_abs = resolve(wd[full.index], spec.dest)
        for ci, cmd in enumerate(rs.script.commands):
            run_cwd = wd[run.index]
            cwd = run_cwd if cmd.cwd is None else (resolve(run_cwd, cmd.cwd) if cmd.cwd != "?" else None)
            if cwd is None or dest_abs is None:
                sub = None
            else:
                rel = posixpath.relpath(cwd, dest_abs) if cwd.split("/")[0] == dest_abs.split("/")[0] else None
                sub = None if rel is None or rel.startswith("..") else ("" if rel == "." else rel)
            sctx = _Ctx(ctx.context, sub or "")
            inst = None
            for det in _DETECTORS:
                inst = det(cmd, sctx)
                if inst is not None:
                    break
            if inst is None:
                continue
            if self._already_installed(doc, stage, full, inst):
                return []
            if inst.missing or (
                ctx.context is not None and sub is not None
                and any("*" not in m and not sctx.exists(m) for m in inst.manifests)
            ):
                missing = inst.missing or next(m for m in inst.manifests if not sctx.exists(m))
                return [self.change(
                    f"{inst.ecosystem} manifests not found in the build context",
                    f"The build context has no {sctx.path(missing)} (or .dockerignore excludes it), so the manifests "
                    "were not split out. If the image is built from another folder, pass it with --context.",
                    run,
                )]
            if inst.blocker:
                return [self.change(
                    f"{inst.ecosystem} install needs the source; manifests not split",
                    f"{inst.blocker[0].upper() + inst.blocker[1:]}, so the install cannot run before `{' '.join(full.line_text().split())}`. "
                    "Leave it, or make the install independent of the source to get a cached dependency layer.",
                    run,
                )]
            if sub is None:
                return [self.change(
                    f"{inst.ecosystem} install runs in a folder dockeropt cannot relate to the copy",
                    "The install's working folder could not be matched to the destination of the full copy (variables or an absolute `cd`), so the manifests were not split out.",
                    run,
                )]
            if inst.mode == "prefetch" and any(
                i.keyword in ("ENV", "ARG", "WORKDIR", "USER", "SHELL")
                for i in stage.body if full.index < i.index < run.index
            ):
                return []
            return self._rewrite(doc, stage, full, run, rs, ci, inst, sctx, ctx)
        return None

    def _already_installed(self, doc: Dockerfile, stage: Stage, full: Instruction, inst: Install) -> bool:
        """The same ecosystem already installs from manifests earlier in the stage."""
        for ins in stage.body:
            if ins.index >= full.index:
                break
            rs = run_script(ins)
            if rs is None or not rs.script.ok:
                continue
            for cmd in rs.script.commands:
                for det in _DETECTORS:
                    other = det(cmd, _Ctx(None, ""))
                    if other is not None and other.ecosystem == inst.ecosystem:
                        return True
                if _is_prefetch(cmd, inst.ecosystem):
                    return True
        return False

    def _manifest_copies(self, full: Instruction, inst: Install, sctx: _Ctx, nl: str) -> tuple[list[str], list[str]] | None:
        spec = copy_spec(full)
        assert spec is not None
        files = list(inst.manifests)
        if sctx.context is not None:
            for m in inst.manifests:
                if "*" not in m and not sctx.exists(m):
                    return None
            files += [o for o in inst.optional if sctx.exists(o)]
            dirs = [d for d in inst.optional_dirs if sctx.context.is_dir(sctx.path(d))]
        else:
            dirs = []
        flags = " ".join(f.raw for f in full.flags if f.name in ("chown", "chmod", "link"))
        prefix = f"COPY {flags} " if flags else "COPY "
        groups: dict[str, list[str]] = {}
        for f in files:
            path = sctx.path(f)
            groups.setdefault(posixpath.dirname(path), []).append(path)

        def target(rel_dir: str) -> str:
            t = posixpath.join(spec.dest, rel_dir) if rel_dir else spec.dest
            return t if t.endswith("/") else t + "/"

        lines = [prefix + " ".join(paths) + " " + target(parent) for parent, paths in groups.items()]
        for d in dirs:
            lines.append(prefix + sctx.path(d) + " " + target(sctx.path(d)))
        shown = [p for ps in groups.values() for p in ps] + [sctx.path(d) + "/" for d in dirs]
        return lines, shown

    def _bind_mounts(
        self, stage: Stage, full: Instruction, run: Instruction, inst: Install, sctx: _Ctx
    ) -> tuple[list[tuple[str, str]] | None, str]:
        """(source, target) bind mounts that give the install its manifests, or (None, why they are copied)."""
        if not inst.bind_ok:
            return None, f"this {inst.ecosystem} install may rewrite its lockfile, and bind mounts are read-only"
        if any("*" in m for m in inst.manifests):
            return None, "without a build context the exact manifest files are not known"
        if full.flag("chown") or full.flag("chmod"):
            return None, "the copy sets ownership or modes the install may rely on"
        spec = copy_spec(full)
        assert spec is not None
        wd = workdirs(stage)
        dest_abs = resolve(wd[full.index], spec.dest)
        # the prefetch RUN goes right before the full copy; a moved install keeps its own place after `middle`
        run_wd = wd[full.index] if inst.mode == "prefetch" else wd[run.index]
        if dest_abs is None or run_wd is None:
            return None, "the install's folder is not known"
        names = list(inst.manifests)
        if sctx.context is not None:
            names += [o for o in inst.optional if sctx.exists(o)]
            names += [d for d in inst.optional_dirs if sctx.context.is_dir(sctx.path(d))]
        mounts: list[tuple[str, str]] = []
        for name in names:
            src = sctx.path(name)
            target = bind_target(posixpath.join(dest_abs, src), run_wd)
            if not bindable(src) or not bindable(target):
                return None, f"`{src}` cannot be written in a --mount flag as it is"
            mounts.append((src, target))
        return (mounts, "") if mounts else (None, "")

    def _rewrite(
        self, doc: Dockerfile, stage: Stage, full: Instruction, run: Instruction, rs: RunScript,
        ci: int, inst: Install, sctx: _Ctx, ctx: PassContext,
    ) -> list[Change]:
        nl = doc.newline
        text = doc.text
        copies = self._manifest_copies(full, inst, sctx, nl)
        if copies is None:
            return []
        copy_lines, shown = copies
        run_prefix = text[run.range.start : run.args_range.start]
        mounts, why_copied = self._bind_mounts(stage, full, run, inst, sctx) if ctx.config.bind_mount_style else (None, "")
        bind_note = (
            " The manifests are bind-mounted for the install instead of copied into a layer (bind-mount-style); "
            f"`{' '.join(full.line_text().split())}` still puts them in the image."
            if mounts else
            f" The manifests are copied, not bind-mounted (bind-mount-style): {why_copied}." if why_copied else ""
        )
        cmd = rs.script.commands[ci]
        items = rs.script.items
        k = cmd.item
        if inst.mode == "prefetch":
            assert inst.prefetch
            new_lines = [f"RUN {bind_mount_flags(mounts)} {inst.prefetch}"] if mounts else [*copy_lines, f"RUN {inst.prefetch}"]
            insert = nl.join(new_lines) + nl
            edits = [Edit.insert(full.full_range.start, insert)]
            title = f"Fetch {inst.ecosystem} dependencies before copying the source"
            expl = (
                f"{'Mounts' if mounts else 'Copies'} {', '.join(shown)} and runs `{inst.prefetch}` before `{' '.join(full.line_text().split())}`, so a source edit no longer "
                f"downloads every dependency again; the download layer stays cached until a manifest changes. "
                f"{inst.detail} Check that the build still finds its dependencies offline in the cache."
                + bind_note
            )
            return [self.change(title, expl.strip(), full, edits, inst.safety)]
        # mode "move": the install (and the source-free commands before it) moves before the copy
        if not items[k].simple:
            return []
        spec = copy_spec(full)
        assert spec is not None
        if not spec.dest.startswith("/") and any(
            i.keyword == "WORKDIR" for i in stage.body if full.index < i.index < run.index
        ):
            return []  # the full copy would land in another folder after the WORKDIR
        for item in items[: k + 1]:
            for c in item.commands:
                if c is not None and rs.script.commands[c] is not cmd and not _source_free(rs.script.commands[c]):
                    return []
        # source-free commands right after the install (cache cleanup) belong to its layer
        while k + 1 < len(items) and items[k + 1].simple and items[k + 1].op_before == "&&" and _source_free(
            rs.script.commands[items[k + 1].commands[0]]
        ) and rs.script.commands[items[k + 1].commands[0]].name != "cd":
            k += 1
        rest_items = items[k + 1 :]
        if rest_items and not all(it.op_before == "&&" for it in rest_items[:1]):
            return []
        if any(it.op_before not in ("&&", None) for it in items[1 : k + 1]):
            return []
        first = items[0]
        install_src = text[rs.physical(first.start, items[k].start).start : rs.physical(items[k].start, items[k].end).end]
        if inst.moved_command is not None:
            cmd_range = rs.physical(cmd.start, cmd.end)
            before = text[rs.physical(first.start, first.start).start : cmd_range.start]
            after_cmd = text[cmd_range.end : rs.physical(items[k].start, items[k].end).end] if cmd.item < k else ""
            install_src = before + inst.moved_command + after_cmd
        moved_run = run_prefix + install_src
        if mounts:
            moved_run = run_prefix[:3] + " " + bind_mount_flags(mounts) + run_prefix[3:] + install_src
        rest_run = None
        if rest_items:
            rest_start = rs.physical(rest_items[0].start, rest_items[0].end).start
            # the rest ran in the folder earlier ``cd``s chose: keep them in front of it
            cds = [
                text[rs.physical(it.start, it.end).start : rs.physical(it.start, it.end).end]
                for it in items[: k + 1]
                if it.simple and rs.script.commands[it.commands[0]].name == "cd"
            ]
            rest_run = run_prefix + "".join(c + " && " for c in cds) + text[rest_start : run.range.end]
            # comment lines between the moved part and the rest stay, above the rest
            gap = text[rs.physical(items[k].start, items[k].end).end : rest_start]
            kept = [ln.strip() for ln in gap.splitlines() if ln.lstrip().startswith("#")]
            if kept:
                rest_run = nl.join(kept) + nl + rest_run
        middle = text[full.full_range.end : run.full_range.start]
        tail_eol = text[run.range.end : run.full_range.end]
        pieces = [] if mounts else [*copy_lines]
        comment_start = leading_comment_start(full)
        comments = text[comment_start : full.full_range.start]
        if not pieces:
            # nothing takes the full copy's place: its blank-line separation would double up
            middle = re.sub(r"^(?:[ \t]*\r?\n)+", "", middle)
        new = "".join(p + nl for p in pieces) + middle + moved_run + nl + comments + full.line_text()
        after = [*(f"RUN {c}" for c in inst.after_copy)]
        if rest_run is not None:
            after.append(rest_run)
        for a in after:
            new += nl + a
        new += tail_eol
        edits = [Edit.replace(comment_start, run.full_range.end, new)]
        install_name = _cmd_text(cmd) if len(_cmd_text(cmd)) <= 60 else _cmd_text(cmd)[:57] + "..."
        copy_text = " ".join(full.line_text().split())
        title = (
            f"Install {inst.ecosystem} dependencies from bind-mounted manifests before copying the source" if mounts
            else f"Copy {inst.ecosystem} manifests and install before copying the source"
        )
        expl = (
            f"{'Mounts' if mounts else 'Copies'} {', '.join(shown)} first and runs `{install_name}` before `{copy_text}`, so editing the source no "
            f"longer re-runs the dependency install: that layer stays cached until a manifest changes."
            + (" The rest of the RUN stays after the source copy." if rest_run else "")
            + (f" {inst.detail}" if inst.detail else "")
            + bind_note
            + " Check: the install must not read other files from the build context."
        )
        return [self.change(title, expl, full, edits, inst.safety)]
