"""Imports go one way: gui -> engine -> models. Checked on the source, statically."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "pyqtgraph", "shiboken6")
FORBIDDEN = {
    "models": QT + ("attnscope.gui", "attnscope.engine"),
    "engine": QT + ("attnscope.gui",),
}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_upwards(layer):
    offences = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for lineno, module in imported_modules(path):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                offences.append(f"{path.relative_to(ROOT)}:{lineno} imports {module}")
    assert not offences, "\n".join(offences)


def test_checker_catches_an_offence(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6 import QtCore\nimport attnscope.gui.app\n")
    assert [m for _, m in imported_modules(bad)] == ["PySide6", "attnscope.gui.app"]
