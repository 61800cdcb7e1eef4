"""Move reviewed ``*.new`` golden files (written by ``pytest --update-goldens``) into place.

Usage: ``python tests/accept_goldens.py [RULE ...]`` (default: every rule's folder).
A ``.new`` file holding ``<deleted>`` removes the expectation it stands beside.
"""

from __future__ import annotations

import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DELETED = b"<deleted>\n"


def main(argv: list[str]) -> int:
    folders = [FIXTURES / r for r in argv] if argv else sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    moved = 0
    for folder in folders:
        for new in sorted(folder.glob("*.new")):
            target = new.with_name(new.name[: -len(".new")])
            data = new.read_bytes()
            if data == DELETED:
                if target.exists():
                    target.unlink()
            else:
                target.write_bytes(data)
            new.unlink()
            moved += 1
            print(f"accepted {target.relative_to(FIXTURES)}")
    print(f"{moved} file(s) accepted")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
