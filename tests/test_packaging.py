"""A regular install (``pip install .``, not editable) must contain every subpackage and data file."""

from __future__ import annotations

import sys

from harness import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_subpackage_is_listed() -> None:
    # an editable install finds any folder; a regular one ships only what pyproject.toml lists
    st = _setuptools()
    listed = set(st["packages"])
    for name, folder in st["package-dir"].items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / folder)
            pkg = ".".join([name, *rel.parts]) if rel.parts else name
            if pkg.startswith("dockeropt.transforms.") or pkg in st["package-dir"]:
                continue
            assert pkg in listed, f"{pkg} is not in [tool.setuptools] packages: a regular install would lack it"


def test_every_data_file_is_packaged() -> None:
    import fnmatch

    patterns = _setuptools()["package-data"]["dockeropt"]
    for path in sorted((ROOT / "optimizer").rglob("*")):
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
            rel = path.relative_to(ROOT / "optimizer").as_posix()
            assert any(fnmatch.fnmatch(rel, p) for p in patterns), f"optimizer/{rel} would be missing from a regular install"
