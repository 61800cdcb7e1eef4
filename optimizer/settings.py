"""Configuration: ``[tool.dockeropt]`` in ``pyproject.toml`` or a ``.dockeropt.toml``, plus flags.

:class:`Loader` (and :func:`load_config`) is the one way every face gets a Dockerfile's
:class:`Config`: ``fix``, ``check``, ``verify``, ``report`` and the language server.

The nearest configuration wins: walking up from a Dockerfile's folder, the
first folder holding a ``.dockeropt.toml``, or a ``pyproject.toml`` with a
``[tool.dockeropt]`` table, supplies the settings (``.dockeropt.toml`` wins
over ``pyproject.toml`` in the same folder). Files are not merged. Command
line flags override the file (see :class:`Overrides`).

Every problem is a :class:`ConfigError` whose message is one line naming the
file and the key.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dockeropt.config import Config

CONFIG_NAMES = (".dockeropt.toml", "pyproject.toml")

_BUILDKIT = re.compile(r"^\d+(\.\d+){0,2}$")
_SELECTOR = re.compile(r"^DO[1-4]?\d{0,2}$")


class ConfigError(ValueError):
    """A bad configuration file; ``str()`` is a one-line message naming the file and key."""

    def __init__(self, path: Path | str, key: str | None, msg: str) -> None:
        self.path = Path(path)
        self.key = key
        where = f"{self.path}: " + (f"key '{key}': " if key else "")
        super().__init__(where + msg)


_EXTEND_KEYS = ("extend_select", "extend_ignore")


@dataclass(frozen=True)
class FileSettings:
    """What one configuration file says (keys it does not set stay None)."""

    path: Path | None  # None: no file, defaults only
    root: Path  # the folder patterns (exclude, per-file-ignores) are relative to
    values: dict[str, Any] = field(default_factory=dict)  # Config field name (or extend-select/-ignore) -> value

    def config(self) -> Config:
        return Config(**{k: v for k, v in self.values.items() if k not in _EXTEND_KEYS})


@dataclass(frozen=True)
class Overrides:
    """Command line values; None means 'not given, use the file'."""

    select: tuple[str, ...] | None = None  # replaces the file's select (and its extend-select)
    ignore: tuple[str, ...] = ()  # added to the file's ignore list
    extend_select: tuple[str, ...] = ()  # added to whatever is selected (opt-in rules by id: DO304)
    extend_ignore: tuple[str, ...] = ()  # added to the ignore list
    safe_only: bool | None = None
    unsafe_fixes: bool | None = None
    syntax_directive: bool | None = None
    exclude: tuple[str, ...] = ()  # added to the file's exclude list
    resolve_digests: bool | None = None


# ----------------------------------------------------------------------------- parsing


def _norm_key(key: str) -> str:
    return key.replace("-", "_")


def _selectors(path: Path, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, key, "expected a list of rule ids, e.g. [\"DO101\", \"DO2\"]")
    out = [v.strip().upper() for v in value if v.strip()]
    for v in out:
        if not _SELECTOR.match(v):
            raise ConfigError(path, key, f"{v!r} is not a rule id or prefix (like DO101 or DO2)")
    from dockeropt.rules import validate_selectors

    bad = validate_selectors(out)
    if bad:
        raise ConfigError(path, key, f"unknown rule selector {bad[0]!r} (see 'dockeropt rules')")
    return out


def _bool(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, key, f"expected true or false, got {value!r}")
    return value


def _strings(path: Path, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, key, "expected a list of strings")
    return list(value)


def _parse_table(path: Path, table: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(path, prefix.rstrip("."), "expected a table")
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = _norm_key(raw_key)
        shown = prefix + raw_key
        if key in ("select", "ignore", "extend_select", "extend_ignore"):
            values[key] = _selectors(path, shown, value)
        elif key in ("safe_only", "unsafe_fixes", "syntax_directive", "bind_mount_style", "resolve_digests"):
            values[key] = _bool(path, shown, value)
        elif key == "exclude":
            values[key] = _strings(path, shown, value)
        elif key == "buildkit":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not _BUILDKIT.match(value.strip()):
                raise ConfigError(path, shown, f"expected a BuildKit version string like \"0.8\", got {value!r}")
            values[key] = value.strip()
        elif key == "default_uid":
            if isinstance(value, bool) or not isinstance(value, int) or not (1 <= value <= 2**31 - 1):
                raise ConfigError(path, shown, f"expected a non-root numeric uid (1 to 2147483647), got {value!r}")
            values[key] = value
        elif key == "max_iterations":
            if isinstance(value, bool) or not isinstance(value, int) or not (1 <= value <= 100):
                raise ConfigError(path, shown, f"expected an integer from 1 to 100, got {value!r}")
            values[key] = value
        elif key == "registry_mirror":
            if not isinstance(value, dict):
                raise ConfigError(path, shown, "expected a table mapping image prefixes to mirrors")
            mirror: dict[str, str] = {}
            for src, dst in value.items():
                if not isinstance(dst, str) or not dst.strip() or not src.strip():
                    raise ConfigError(path, f"{shown}.{src}", f"expected a non-empty image prefix, got {dst!r}")
                mirror[src.strip().rstrip("/")] = dst.strip().rstrip("/")
            values[key] = mirror
        elif key == "per_file_ignores":
            if not isinstance(value, dict):
                raise ConfigError(path, shown, "expected a table mapping file patterns to rule ids")
            values[key] = {pat: _selectors(path, f"{shown}.{pat}", ids) for pat, ids in value.items()}
        else:
            raise ConfigError(path, shown, "unknown setting (see docs/configuration.md)")
    if values.get("safe_only") and values.get("unsafe_fixes"):
        raise ConfigError(path, prefix + "unsafe-fixes", "safe-only and unsafe-fixes contradict each other")
    return values


def _toml() -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI (a dependency there)
        import tomli as tomllib
    return tomllib


def load_file(path: Path) -> FileSettings | None:
    """Read one configuration file; None for a pyproject.toml without ``[tool.dockeropt]``."""
    tomllib = _toml()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from None
    root = path.parent
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "dockeropt" not in tool:
            return None
        return FileSettings(path, root, _parse_table(path, tool["dockeropt"], "tool.dockeropt."))
    return FileSettings(path, root, _parse_table(path, data, ""))


_CACHE: dict[Path, FileSettings | None] = {}


def find_settings(start: Path) -> FileSettings | None:
    """The nearest configuration at or above folder ``start`` (cached per folder)."""
    folder = Path(os.path.abspath(start))
    visited: list[Path] = []
    found: FileSettings | None = None
    cur = folder
    while True:
        if cur in _CACHE:
            found = _CACHE[cur]
            break
        visited.append(cur)
        hit = None
        for name in CONFIG_NAMES:
            candidate = cur / name
            if candidate.is_file():
                hit = load_file(candidate)
                if hit is not None:
                    break
        if hit is not None:
            found = hit
            break
        if cur.parent == cur:
            break
        cur = cur.parent
    for v in visited:
        _CACHE[v] = found
    return found


def clear_cache() -> None:
    _CACHE.clear()


# ----------------------------------------------------------------------------- resolving


def resolve(settings: FileSettings | None, overrides: Overrides | None = None) -> Config:
    """The file's settings with the command line's overrides applied (no per-file rules yet)."""
    o = overrides or Overrides()
    cfg = settings.config() if settings is not None else Config()
    values = settings.values if settings is not None else {}
    extend: list[str] = []
    if o.select is not None:
        cfg.select = list(o.select)
    else:
        extend += values.get("extend_select", [])
    extend += o.extend_select
    if extend:
        # "everything selected so far, plus these": DO is every default rule
        base = cfg.select or ["DO"]
        cfg.select = [*base, *(x for x in extend if x not in base)]
    cfg.ignore = [*cfg.ignore, *values.get("extend_ignore", []), *o.ignore, *o.extend_ignore]
    if o.unsafe_fixes:
        cfg.unsafe_fixes, cfg.safe_only = True, False
    elif o.safe_only:
        cfg.safe_only, cfg.unsafe_fixes = True, False
    if o.syntax_directive is not None:
        cfg.syntax_directive = o.syntax_directive
    if o.exclude:
        cfg.exclude = [*cfg.exclude, *o.exclude]
    if o.resolve_digests is not None:
        cfg.resolve_digests = o.resolve_digests
    return cfg


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root))).as_posix()
    except ValueError:
        return path.as_posix()


def pattern_matches(pattern: str, rel_path: str) -> bool:
    """A gitignore-flavoured match: ``*`` within a name, ``**`` across folders, no slash = any depth."""
    pat = pattern.strip().lstrip("/") if "/" in pattern.strip().rstrip("/") else pattern.strip()
    pat = pat.rstrip("/")
    if not pat:
        return False
    name = rel_path.rsplit("/", 1)[-1]
    if "/" not in pat:
        # a bare name matches the file or any folder on its path
        return any(fnmatch.fnmatchcase(part, pat) for part in rel_path.split("/")) or fnmatch.fnmatchcase(name, pat)
    regex = _glob_regex(pat)
    parts = rel_path.split("/")
    # the pattern may name the file or one of its folders
    return any(regex.match("/".join(parts[:i])) for i in range(1, len(parts) + 1))


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _glob_regex(pat: str) -> re.Pattern[str]:
    rx = _REGEX_CACHE.get(pat)
    if rx is None:
        out = []
        i = 0
        while i < len(pat):
            c = pat[i]
            if pat.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
                continue
            if pat.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            if c == "*":
                out.append("[^/]*")
            elif c == "?":
                out.append("[^/]")
            else:
                out.append(re.escape(c))
            i += 1
        rx = re.compile("".join(out) + r"\Z")
        _REGEX_CACHE[pat] = rx
    return rx


def config_for(path: Path | None, overrides: Overrides | None = None, *, settings: FileSettings | None = None,
               search: bool = True) -> Config:
    """The effective Config for one Dockerfile: nearest file + overrides + its per-file-ignores.

    ``per_file_ignores`` are matched against the path relative to the configuration
    file's folder and folded into ``ignore``; the returned Config has no
    per-file patterns left (so the pipeline does not match them again).
    """
    if settings is None and search and path is not None:
        settings = find_settings(path.parent if str(path.parent) else Path("."))
    cfg = resolve(settings, overrides)
    if cfg.per_file_ignores and path is not None:
        root = settings.root if settings is not None else Path(".")
        rel = _rel(path, root)
        extra = [rid for pat, ids in cfg.per_file_ignores.items() if pattern_matches(pat, rel) for rid in ids]
        cfg = replace(cfg, ignore=[*cfg.ignore, *extra], per_file_ignores={})
    return cfg


def is_excluded(path: Path, cfg: Config, root: Path) -> bool:
    rel = _rel(path, root)
    return any(pattern_matches(p, rel) for p in cfg.exclude)


class Loader:
    """The configuration of every Dockerfile of one run: ``--config FILE`` or the nearest file, plus flags.

    Every face builds its Config here, so the same file with the same flags gets the same rules
    in ``fix``, ``check``, ``verify``, ``report`` and the language server. A new loader reads the
    configuration files afresh (they may have changed since an earlier run in this process, as in
    the language server); one loader reads each folder's file once.
    """

    def __init__(self, overrides: Overrides | None = None, config_file: Path | None = None, *, fresh: bool = True) -> None:
        if fresh:
            clear_cache()
        self.overrides = overrides or Overrides()
        self.explicit: FileSettings | None = None
        if config_file is not None:
            if not config_file.is_file():
                raise ConfigError(config_file, None, "no such file")
            self.explicit = load_file(config_file)
            if self.explicit is None:
                raise ConfigError(config_file, "tool.dockeropt", "no [tool.dockeropt] table in this file")

    def settings(self, path: Path | None) -> FileSettings | None:
        if self.explicit is not None:
            return self.explicit
        if path is None:
            return find_settings(Path("."))
        return find_settings(path.parent if str(path.parent) else Path("."))

    def config(self, path: Path | None) -> Config:
        """The effective Config for the Dockerfile at ``path`` (None: standard input without a name)."""
        return config_for(path, self.overrides, settings=self.settings(path), search=False)

    def excluded(self, path: Path) -> bool:
        """Does the ``exclude`` setting (file and ``--exclude``) name this path?"""
        s = self.settings(path)
        cfg = self.config(path)
        return bool(cfg.exclude) and is_excluded(path, cfg, s.root if s is not None else Path("."))


def load_config(path: Path | None, overrides: Overrides | None = None, config_file: Path | None = None, *,
                fresh: bool = True) -> Config:
    """One Dockerfile's Config, the way every face builds it (see :class:`Loader`)."""
    return Loader(overrides, config_file, fresh=fresh).config(path)
