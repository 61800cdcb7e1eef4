"""Regenerate docs/rules.md from the passes' docstrings: ``python -m dockeropt.docs``.

``python -m dockeropt.docs --check`` exits 1 when the file is out of date. ``--path FILE`` names
the file; without it, the checkout's ``docs/rules.md`` is used: the one beside the package when
it runs from a source checkout (an editable install), else the one of the checkout the command
runs in (an installed package, run from the repository: ``pip install .`` then this). Outside a
checkout it says so in one line and exits 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _is_checkout(folder: Path) -> bool:
    py = folder / "pyproject.toml"
    try:
        return py.is_file() and 'name = "dockeropt"' in py.read_text(encoding="utf-8") and (folder / "docs").is_dir()
    except OSError:
        return False


def find_rules_md(start: Path | None = None, package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The checkout's docs/rules.md (see the module docstring), or None outside a checkout."""
    if _is_checkout(package_dir.parent):
        return package_dir.parent / "docs" / "rules.md"
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_checkout(folder):
            return folder / "docs" / "rules.md"
    return None


def main(argv: list[str] | None = None) -> int:
    import argparse

    from dockeropt.rules import rule_reference_markdown

    ap = argparse.ArgumentParser(prog="python -m dockeropt.docs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="Exit 1 when the file is out of date; write nothing.")
    ap.add_argument("--path", type=Path, help="The rules reference to write or check (default: the checkout's).")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    path = args.path or find_rules_md()
    if path is None:
        print("dockeropt.docs: not in a checkout of dockeropt (no docs/ beside a dockeropt pyproject.toml); "
              "pass --path FILE", file=sys.stderr)
        return 2
    text = rule_reference_markdown()
    if args.check:
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = ""
        if current != text:
            print(f"{path} is out of date; run: python -m dockeropt.docs", file=sys.stderr)
            return 1
        return 0
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"dockeropt.docs: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
