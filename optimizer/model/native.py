"""Native-dependency facts: which of an app's dependencies compile C code or load system libraries.

Read from the manifests and lockfiles in the build context (requirements
files, ``poetry.lock``, ``Pipfile.lock``, ``uv.lock``, ``pyproject.toml``,
``package.json`` with ``package-lock.json``/``pnpm-lock.yaml``,
``Gemfile.lock``, ``go.mod``/``go.sum`` and the Go sources, ``Cargo.lock``)
and the catalog's per-ecosystem ``native`` tables (``catalog/ecosystems.json``).
Lockfiles that list the files of each release (poetry, uv) also show, without
the catalog, a dependency that has no prebuilt wheel.

Every answer says what it is based on; where a manifest cannot be read the
facts say so (``unknown``) and a pass must decline rather than guess.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from functools import cache

from dockeropt.catalog import catalog
from dockeropt.context import BuildContext
from dockeropt.model import ecosystems

try:  # Python 3.11+
    import tomllib as _toml
except ImportError:  # pragma: no cover - Python 3.10
    _toml = None  # type: ignore[assignment]


_PY_SEPARATORS = re.compile(r"[-_.]+")


def _norm_py(name: str) -> str:
    return _PY_SEPARATORS.sub("-", name).lower()


@dataclass(frozen=True, slots=True)
class NativeDep:
    """One dependency that needs more than the language runtime."""

    name: str
    compiles: bool  # the install builds C code (needs a compiler and headers)
    build: tuple[str, ...]  # system packages the build needs (for the package manager asked)
    runtime: tuple[str, ...]  # system packages the app needs at run time
    where: str  # the file that names it
    why: str = ""
    outside: str = ""  # where its install puts what the app loads at run time outside the project (catalog installs_outside)


@dataclass(frozen=True)
class Dependencies:
    """What an install brings, as far as its manifests show."""

    names: frozenset[str] = frozenset()
    native: tuple[NativeDep, ...] = ()
    unknown: tuple[str, ...] = ()  # why the set is not fully known (an unreadable file, a local project)
    git: tuple[str, ...] = ()  # dependencies fetched with git
    read: tuple[str, ...] = ()  # the files read

    @property
    def compiles(self) -> list[NativeDep]:
        return [d for d in self.native if d.compiles]

    def runtime_packages(self) -> list[str]:
        out: list[str] = []
        for d in self.native:
            for p in d.runtime:
                if p not in out:
                    out.append(p)
        return out

    def build_packages(self) -> list[str]:
        out: list[str] = []
        for d in self.native:
            if d.compiles:
                for p in d.build:
                    if p not in out:
                        out.append(p)
        return out


@dataclass
class _Acc:
    names: set[str] = field(default_factory=set)
    native: dict[str, NativeDep] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    git: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)

    def out(self) -> Dependencies:
        return Dependencies(frozenset(self.names), tuple(self.native.values()), tuple(dict.fromkeys(self.unknown)),
                            tuple(dict.fromkeys(self.git)), tuple(dict.fromkeys(self.read)))


def _pm(package_manager: str | None) -> str:
    return "apk" if package_manager == "apk" else "deb"


@cache
def _native_keys(eco: str) -> dict[str, str]:
    """The catalog's native table of ``eco`` by normalised name (Python names compare with -_. folded)."""
    table = ecosystems.spec(eco).get("native", {})
    return {(_norm_py(k) if eco == "python" else k): k for k in table}


def _catalog_dep(eco: str, name: str, where: str, pm: str, from_source: bool) -> NativeDep | None:
    table = ecosystems.spec(eco).get("native", {})
    key = _native_keys(eco).get(name if eco != "python" else _norm_py(name))
    if key is None:
        return None
    e = table[key]
    compiles = bool(e.get("compiles")) or (from_source and ("source_build" in e or "source_runtime" in e))
    runtime: tuple[str, ...] = ()
    if e.get("runtime_always") or compiles or eco in ("ruby", "go"):
        runtime = tuple(e.get("runtime", {}).get(pm, ()))
    if from_source and "source_runtime" in e:
        runtime = tuple(e["source_runtime"].get(pm, ()))
    build = tuple(e.get("build", {}).get(pm, ())) + (tuple(e.get("source_build", {}).get(pm, ())) if from_source else ())
    if not compiles and not runtime and not e.get("runtime_always") and not e.get("installs_outside"):
        return None
    return NativeDep(key, compiles, build, runtime, where, str(e.get("why", "")), str(e.get("installs_outside", "")))


# --------------------------------------------------------------------------- python

@cache
def _req_name() -> re.Pattern[str]:
    return re.compile(rf"^\s*({ecosystems.package_name()})")


def python_dependencies(
    context: BuildContext, files: list[str], named: list[str] = (), *, no_binary: frozenset[str] = frozenset(),
    package_manager: str | None = "apt", with_dev: bool = False,
) -> Dependencies:
    """Dependencies of a Python install from its requirement files, lockfiles or pyproject (context paths).

    ``named`` are requirement specifiers given on the command line; ``no_binary``
    the ``--no-binary`` names (``:all:`` for every package).
    """
    acc = _Acc()
    pm = _pm(package_manager)
    pip = catalog().by_id["pip"]  # requirement files are pip's format, whoever installs them
    todo = list(files)
    seen: set[str] = set()
    specs: list[tuple[str, str]] = [(s, "the command line") for s in named]
    while todo:
        rel = posixpath.normpath(todo.pop(0))
        if rel in seen:
            continue
        seen.add(rel)
        text = context.read_text(rel)
        if text is None:
            acc.unknown.append(f"{rel} cannot be read")
            continue
        acc.read.append(rel)
        base = posixpath.basename(rel)
        if base == "poetry.lock" or base == "uv.lock" or base == "pdm.lock":
            _toml_lock(text, rel, acc, pm, no_binary, with_dev)
        elif base == "Pipfile.lock":
            _pipfile_lock(text, rel, acc, pm, no_binary, with_dev)
        elif base == "pyproject.toml":
            for spec in _pyproject_deps(text):
                specs.append((spec, rel))
        elif base == "Pipfile":
            for m in re.finditer(rf"""^\s*["']?({ecosystems.package_name()})["']?\s*=""", _section(text, "packages"), re.M):
                specs.append((m.group(1), rel))
        else:
            for raw in text.splitlines():
                line = raw.split(" #", 1)[0].strip()
                if not line or line.startswith("#"):
                    continue
                included = pip.manifest_line(line)
                if included is not None:
                    todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(rel), included)))
                    continue
                built = pip.source_build_value(line)
                if built is not None:
                    no_binary = no_binary | frozenset(_norm_py(x) for x in built.split(","))
                    continue
                if line.startswith("-") and not pip.editable_line(line):
                    continue
                specs.append((line, rel))
    for spec, where in specs:
        s = spec.strip()
        if pip.editable_line(s) and (s.startswith("--") or s[2:3] == " "):  # -e PATH, --editable PATH
            s = s.split(None, 1)[1] if " " in s else ""
        if "git+" in s or s.startswith("git:"):
            acc.git.append(s)
            continue
        if s in (".", "..") or s.startswith(("./", "../", "/")) or s.endswith((".tar.gz", ".zip")) or "file:" in s:
            acc.unknown.append(f"{where} installs a local project ('{s}'), which may compile C extensions")
            continue
        m = _req_name().match(s)
        if not m:
            continue
        extras = re.match(r"^\s*[A-Za-z0-9._-]+\s*\[([^\]]*)\]", s)
        _add_py(acc, _norm_py(m.group(1)), where, pm, no_binary,
                extras=frozenset(x.strip().lower() for x in extras.group(1).split(",")) if extras else frozenset())
    return acc.out()


def _add_py(acc: _Acc, name: str, where: str, pm: str, no_binary: frozenset[str], sdist_only: bool = False,
            extras: frozenset[str] = frozenset()) -> None:
    acc.names.add(name)
    from_source = ":all:" in no_binary or name in no_binary or sdist_only
    dep = _catalog_dep("python", name, where, pm, from_source)
    bundled = set(ecosystems.spec("python").get("native", {}).get(name, {}).get("bundled_extras", ()))
    if dep is not None and bundled & extras and not dep.compiles:
        dep = None  # psycopg[binary] carries its own libpq
    if dep is None and sdist_only:
        dep = NativeDep(name, True, (), (), where, "its lockfile lists no prebuilt wheel")
    if dep is not None and name not in acc.native:
        acc.native[name] = dep


def _toml_lock(text: str, rel: str, acc: _Acc, pm: str, no_binary: frozenset[str], with_dev: bool) -> None:
    """poetry.lock / uv.lock / pdm.lock: one [[package]] block per release, with its files."""
    blocks = re.split(r"^\[\[package\]\]\s*$", text, flags=re.M)[1:]
    for b in blocks:
        m = re.search(r'^name\s*=\s*"([^"]+)"', b, re.M)
        if not m:
            continue
        if re.search(r"^source\s*=\s*\{\s*(editable|virtual|directory|path)\s*=", b, re.M):
            continue  # the project itself or a local folder
        if re.search(r'^category\s*=\s*"dev"', b, re.M) and not with_dev:
            continue
        name = _norm_py(m.group(1))
        # poetry: files = [{file = "x.whl"}, ...]; uv: wheels = [...] and sdist = {...}
        has_files = bool(re.search(r"^(files|wheels|sdist)\s*=", b, re.M))
        has_wheel = ".whl" in b
        _add_py(acc, name, rel, pm, no_binary, sdist_only=has_files and not has_wheel)


def _pipfile_lock(text: str, rel: str, acc: _Acc, pm: str, no_binary: frozenset[str], with_dev: bool) -> None:
    try:
        data = json.loads(text)
    except ValueError:
        acc.unknown.append(f"{rel} is not valid JSON")
        return
    if not isinstance(data, dict):
        return
    for section in ("default", "develop") if with_dev else ("default",):
        deps = data.get(section)
        if not isinstance(deps, dict):
            continue
        for name, entry in deps.items():
            if isinstance(entry, dict) and ("git" in entry or "path" in entry or "file" in entry):
                if "git" in entry:
                    acc.git.append(str(name))
                else:
                    acc.unknown.append(f"{rel} installs a local project ('{name}'), which may compile C extensions")
                continue
            _add_py(acc, _norm_py(str(name)), rel, pm, no_binary)


def _section(text: str, name: str) -> str:
    m = re.search(rf"^\[{re.escape(name)}\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


def _pyproject_deps(text: str) -> list[str]:
    out: list[str] = []
    data = None
    if _toml is not None:
        try:
            data = _toml.loads(text)
        except Exception:  # noqa: BLE001 - not valid TOML: fall back to the patterns
            data = None
    if isinstance(data, dict):
        project = data.get("project") or {}
        deps = project.get("dependencies") if isinstance(project, dict) else None
        if isinstance(deps, list):
            out.extend(str(d) for d in deps)
        poetry = ((data.get("tool") or {}).get("poetry") or {}) if isinstance(data.get("tool"), dict) else {}
        pdeps = poetry.get("dependencies") if isinstance(poetry, dict) else None
        if isinstance(pdeps, dict):
            for k, v in pdeps.items():
                if k.lower() == "python":
                    continue
                if isinstance(v, dict) and ("git" in v or "path" in v):
                    out.append(f"git+{k}" if "git" in v else f"./{k}")
                else:
                    out.append(str(k))
        return out
    body = _section(text, "tool.poetry.dependencies")
    out.extend(m.group(1) for m in re.finditer(rf"""^\s*({ecosystems.package_name()})\s*=""", body, re.M) if m.group(1).lower() != "python")
    m = re.search(r"^dependencies\s*=\s*\[(.*?)\]", _section(text, "project"), re.M | re.S)
    if m:
        out.extend(x for x in re.findall(r"""["']([^"']+)["']""", m.group(1)))
    return out


# --------------------------------------------------------------------------- node


def node_dependencies(
    context: BuildContext, project: str, *, package_manager: str | None = "apt", with_dev: bool = True,
) -> Dependencies:
    """Dependencies of a node project (context folder): package.json, and install scripts from the lockfile."""
    acc = _Acc()
    pm = _pm(package_manager)
    spec = ecosystems.spec("node")
    pkg_rel = posixpath.normpath(posixpath.join(project, "package.json"))
    pkg = context.read_json_object(pkg_rel)
    if pkg is None:
        acc.unknown.append(f"{pkg_rel} cannot be read")
        return acc.out()
    acc.read.append(pkg_rel)
    sections = ["dependencies", "optionalDependencies"] + (["devDependencies"] if with_dev else [])
    local = tuple(spec.get("local_dependency_prefixes", ()))
    for sec in sections:
        deps = pkg.get(sec)
        if not isinstance(deps, dict):
            continue
        for name, v in deps.items():
            acc.names.add(str(name))
            if isinstance(v, str) and (v.startswith(("git", "github:", "bitbucket:", "gitlab:")) or re.match(r"^[\w.-]+/[\w.-]+(#.*)?$", v)):
                acc.git.append(str(name))
            elif isinstance(v, str) and v.startswith(local):
                acc.unknown.append(f"{pkg_rel} depends on the local package '{name}' ({v})")
            dep = _catalog_dep("node", str(name), pkg_rel, pm, False)
            if dep is not None:
                acc.native[str(name)] = dep
    benign = set(spec.get("benign_install_scripts", ()))
    lock_rel = posixpath.normpath(posixpath.join(project, "package-lock.json"))
    lock = context.read_json_object(lock_rel)
    if lock is not None:
        acc.read.append(lock_rel)
        pkgs = lock.get("packages")
        if isinstance(pkgs, dict):
            for k, v in pkgs.items():
                if not (isinstance(v, dict) and v.get("hasInstallScript")) or not k:
                    continue
                if v.get("dev") and not with_dev:
                    continue
                name = k.rsplit("node_modules/", 1)[-1]
                if name in benign or name in acc.native:
                    continue
                acc.native[name] = NativeDep(name, True, (), (), lock_rel, "runs an install script that may compile native code")
    pnpm_rel = posixpath.normpath(posixpath.join(project, "pnpm-lock.yaml"))
    ptext = context.read_text(pnpm_rel)
    if ptext is not None:
        acc.read.append(pnpm_rel)
        for m in re.finditer(r"^\s{2}'?/?(@?[^@\s:'/]+(?:/[^@\s:']+)?)@[^:\n]*:?\n(?:\s{4,}.*\n)*?\s{4,}requiresBuild: true", ptext, re.M):
            name = m.group(1)
            if name not in benign and name not in acc.native:
                acc.native[name] = NativeDep(name, True, (), (), pnpm_rel, "runs an install script that may compile native code")
    return acc.out()


# --------------------------------------------------------------------------- ruby


def ruby_dependencies(context: BuildContext, project: str, *, package_manager: str | None = "apt") -> Dependencies:
    acc = _Acc()
    pm = _pm(package_manager)
    rel = posixpath.normpath(posixpath.join(project, "Gemfile.lock"))
    text = context.read_text(rel)
    if text is None:
        gem = posixpath.normpath(posixpath.join(project, "Gemfile"))
        gtext = context.read_text(gem)
        if gtext is None:
            acc.unknown.append(f"{rel} cannot be read")
            return acc.out()
        acc.read.append(gem)
        acc.unknown.append(f"there is no {rel}, so the gems Gemfile pulls in are not known")
        for m in re.finditer(r"""^\s*gem\s+["']([^"']+)["']""", gtext, re.M):
            _add_gem(acc, m.group(1), gem, pm, False)
        return acc.out()
    acc.read.append(rel)
    platforms = set(re.findall(r"^\s{4}(\S+-linux(?:-gnu|-musl)?)\s*$", _lock_section(text, "PLATFORMS"), re.M))
    specs = _lock_section(text, "GEM")
    for m in re.finditer(r"^ {4}([A-Za-z0-9_.-]+) \(([^)]+)\)$", specs, re.M):
        name, version = m.group(1), m.group(2)
        precompiled = bool(re.search(r"-(x86_64|aarch64|arm64)-linux", version)) or bool(platforms and "-linux" in version)
        _add_gem(acc, name, rel, pm, precompiled)
    if re.search(r"^GIT$", text, re.M):
        acc.git.extend(re.findall(r"^\s+remote:\s*(\S+)", _lock_section(text, "GIT"), re.M))
    if re.search(r"^PATH$", text, re.M):
        acc.unknown.append(f"{rel} installs gems from a local path")
    return acc.out()


def _lock_section(text: str, name: str) -> str:
    m = re.search(rf"^{name}$(.*?)(?=^\S|\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


def _add_gem(acc: _Acc, name: str, where: str, pm: str, precompiled: bool) -> None:
    acc.names.add(name)
    e = ecosystems.spec("ruby").get("native", {}).get(name)
    if e is None or name in acc.native:
        return
    compiles = bool(e.get("compiles")) and not precompiled
    runtime = tuple(e.get("runtime", {}).get(pm, ()))
    if compiles or runtime:
        acc.native[name] = NativeDep(name, compiles, (), runtime, where)


# --------------------------------------------------------------------------- go


@dataclass(frozen=True)
class CgoFacts:
    """Does a Go build need cgo, and what runtime does the binary then need?"""

    needed: bool | None  # None: dockeropt cannot tell (keep cgo and a glibc runtime)
    reasons: tuple[str, ...]  # why cgo is needed (or why it cannot tell)
    modules: tuple[NativeDep, ...]  # cgo modules from go.mod/go.sum
    cxx: bool = False  # links C++ (libstdc++)
    unsupported: tuple[str, ...] = ()  # modules whose libraries no runtime base dockeropt knows carries
    reads_files: bool = False  # the source reads files beside the binary


def go_cgo(context: BuildContext | None, project: str, env_cgo: str | None, package_manager: str | None = "apt") -> CgoFacts:
    """cgo facts of the Go module in the context folder ``project``; ``env_cgo`` is CGO_ENABLED in effect."""
    if env_cgo is not None and env_cgo.strip() == "0":
        return CgoFacts(False, ("CGO_ENABLED=0 is set",), ())
    spec = ecosystems.spec("go")
    if context is None:
        return CgoFacts(None, ("no build context was given, so go.mod and the sources could not be read",), ())
    pm = _pm(package_manager)
    reasons: list[str] = []
    modules: list[NativeDep] = []
    unsupported: list[str] = []
    cxx = False
    mod_rel = posixpath.normpath(posixpath.join(project, "go.mod"))
    gomod = context.read_text(mod_rel)
    if gomod is None:
        return CgoFacts(None, (f"{mod_rel} cannot be read",), ())
    sum_text = context.read_text(posixpath.normpath(posixpath.join(project, "go.sum"))) or ""
    required = set(re.findall(r"^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]{2,}/\S+)\s+v\S+", gomod, re.M))
    required |= set(re.findall(r"^(\S+)\s+v\S+?(?:/go\.mod)?\s+h1:", sum_text, re.M))
    table = spec.get("native", {})
    for mod in sorted(required):
        e = table.get(mod)
        if e is None:
            continue
        dep = NativeDep(mod, True, (), tuple(e.get("runtime", {}).get(pm, ())), "go.mod/go.sum", str(e.get("why", "")))
        modules.append(dep)
        reasons.append(f"{mod} {e.get('why', 'needs cgo')}")
        cxx = cxx or bool(e.get("cxx"))
        if e.get("unsupported"):
            unsupported.append(mod)
    cgo_rx = re.compile(spec["cgo_import"], re.M)
    c_ext = tuple(spec.get("c_sources", ()))
    cxx_ext = tuple(spec.get("cxx_sources", ()))
    reads = ecosystems.patterns("go", "reads_files")
    reads_files = False
    seen = 0
    stack = [project or "."]
    while stack:
        d = stack.pop()
        for name in context.listdir(d):
            p = name if d in (".", "") else f"{d}/{name}"
            if context.ignored(p):
                continue
            if context.is_dir(p):
                if name in (".git", "node_modules", "testdata"):
                    continue
                stack.append(p)
                continue
            seen += 1
            if seen > 5000:
                return CgoFacts(None, ("the module has too many files to check for cgo",), tuple(modules), cxx, tuple(unsupported))
            if name.endswith(c_ext):
                reasons.append(f"{p} is C source compiled with cgo")
                cxx = cxx or name.endswith(cxx_ext)
                continue
            if not name.endswith(".go") or name.endswith("_test.go"):
                continue
            text = context.read_text(p, limit=512 * 1024) or ""
            if cgo_rx.search(text):
                reasons.append(f'{p} imports "C"')
            if not reads_files and "/vendor/" not in f"/{p}" and any(rx.search(text) for rx in reads):
                reads_files = True
    needed = bool(reasons)
    if env_cgo is not None and env_cgo.strip() == "1":
        needed = True
        reasons.insert(0, "CGO_ENABLED=1 is set")
    return CgoFacts(needed, tuple(dict.fromkeys(reasons)), tuple(modules), cxx, tuple(unsupported), reads_files)


__all__ = ["CgoFacts", "Dependencies", "NativeDep", "go_cgo", "node_dependencies", "python_dependencies", "ruby_dependencies"]
