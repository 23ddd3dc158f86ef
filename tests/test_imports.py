"""The import graph of vlm_rl, read from the source with `ast` (nothing is imported):

(a) no import cycle between vlm_rl's modules (imports inside functions included: they close a cycle
    at call time just as well);
(b) the stages are independent of each other: no module in vlm_rl/stages/ imports another stages
    module, except stages/annotate.py importing its helper stages/teachers.py, and nothing but
    annotate imports teachers;
(c) gb_gym never imports vlm_rl (the env library does not depend on the trainer).

Imports under `if TYPE_CHECKING:` never run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VLM_RL = ROOT / "packages/vlm-rl/src/vlm_rl"
GB_GYM = ROOT / "packages/gb-gym/src/gb_gym"

# module → modules it may import inside vlm_rl/stages (every other stages → stages import is refused)
STAGES_ALLOWED = {("vlm_rl.stages.annotate", "vlm_rl.stages.teachers")}


# ---------------------------------------------------------------- the graph


def module_names(pkg_dir: Path) -> dict[str, Path]:
    """Dotted name → file for every module of the package rooted at pkg_dir (a package is its __init__)."""
    out = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        parts = path.relative_to(pkg_dir.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import / ImportFrom node, at any depth (functions, classes, try blocks), not under TYPE_CHECKING."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_names(name: str, path: Path) -> set[str]:
    """Absolute dotted names a module imports: `from .x import y` gives both x and x.y (y may be a module)."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in _imports(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
            continue
        if node.level:
            # the package the relative import starts from: the module's own package, then up level − 1
            base = name.split(".") if is_pkg else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        out.add(mod)
        out |= {f"{mod}.{a.name}" for a in node.names if a.name != "*"}
    return out


def import_graph(pkg_dir: Path) -> dict[str, set[str]]:
    """module → the package's modules that importing it runs: the imported module and every package above
    it (`import a.b.c` runs a/__init__ and a/b/__init__ too), except the module's own enclosing packages,
    which Python has already started (`from . import x` in pkg/y.py is an edge to pkg.x, not to pkg)."""
    mods = module_names(pkg_dir)
    graph = {}
    for name, path in mods.items():
        targets = set()
        for imp in imported_names(name, path):
            parts = imp.split(".")
            for k in range(1, len(parts) + 1):
                t = ".".join(parts[:k])
                if t in mods and not (name == t or name.startswith(t + ".")):
                    targets.add(t)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [m0, m1, ..., m0], or None if the graph is acyclic (iterative DFS, three colours)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if colour[start] != WHITE:
            continue
        path, iters = [start], [iter(sorted(graph[start]))]
        colour[start] = GREY
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                colour[path.pop()] = BLACK
                iters.pop()
            elif colour.get(nxt, BLACK) == GREY:
                return path[path.index(nxt):] + [nxt]
            elif colour.get(nxt) == WHITE:
                colour[nxt] = GREY
                path.append(nxt)
                iters.append(iter(sorted(graph[nxt])))
    return None


# ---------------------------------------------------------------- the finder finds what it must


def test_cycle_finder_on_hand_made_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"x"}}) == ["x", "x"]
    # a diamond is not a cycle
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None


def test_graph_builder_sees_relative_absolute_and_function_level_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from .sub.b import f\nimport os\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..c import T\n"
        "def f():\n    from .. import c\n    return c\n")
    (pkg / "c.py").write_text("class C:\n    def m(self):\n        import pkg.a\n")
    g = import_graph(pkg)
    # a → sub (its __init__ runs first) and sub.b; b's TYPE_CHECKING import is left out, its function-level
    # `from .. import c` is an edge to c (pkg itself is b's enclosing package); c's method imports pkg.a
    assert g == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.sub", "pkg.sub.b"}, "pkg.sub": set(),
                 "pkg.sub.b": {"pkg.c"}, "pkg.c": {"pkg.a"}}
    assert find_cycle(g) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("import os\n")  # cut the cycle
    assert find_cycle(import_graph(pkg)) is None


# ---------------------------------------------------------------- the rules on the real packages


def test_vlm_rl_has_no_import_cycle():
    graph = import_graph(VLM_RL)
    assert len(graph) > 30 and "vlm_rl.stages.rl" in graph["vlm_rl.train"]  # the graph is really there
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_stages_do_not_import_each_other():
    graph = import_graph(VLM_RL)
    stages = {m for m in graph if m == "vlm_rl.stages" or m.startswith("vlm_rl.stages.")}
    assert {"vlm_rl.stages.annotate", "vlm_rl.stages.sft", "vlm_rl.stages.rl", "vlm_rl.stages.evaluate",
            "vlm_rl.stages.teachers"} <= stages
    bad = sorted((m, t) for m in stages for t in graph[m] if t in stages and (m, t) not in STAGES_ALLOWED)
    assert not bad, f"stages importing other stages: {bad}"
    users = sorted(m for m, ts in graph.items() if "vlm_rl.stages.teachers" in ts)
    assert users == ["vlm_rl.stages.annotate"], f"stages/teachers.py is annotate's helper, imported by {users}"


def test_gb_gym_never_imports_vlm_rl():
    mods = module_names(GB_GYM)
    assert "gb_gym.env" in mods
    bad = sorted((name, imp) for name, path in mods.items() for imp in imported_names(name, path)
                 if imp == "vlm_rl" or imp.startswith("vlm_rl."))
    assert not bad, f"gb_gym imports the trainer: {bad}"
    # nor by name through importlib
    by_name = sorted(name for name, path in mods.items() for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.Constant) and isinstance(node.value, str)
                     and (node.value == "vlm_rl" or node.value.startswith("vlm_rl.")))
    assert not by_name, f"gb_gym names vlm_rl in: {by_name}"
