"""engine/training imports no loop and never engine.inference: training makes a checkpoint,
measuring a trained model is evaluation. Checked on the source, statically (every import,
also those inside functions), following imports through the rest of attnscope.engine."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "attnscope.engine"
FORBIDDEN = "attnscope.engine.inference"
CHECKED = ("attnscope.engine.training", "attnscope.engine.shapes")


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("attnscope", *parts))


def engine_modules(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted((root / "engine").rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The attnscope.engine modules ``name`` imports (``from pkg import mod`` counts mod)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            while target and target not in known:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target.startswith(PACKAGE):
                found.add(target)
    found.discard(name)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the attnscope.engine modules it imports, for every module under engine/."""
    modules = engine_modules(root)
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def in_scope(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in CHECKED)


def test_training_never_imports_inference():
    graph = import_graph()
    offences = [
        name
        for name in graph
        if name.startswith("attnscope.engine.training") and FORBIDDEN in reachable(graph, name)
    ]
    assert not offences, f"these reach {FORBIDDEN}: {offences}"


def test_training_and_shapes_import_no_loop():
    graph = import_graph()
    loops = sorted(name for name in graph if in_scope(name) and name in reachable(graph, name))
    assert not loops, f"import loops through: {loops}"


def test_checker_sees_a_loop_and_a_function_level_import(tmp_path):
    """Control: the old shapes <-> pointing pair, with one import inside a function."""
    package = tmp_path / "engine" / "training"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "shapes.py").write_text(
        "def main():\n    from attnscope.engine.inference import load\n"
        "    from attnscope.engine.training.pointing import measure\n"
    )
    (package / "pointing.py").write_text("from attnscope.engine.training.shapes import Scene\n")
    (tmp_path / "engine" / "inference.py").write_text("")
    graph = import_graph(tmp_path)
    shapes = "attnscope.engine.training.shapes"
    assert graph[shapes] == {FORBIDDEN, "attnscope.engine.training.pointing"}
    assert shapes in reachable(graph, shapes)
