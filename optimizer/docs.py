"""Regenerate docs/rules.md from the passes' docstrings: ``python -m dockeropt.docs``.

``python -m dockeropt.docs --check`` exits 1 when the file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dockeropt.rules import docs_path, rule_reference_markdown


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(docs_path())
    text = rule_reference_markdown()
    if "--check" in args:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date; run: python -m dockeropt.docs", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
