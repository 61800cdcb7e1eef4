"""The arrows that must never exist between modules (docs/architecture.md).

* core -> passes: the syntax tree, shell model, image model and catalogs never import
  ``dockeropt.transforms``;
* passes -> faces: no pass imports the CLI, LSP, output formats, bulk runner or settings;
* pass -> pass: no pass module imports another pass module (shared facts live in the model,
  ordering is declared with ``Pass.after``), and no pass loads the registry to run another pass (``load_passes``);
* the image model never imports a face either.

Imports are read from the source with ``ast``, so lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPTIMIZER = ROOT / "optimizer"
TRANSFORMS = ROOT / "transforms"

CORE = ("syntax", "source", "shell", "model", "catalog", "context", "edits", "analysis", "config")
FACES = ("cli", "lsp", "formats", "migrate", "settings", "runner", "report", "verify", "checklist", "docs")
PASS_MODULE = re.compile(r"^do\d{3}_")



def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative import inside dockeropt.transforms
                mod = "dockeropt.transforms." + mod if mod else "dockeropt.transforms"
            out.append(mod)
            out.extend(f"{mod}.{a.name}" for a in node.names)
    return out


def _core_files() -> list[Path]:
    files: list[Path] = []
    for name in CORE:
        p = OPTIMIZER / name
        files.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p.with_suffix(".py")])
    return [f for f in files if f.exists()]


def test_core_never_imports_passes_or_faces() -> None:
    bad = []
    for f in _core_files():
        for mod in _imports(f):
            if mod.startswith("dockeropt.transforms") or any(mod == f"dockeropt.{x}" or mod.startswith(f"dockeropt.{x}.") for x in FACES):
                bad.append(f"{f.relative_to(ROOT)} imports {mod}")
    assert not bad, bad


def test_passes_never_import_faces() -> None:
    bad = []
    for f in sorted(TRANSFORMS.glob("*.py")):
        for mod in _imports(f):
            if any(mod == f"dockeropt.{x}" or mod.startswith(f"dockeropt.{x}.") for x in FACES):
                bad.append(f"{f.name} imports {mod}")
    assert not bad, bad


def test_no_pass_imports_another_pass() -> None:
    passes = {f.stem for f in TRANSFORMS.glob("do*.py") if PASS_MODULE.match(f.stem)}
    found = set()
    for f in sorted(TRANSFORMS.glob("*.py")):
        for mod in _imports(f):
            parts = mod.split(".")
            if mod.startswith("dockeropt.transforms.") and len(parts) >= 3 and parts[2] in passes and parts[2] != f.stem:
                found.add((f.stem, parts[2]))
            # a helper module imported by a pass must not itself reach into a pass
    helpers_reaching = {(a, b) for a, b in found if a.startswith("_")}
    assert not helpers_reaching, f"shared helpers importing passes: {sorted(helpers_reaching)}"
    assert not found, f"pass modules importing other pass modules: {sorted(found)}"


def test_no_pass_asks_another_pass() -> None:
    users = set()
    for f in sorted(TRANSFORMS.glob("*.py")):
        if f.stem == "__init__":
            continue
        if "load_passes" in f.read_text(encoding="utf-8"):
            users.add(f.stem)
    assert not users, f"passes that run or consult other passes (declare Pass.after instead): {sorted(users)}"
