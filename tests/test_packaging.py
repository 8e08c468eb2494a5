"""What `pip install .` ships: every package folder, its data, and nothing from the source tree.

A wheel holds only what pyproject.toml lists; a subpackage or data file left
out works in the editable checkout and breaks once installed.
"""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
SOURCE_ONLY = ("benchmarks", "tests", "scripts")  # folders of the checkout, never installed


def package_folder(package: str) -> Path:
    """The source folder of an installed package name, through [tool.setuptools.package-dir]."""
    mapping = SETUPTOOLS["package-dir"]
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in mapping:
            return ROOT / mapping[prefix] / Path(*parts[cut:])
    return ROOT / Path(*parts)


def installed_folders() -> dict[Path, str]:
    return {package_folder(name).resolve(): name for name in SETUPTOOLS["packages"]}


def test_every_listed_package_has_a_folder_with_an_init():
    for folder, name in installed_folders().items():
        assert (folder / "__init__.py").is_file(), f"{name}: {folder} has no __init__.py"


def test_every_folder_of_python_code_is_listed():
    """A new subpackage (e.g. engine/newthing/) must be added to [tool.setuptools] packages."""
    folders = installed_folders()
    missing = []
    for top in {f for f in folders if folders[f].count(".") <= 1}:
        for init in top.rglob("__init__.py"):
            if "__pycache__" not in init.parts and init.parent.resolve() not in folders:
                missing.append(str(init.parent.relative_to(ROOT)))
    assert not missing, f"not in pyproject's packages, so not installed: {missing}"


def owning_package(path: Path, folders: dict[Path, str]) -> tuple[Path, str]:
    """The deepest installed folder holding ``path``, and its package name."""
    folder = next(parent for parent in path.resolve().parents if parent in folders)
    return folder, folders[folder]


def test_every_data_file_is_package_data():
    """Files other than Python under an installed folder must match its package-data globs."""
    folders = installed_folders()
    data = SETUPTOOLS.get("package-data", {})
    unshipped = []
    for top in folders:
        for path in top.rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
                continue
            folder, name = owning_package(path, folders)
            relative = path.resolve().relative_to(folder).as_posix()
            if not any(fnmatch.fnmatch(relative, glob) for glob in data.get(name, [])):
                unshipped.append(str(path.relative_to(ROOT)))
    assert not unshipped, (
        f"not in pyproject's package-data, so not installed: {sorted(set(unshipped))}"
    )


def test_the_product_never_imports_the_source_tree():
    """models/, engine/, gui/ must not import benchmarks/, tests/ or scripts/ (not installed).

    `attnscope bench` reaches benchmarks/ only through engine/commands/bench.py's
    checkout finder, by module name at run time, never by an import statement.
    """
    offences = []
    for folder in installed_folders():
        for path in folder.glob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                    else []
                )
                for module in names:
                    if module.split(".")[0] in SOURCE_ONLY:
                        offences.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not offences, "\n".join(offences)
