"""DO202 slim-base."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dockeropt.analysis import resolve, workdirs
from dockeropt.catalog.images import ImageInfo, lookup, slim_variant, tools_missing_in_slim
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Pass, PassContext, register
from dockeropt.shell import Command, Script, analysis_script, parse_script
from dockeropt.source import TextRange
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._defer import overlaps, pending_fix_ranges

# apt packages that provide tools the full images have and slim ones lack
_TOOL_PACKAGES: dict[str, tuple[str, ...]] = {
    "curl": ("curl", "ca-certificates"),
    "wget": ("wget", "ca-certificates"),
    "git": ("git", "ca-certificates"),
    "ssh": ("openssh-client",),
    "scp": ("openssh-client",),
    "sftp": ("openssh-client",),
    "unzip": ("unzip",),
    "xz": ("xz-utils",),
    "bzip2": ("bzip2",),
    "ps": ("procps",),
    "pgrep": ("procps",),
    "pkill": ("procps",),
    "top": ("procps",),
    "gpg": ("gnupg",),
    "dirmngr": ("dirmngr",),
    "file": ("file",),
    "patch": ("patch",),
}

# what an apt package makes available (for tools a stage installs itself)
_PACKAGE_TOOLS: dict[str, tuple[str, ...]] = {
    "build-essential": ("gcc", "cc", "g++", "c++", "cpp", "make", "ld", "as", "ar", "strip", "objdump", "patch", "dpkg-architecture", "dpkg-buildpackage"),
    "gcc": ("gcc", "cc", "cpp", "ld", "as", "ar", "strip", "objdump"),
    "g++": ("g++", "c++", "gcc", "cc", "cpp", "ld", "as", "ar", "strip", "objdump"),
    "make": ("make",),
    "binutils": ("ld", "as", "ar", "strip", "objdump"),
    "openssh-client": ("ssh", "scp", "sftp"),
    "xz-utils": ("xz",),
    "procps": ("ps", "pgrep", "pkill", "top"),
    "gnupg": ("gpg", "dirmngr"),
    "imagemagick": ("convert", "identify", "mogrify"),
    "python3": ("python3",),
    "python-is-python3": ("python",),
    "pkg-config": ("pkg-config",),
    "pkgconf": ("pkgconf", "pkg-config"),
    "mercurial": ("hg",),
    "subversion": ("svn",),
    "autoconf": ("autoconf", "autoreconf"),
    "libtool": ("libtool", "libtoolize"),
    "libtool-bin": ("libtool",),
}

# npm packages that compile with node-gyp (or need python/make/g++ when no prebuilt binary fits)
_NATIVE_NPM = frozenset({
    "bcrypt", "sqlite3", "better-sqlite3", "node-sass", "canvas", "argon2", "grpc", "node-expat", "libxmljs",
    "libxmljs2", "kerberos", "zeromq", "serialport", "@serialport/bindings-cpp", "re2", "leveldown", "cpu-features",
    "node-gyp", "node-pty", "microtime", "farmhash", "hiredis", "iconv", "ref-napi", "ffi-napi", "usb", "sodium",
    "sodium-native", "diskusage", "fibers", "deasync", "isolated-vm", "oracledb", "ibm_db", "odbc", "bufferutil",
    "utf-8-validate", "@prisma/client", "prisma", "sharp", "dtrace-provider", "unix-dgram", "segfault-handler",
})
# install scripts known not to compile or to need tools missing from slim
_BENIGN_INSTALL_SCRIPTS = frozenset({
    "esbuild", "fsevents", "core-js", "core-js-pure", "nodemon", "@parcel/watcher", "es5-ext", "protobufjs",
    "@swc/core", "@nestjs/core", "husky", "yarn", "spawn-sync", "styled-components", "ejs",
})
# Python distributions that build from source (no wheel) or link system libraries the full image ships
_NATIVE_PY = frozenset({
    "psycopg2", "mysqlclient", "uwsgi", "python-ldap", "pycurl", "pygraphviz", "mysql-python", "pyaudio", "gssapi",
    "python-snappy", "pylibmc", "xmlsec", "dbus-python", "pycairo", "pygobject", "cyrus-sasl", "sasl", "thriftpy",
    "pymssql", "cx-oracle", "gdal", "fiona", "pyproj", "rtree", "netifaces", "psycopg", "mariadb", "levenshtein",
    "python-levenshtein", "pyicu", "pykerberos", "kerberos", "m2crypto", "mod-wsgi", "pyodbc", "pysqlite3", "dlib",
})
# commands that build native code or install packages we cannot vet
_COMPILE_COMMANDS = frozenset({"node-gyp", "cmake", "ninja", "meson", "configure", "cargo", "rustc", "gem", "bundle", "go"})

_DISPLAY = {"node": "Node.js", "python": "Python", "ruby": "Ruby", "rust": "Rust", "openjdk": "OpenJDK"}
_SCRIPT_SUFFIX = re.compile(r"\.(sh|bash)$")


def _norm_py(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class _Findings:
    needs: dict[str, str] = field(default_factory=dict)  # tool -> where it is used
    blockers: list[str] = field(default_factory=list)
    provided: set[str] = field(default_factory=set)  # tools the stage installs itself
    reviews: list[str] = field(default_factory=list)  # residual doubts for the explanation


def _apt_installs(cmd: Command) -> list[str]:
    if cmd.name not in ("apt-get", "apt", "aptitude"):
        return []
    args = [a for a in cmd.args if a is not None]
    if "install" not in args:
        return []
    return [a.split("=", 1)[0] for a in args[args.index("install") + 1 :] if not a.startswith("-")]


class _Analyser:
    def __init__(self, doc: Dockerfile, stage: Stage, ctx: PassContext, missing: frozenset[str]) -> None:
        self.doc = doc
        self.stage = stage
        self.ctx = ctx
        self.missing = missing
        self.wd = workdirs(stage)
        self.f = _Findings()

    # ----------------------------------------------------------------- context files

    def context_file(self, before: Instruction, target: str) -> str | None:
        """The build-context file a literal COPY/ADD of this stage put at ``target`` (absolute)."""
        bc = self.ctx.context
        if bc is None:
            return None
        found: str | None = None
        for ins in self.stage.body:
            if ins.index >= before.index:
                break
            if ins.keyword not in ("COPY", "ADD") or ins.heredocs or ins.flag("from") is not None:
                continue
            words = ins.words
            if len(words) < 2 or any("$" in w or "*" in w for w in words):
                continue
            srcs, dest = words[:-1], words[-1]
            dest_abs = resolve(self.wd.get(ins.index), dest)
            if dest_abs is None or dest_abs.startswith("$"):
                continue
            for src in srcs:
                s = posixpath.normpath(src).lstrip("/") or "."
                if s.startswith(".."):
                    continue
                if s == "." or bc.is_dir(s):
                    if target.startswith(dest_abs.rstrip("/") + "/"):
                        cand = posixpath.normpath(posixpath.join(s, posixpath.relpath(target, dest_abs)))
                        if bc.is_file(cand):
                            found = cand
                elif bc.is_file(s):
                    into_dir = (
                        dest.endswith("/") or posixpath.basename(dest) in (".", "..") or len(srcs) > 1
                        or dest_abs == self.wd.get(ins.index)
                    )
                    place = posixpath.join(dest_abs, posixpath.basename(s)) if into_dir else dest_abs
                    if posixpath.normpath(place) == target:
                        found = s
        return found

    def cwd_of(self, ins: Instruction, cmd: Command | None) -> str | None:
        base = self.wd.get(ins.index)
        if cmd is None or cmd.cwd is None:
            return base
        if cmd.cwd == "?":
            return None
        return resolve(base, cmd.cwd)

    def read_at(self, ins: Instruction, cmd: Command | None, name: str) -> tuple[str | None, str | None]:
        """(context path, text) of ``name`` in the command's folder, if the stage copied it from the context."""
        cwd = self.cwd_of(ins, cmd)
        if cwd is None or cwd.startswith("$"):
            return None, None
        rel = self.context_file(ins, posixpath.normpath(posixpath.join(cwd, name)))
        if rel is None or self.ctx.context is None:
            return None, None
        return rel, self.ctx.context.read_text(rel)

    # ----------------------------------------------------------------- commands

    def script(self, script: Script | None, ins: Instruction, where: str, depth: int = 0) -> None:
        if script is None or not script.ok:
            self.f.blockers.append(f"{where} could not be read by the shell model")
            return
        for cmd in script.commands:
            self.command(cmd, ins, where, depth)

    def command(self, cmd: Command, ins: Instruction, where: str, depth: int) -> None:
        name = cmd.name
        if name is None:
            if cmd.argv:
                self.f.blockers.append(f"{where} runs a command named by a variable")
            return
        for pkg in _apt_installs(cmd):
            self.f.provided.update(_PACKAGE_TOOLS.get(pkg, (pkg,)))
        if name in self.missing and name not in self.f.provided:
            self.f.needs.setdefault(name, where)
        if name in ("sh", "bash", "dash") or _SCRIPT_SUFFIX.search(name) or (cmd.effective() and (cmd.effective()[0].value or "").startswith(("./", "/"))):
            self.script_file(cmd, ins, where, depth)
        if name in _COMPILE_COMMANDS or name.startswith("./configure") or name == "configure":
            self.f.blockers.append(f"{where} runs `{name}`, which may need compilers or libraries only the full image has")
        elif re.match(r"^python\d*(\.\d+)?$", name) and cmd.args[:1] and (cmd.args[0] or "").endswith("setup.py"):
            self.f.blockers.append(f"{where} builds a Python package with setup.py, which may compile C extensions")
        elif name in ("npm", "yarn", "pnpm"):
            self.node(cmd, ins, where)
        elif _pip_args(cmd) is not None:
            self.pip(cmd, ins, where)

    def script_file(self, cmd: Command, ins: Instruction, where: str, depth: int) -> None:
        eff = [w.value for w in cmd.effective()]
        if eff and eff[0] is not None and posixpath.basename(eff[0]) in ("sh", "bash", "dash"):
            rest = [a for a in eff[1:] if a is None or not a.startswith("-")]
            if "-c" in eff[1:]:
                i = eff.index("-c")
                inner = eff[i + 1] if i + 1 < len(eff) else None
                if inner is None:
                    self.f.blockers.append(f"{where} runs a shell script dockeropt cannot read")
                elif depth < 2:
                    self.script(parse_script(inner), ins, where, depth + 1)
                return
            if not rest:
                return
            path = rest[0]
        else:
            path = eff[0] if eff else None
        if path is None:
            self.f.blockers.append(f"{where} runs a script dockeropt cannot read")
            return
        text = None
        cwd = "/" if path.startswith("/") else self.cwd_of(ins, cmd)
        if cwd is not None and not cwd.startswith("$"):
            rel = self.context_file(ins, posixpath.normpath(posixpath.join(cwd, path)))
            if rel is not None and self.ctx.context is not None:
                text = self.ctx.context.read_text(rel)
        shell_script = _SCRIPT_SUFFIX.search(path) is not None
        if text is not None and text.startswith("#!"):
            first = text.split("\n", 1)[0]
            if not re.search(r"\b(sh|bash|dash|ash)\b", first):
                return  # a script in another language: its own interpreter is checked elsewhere
            shell_script = True
        elif text is not None and not _SCRIPT_SUFFIX.search(path):
            return  # a program, not a script
        if text is None or depth >= 2:
            if shell_script or eff and posixpath.basename(eff[0] or "") in ("sh", "bash", "dash"):
                self.f.blockers.append(f"{where} runs `{path}`, a script dockeropt cannot read")
            return
        self.script(parse_script(text), ins, f"{path} (run by {where})", depth + 1)

    def node(self, cmd: Command, ins: Instruction, where: str) -> None:
        args = [a for a in cmd.args if a is not None]
        verb = args[0] if args else ("install" if cmd.name == "yarn" else None)
        if verb not in ("install", "i", "ci", "add", "clean-install", "rebuild") and not (cmd.name == "yarn" and verb and verb.startswith("-")):
            return
        positional = [a for a in args[1:] if not a.startswith("-")]
        names = set(positional)
        rel, text = self.read_at(ins, cmd, "package.json")
        if text is None:
            if not positional:
                self.f.blockers.append(f"{where} installs npm packages from a package.json dockeropt cannot read, so native modules could not be ruled out")
                return
        else:
            try:
                pkg = json.loads(text)
            except ValueError:
                self.f.blockers.append(f"{rel} is not valid JSON")
                return
            for section in ("dependencies", "devDependencies", "optionalDependencies"):
                deps = pkg.get(section) if isinstance(pkg, dict) else None
                if isinstance(deps, dict):
                    for dep, spec in deps.items():
                        names.add(dep)
                        if isinstance(spec, str) and (spec.startswith(("git", "github:", "bitbucket:", "gitlab:")) or re.match(r"^[\w.-]+/[\w.-]+(#.*)?$", spec)):
                            self.f.needs.setdefault("git", f"{rel} (dependency '{dep}' comes from git)")
            scripts = pkg.get("scripts") if isinstance(pkg, dict) else None
            if isinstance(scripts, dict):
                for hook in ("preinstall", "install", "postinstall"):
                    if hook in scripts:
                        self.f.blockers.append(f"{rel} runs an '{hook}' script during the install")
        native = sorted(n for n in names if n in _NATIVE_NPM)
        if native:
            self.f.blockers.append(f"{where} installs {', '.join(native)}, a native module that may compile with node-gyp (python3, make, g++)")
            return
        _, lock = self.read_at(ins, cmd, "package-lock.json")
        if lock is not None:
            try:
                data = json.loads(lock)
            except ValueError:
                data = {}
            pkgs = data.get("packages") if isinstance(data, dict) else None
            if isinstance(pkgs, dict):
                scripted = sorted(
                    {k.rsplit("node_modules/", 1)[-1] for k, v in pkgs.items() if isinstance(v, dict) and v.get("hasInstallScript")}
                    - _BENIGN_INSTALL_SCRIPTS
                )
                if scripted:
                    self.f.blockers.append(f"package-lock.json lists install scripts ({', '.join(scripted[:3])}) that may compile native code")
                return
        self.f.reviews.append("no package-lock.json with install-script data was found, so only direct dependencies were checked for native modules")

    def pip(self, cmd: Command, ins: Instruction, where: str) -> None:
        args = _pip_args(cmd) or []
        if any(a is None for a in args):
            self.f.blockers.append(f"{where} installs Python packages named by variables")
            return
        specs: list[str] = []
        files: list[str] = []
        it = iter(a for a in args if a is not None)
        for a in it:
            if a in ("-r", "--requirement", "-c", "--constraint"):
                files.append(next(it, ""))
            elif a.startswith(("--requirement=", "--constraint=")):
                files.append(a.split("=", 1)[1])
            elif a.startswith("-r") and len(a) > 2:
                files.append(a[2:])
            elif a.startswith("--no-binary"):
                self.f.blockers.append(f"{where} builds packages from source (--no-binary), which needs a compiler")
                return
            elif a in ("-e", "--editable"):
                specs.append(next(it, ""))
            elif a in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--target", "-t", "--prefix", "--root", "--platform", "--python-version", "--only-binary", "--trusted-host", "--cache-dir", "--progress-bar", "--timeout", "--retries"):
                next(it, None)
            elif not a.startswith("-"):
                specs.append(a)
        seen: set[str] = set()
        while files:
            f = files.pop(0)
            if f in seen:
                continue
            seen.add(f)
            rel, text = self.read_at(ins, cmd, f)
            if text is None:
                self.f.blockers.append(f"{where} installs from {f}, which dockeropt cannot read, so packages that compile could not be ruled out")
                return
            for raw in text.splitlines():
                line = raw.split(" #", 1)[0].strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith("--no-binary"):
                    self.f.blockers.append(f"{rel} builds packages from source (--no-binary), which needs a compiler")
                    return
                m = re.match(r"^(-r|--requirement|-c|--constraint)[\s=]*(\S+)", line)
                if m:
                    files.append(posixpath.normpath(posixpath.join(posixpath.dirname(f), m.group(2))))
                    continue
                specs.append(line)
        for spec in specs:
            if "git+" in spec or spec.startswith("git:"):
                self.f.needs.setdefault("git", f"{where} (requirement '{spec}' comes from git)")
                continue
            if spec in (".", "..") or spec.startswith(("./", "../", "/", "-e")) or spec.endswith((".tar.gz", ".zip")):
                self.f.blockers.append(f"{where} builds a local Python project ('{spec}'), which may compile C extensions")
                continue
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
            if m and _norm_py(m.group(1)) in _NATIVE_PY:
                self.f.blockers.append(f"{where} installs {m.group(1)}, which builds C code against libraries the full image ships")
        self.f.reviews.append("every Python requirement installs from a wheel (slim has no compiler)")


def _pip_args(cmd: Command) -> list[str | None] | None:
    name, args = cmd.name, cmd.args
    if name is None:
        return None
    if re.match(r"^pip\d*(\.\d+)?$", name):
        return args[1:] if args[:1] == ["install"] else None
    if re.match(r"^python\d*(\.\d+)?$", name) and args[:3] == ["-m", "pip", "install"]:
        return args[3:]
    if name == "uv" and args[:2] == ["pip", "install"]:
        return args[2:]
    return None


def _launch_script(ins: Instruction) -> Script | None:
    """The commands a CMD/ENTRYPOINT/HEALTHCHECK runs (None: not understood)."""
    if ins.keyword == "HEALTHCHECK":
        m = re.match(r"^\s*((--\S+\s+)*)(CMD|NONE)\b\s*(.*)$", ins.args, re.I | re.S)
        if not m or m.group(3).upper() == "NONE":
            return parse_script("true")
        rest = m.group(4)
        try:
            argv = json.loads(rest) if rest.lstrip().startswith("[") else None
        except ValueError:
            argv = None
    else:
        argv = list(ins.exec_args) if ins.json and ins.exec_args is not None else None
        rest = ins.args
    if argv is None:
        return parse_script(rest)
    if not argv or not all(isinstance(a, str) for a in argv):
        return None
    if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "bash") and argv[1] == "-c":
        return parse_script(argv[2])
    return parse_script(" ".join(_quote(a) for a in argv))


def _quote(s: str) -> str:
    return s if re.match(r"^[A-Za-z0-9_./:=@%+,-]+$", s) else "'" + s.replace("'", "'\\''") + "'"


def _base_word_range(frm: Instruction, base: str) -> tuple[int, int] | None:
    start = frm.args_start
    if frm.logical.text[start : start + len(base)] != base or not frm.logical.is_contiguous(start, start + len(base)):
        return None
    r = frm.logical.physical(start, start + len(base))
    return r.start, r.end


@register
class SlimBase(Pass):
    """Swap a full base image for its slim variant when the stage needs nothing the slim image lacks.

    What it does:
        For a stage built on a full official image (`node:18`, `python:3.11`,
        `ruby:3.3`, `rust:1.75`, `openjdk:11`, `debian:bookworm`) it switches
        to the slim variant of the same version and distro (`node:18-slim`,
        `python:3.11-slim`, `debian:bookworm-slim`). Before swapping it reads
        every RUN, CMD, ENTRYPOINT and HEALTHCHECK of the stage (and scripts
        they run from the build context) and checks them against the tools the
        slim image lacks (git, gcc, make, curl, wget, ssh, ...). When a stage
        uses only simple tools (curl, wget, git, unzip, procps) and the base
        uses apt, the rewrite installs them explicitly. It leaves the stage
        alone, with a note, when something may compile native code: npm
        packages with install scripts or known native modules, pip installs
        with `--no-binary`, known source-only Python packages, local Python
        projects, gems, cargo, configure or cmake. Alpine, distroless, slim
        and variable bases, stages built FROM another stage and stages other
        stages build on are never touched; Debian is never swapped for Alpine.

    Why:
        The full images carry a complete build toolchain and many -dev
        libraries: `node:18` is about 1 GB, `node:18-slim` about 250 MB;
        `python:3.11` about 1 GB, `python:3.11-slim` about 150 MB. An app that
        only runs needs none of it, and every tool in the image is also attack
        surface.

    Example:
        # before
        FROM node:18
        RUN apt-get update && curl -fsSL https://example.com/x.tgz | tar xz
        # after
        FROM node:18-slim
        RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates && rm -rf /var/lib/apt/lists/*
        RUN apt-get update && curl -fsSL https://example.com/x.tgz | tar xz

    Fix safety:
        Review. The same language version and Debian release stay, and every
        command of the stage was checked, but the application itself might
        start a tool at runtime (for example `child_process.exec("git ...")`)
        or a Python requirement might have no wheel for the platform; build
        the image and run its tests.
    """

    id = "DO202"
    name = "slim-base"
    _pending: list[TextRange] | None = None

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        self._mirror = ctx.config.mirror  # suggested bases go through the configured registry mirror
        self._pending = None
        for stage in doc.stages:
            ch = self._stage(doc, stage, ctx)
            if ch is not None:
                yield ch

    def _stage(self, doc: Dockerfile, stage: Stage, ctx: PassContext) -> Change | None:
        base = stage.base
        if "$" in base or doc.stage_named(base) is not None and doc.stage_named(base).index < stage.index:  # type: ignore[union-attr]
            return None
        info = lookup(base)
        if info is None or not info.tag_understood:
            return None
        slim = slim_variant(base)
        if slim is None or slim == base:
            return None
        if not info.is_full and info.family != "debian":
            return None
        final = stage.index == len(doc.stages) - 1
        # DO201 is about to split this stage into a build stage and a runtime stage with its own base
        if self._pending is None:
            self._pending = pending_fix_ranges("DO201", doc, ctx)
        if overlaps(self._pending, stage.from_instruction.range.start, stage.instructions[-1].range.end):
            return None
        # stages other stages build on (FROM <stage>) would change underneath them
        for other in doc.stages[stage.index + 1 :]:
            parent = doc.stage_named(other.base)
            if parent is not None and parent.index == stage.index:
                return None
        source_only = not final and self._used_by_later(doc, stage)
        missing = tools_missing_in_slim(info.family)
        an = _Analyser(doc, stage, ctx, missing)
        for ins in stage.body if missing else ():  # no missing tools (debian): nothing to check
            if ins.keyword == "RUN":
                if ins.heredocs and analysis_script(ins, doc.text) is None:
                    an.f.blockers.append(f"the RUN on line {ins.start_line} uses a heredoc dockeropt cannot read")
                    continue
                an.script(analysis_script(ins, doc.text), ins, f"the RUN on line {ins.start_line}")
            elif ins.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK"):
                an.script(_launch_script(ins), ins, f"the {ins.keyword} on line {ins.start_line}")
            elif ins.keyword == "ONBUILD":
                an.f.blockers.append("the stage has ONBUILD triggers")
            elif ins.keyword == "SHELL":
                an.f.blockers.append("the stage changes its SHELL")
        f = an.f
        needs = {t: w for t, w in f.needs.items() if t not in f.provided}
        unfixable = [t for t in needs if t not in _TOOL_PACKAGES]
        if unfixable:
            t = unfixable[0]
            return self._note(stage, info, slim, f"{needs[t]} uses `{t}`, which {slim} does not have", final)
        if f.blockers:
            return self._note(stage, info, slim, f.blockers[0], final)
        install: list[str] = []
        if needs:
            if source_only or info.package_manager != "apt":
                t = (unfixable or list(needs))[0]
                return self._note(stage, info, slim, f"{needs[t]} uses `{t}`, which {slim} does not have", final)
            for t in needs:
                for p in _TOOL_PACKAGES[t]:
                    if p not in install:
                        install.append(p)
        return self._fix(doc, stage, info, slim, install, needs, f.reviews)

    @staticmethod
    def _used_by_later(doc: Dockerfile, stage: Stage) -> bool:
        keys = {str(stage.index)} | ({stage.name.lower()} if stage.name else set())
        for other in doc.stages[stage.index + 1 :]:
            for ins in other.body:
                for fl in ins.flags:
                    if fl.name == "from" and (fl.value or "").lower() in keys:
                        return True
                    if fl.name == "mount" and any(p.lower() in {f"from={k}" for k in keys} for p in (fl.value or "").split(",")):
                        return True
        return False

    def _note(self, stage: Stage, info: ImageInfo, slim: str, reason: str, final: bool) -> Change | None:
        if not final:
            return None
        return self.change(
            f"{stage.base} kept: the slim variant lacks what the stage uses",
            f"{slim} would be much smaller, but {reason}. Build in a separate stage on the full image and run on {slim}, "
            f"or install the missing pieces explicitly.",
            stage.from_instruction,
        )

    def _fix(
        self, doc: Dockerfile, stage: Stage, info: ImageInfo, slim: str, install: list[str], needs: dict[str, str], reviews: list[str]
    ) -> Change | None:
        frm = stage.from_instruction
        rng = _base_word_range(frm, stage.base)
        if rng is None:
            return None
        edits = [Edit.replace(rng[0], rng[1], self._mirror(slim))]
        nl = doc.newline
        lower = frm.keyword_raw.islower()
        if install:
            run = "run" if lower else "RUN"
            line = f"{run} apt-get update && apt-get install -y --no-install-recommends {' '.join(install)} && rm -rf /var/lib/apt/lists/*"
            end = frm.full_range.end
            prefix = "" if doc.text[end - 1 : end] == "\n" else nl
            edits.append(Edit.insert(end, prefix + line + (nl if prefix == "" else "")))
        display = _DISPLAY.get(info.family, info.family)
        what = f"{display} {info.version}" if info.version else display
        distro = f" on Debian {info.distro}" if info.distro and info.os == "debian" else ""
        if info.family == "debian":
            expl = (
                f"Switches `{stage.base}` to `{slim}`: the same Debian release without manual pages, documentation "
                f"and most locale data, about 40 MB smaller. Check that nothing in the image reads /usr/share/doc or "
                f"translated messages."
            )
        else:
            expl = (
                f"Switches `{stage.base}` to `{slim}` (same {what}{distro}), which leaves out the compilers, "
                f"version-control tools, curl/wget and -dev libraries of the full image"
            )
            if install:
                expl += f"; of those the stage uses only {', '.join(sorted(needs))}, so a RUN now installs {' '.join(install)} explicitly."
            else:
                expl += "; no command of this stage uses them."
            check = "Check that the app itself starts no such tools at runtime"
            if reviews:
                check += " and that " + reviews[0]
            expl += f" {check}."
        return self.change(f"Use the slim base {slim}", expl, frm, edits, Safety.REVIEW)
