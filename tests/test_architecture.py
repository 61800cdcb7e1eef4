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


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module that are not docstrings (documentation may quote anything)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


# Knowledge that lives in the catalogs (optimizer/catalog/*.json) and nowhere in the code: (literal, how it is
# matched, where it lives). Each of these was once written out in several modules that disagreed (issue 10).
_CATALOG_ONLY = (
    ("[A-Za-z0-9][A-Za-z0-9._-]*", "in", "the Python package-name pattern: ecosystems.json python package_name_regex"),
    ("--requirement", "in", "pip's requirement flags: package_managers.json manifest_flags"),
    ("--constraint", "in", "pip's constraint flags: package_managers.json manifest_flags"),
    ("--editable", "in", "pip's editable flags: package_managers.json editable_flags"),
    ("clean-install", "==", "npm's install verbs: package_managers.json verbs"),
    ("isntall", "==", "npm's install verbs: package_managers.json verbs"),
    ("apt-get install -y --no-install-recommends", "in", "how a new stage installs packages: package_managers.json install_line"),
    ("apk add --no-cache ", "in", "how a new stage installs packages: package_managers.json install_line"),
    ("pyvenv.cfg", "==", "what marks a virtualenv: ecosystems.json context virtualenvs"),
    (".pytest_cache", "==", "tool caches of a build context: ecosystems.json context tool_caches"),
    ("npm-shrinkwrap.json", "==", "npm's lockfiles: package_managers.json lockfiles"),
)
# modules that may hold a literal anyway, with why
_CATALOG_ONLY_EXCEPT = {
    ("npm-shrinkwrap.json", "transforms/do107_npm_install.py"),  # which of npm's two lockfiles `npm ci` prefers
    ("npm-shrinkwrap.json", "optimizer/verify.py"),  # a face: lockfiles the verify command's fixtures carry
}


def test_catalog_knowledge_is_written_in_one_place() -> None:
    bad = []
    for f in sorted([*OPTIMIZER.rglob("*.py"), *TRANSFORMS.glob("*.py")]):
        rel = f.relative_to(ROOT).as_posix()
        for line, text in _code_strings(f):
            for literal, how, where in _CATALOG_ONLY:
                hit = literal in text if how == "in" else text == literal
                if hit and (literal, rel) not in _CATALOG_ONLY_EXCEPT:
                    bad.append(f"{rel}:{line} writes {literal!r} ({where})")
    assert not bad, bad


def test_one_mount_parser() -> None:
    """`--mount=` flags are read and written by dockeropt.model.mounts only (messages may name them)."""
    bad = []
    for f in sorted([*OPTIMIZER.rglob("*.py"), *TRANSFORMS.glob("*.py")]):
        rel = f.relative_to(ROOT).as_posix()
        if rel == "optimizer/model/mounts.py":
            continue
        for line, text in _code_strings(f):
            if text.startswith(("--mount", "type=cache", "type=bind", "type=secret", "type=tmpfs", "type=ssh")):
                bad.append(f"{rel}:{line}: {text[:60]!r}")
    assert not bad, bad
