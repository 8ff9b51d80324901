"""The layout holds: docs/architecture.md says which module may import which, and the code does
no more than that; there is no import cycle, lazy imports included; the entry points' modules
are imported by nobody; no module of mnist/ is over 400 lines; and nothing edits sys.path."""

import ast
import re
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "mnist"
COMMANDS = {"training", "prediction", "compare", "export", "app"}  # behind train.py, predict.py...


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "__init__"


KNOWN = {module_name(p) for p in PACKAGE.rglob("*.py")}


def project_imports(path: Path) -> set[str]:
    """The mnist modules a file imports anywhere in it (inside functions too), as names
    relative to the package: mnist.rundir -> rundir."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n[len("mnist."):] for n in names
                     if n.startswith("mnist.") and n[len("mnist."):] in KNOWN)
    return found


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): project_imports(p) - {module_name(p)} for p in PACKAGE.rglob("*.py")}


def allowed_imports() -> dict[str, set[str]]:
    """The table of docs/architecture.md: | `mnist/x.py` | `a`, `b` ... |"""
    rows = {}
    imports_part = (REPO / "docs" / "architecture.md").read_text().split("\n## Layout\n")[0]
    for line in imports_part.splitlines():
        m = re.match(r"\| `mnist/([\w/]+)\.py` \|([^|]*)\|", line)
        if m:
            rows[module_name(PACKAGE / f"{m[1]}.py")] = set(re.findall(r"`([\w.]+)`", m[2]))
    return rows


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as a path a -> ... -> a, or None."""
    done, path = set(), []

    def visit(module):
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        path.append(module)
        for other in sorted(graph.get(module, ())):
            if cycle := visit(other):
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module):
            return cycle
    return None


def test_every_module_imports_only_what_docs_architecture_allows():
    graph, allowed = import_graph(), allowed_imports()
    assert set(graph) == set(allowed), "docs/architecture.md lists other modules than mnist/ has"
    extra = {m: sorted(graph[m] - allowed[m]) for m in graph if graph[m] - allowed[m]}
    assert not extra, f"imports not in docs/architecture.md: {extra}"


def diagram_layers() -> dict[str, int]:
    """The layered picture of docs/architecture.md: module -> its layer (a continued row, with
    no number of its own, belongs to the layer above it)."""
    text = (REPO / "docs" / "architecture.md").read_text()
    picture = re.search(r"```\n entry points.*?\n```", text, flags=re.S)[0]
    layers, layer = {}, None
    for line in picture.splitlines()[3:-1]:
        m = re.match(r" (\d) ", line)
        layer = int(m[1]) if m else layer
        for name in re.findall(r"[a-z_]+(?:\.[a-z_]+)?", line[16:]):
            layers[name] = layer
    return layers


def test_the_picture_holds_every_import_goes_to_a_lower_layer():
    graph, layers = import_graph(), diagram_layers()
    assert set(graph) - {"__init__", "picturesets"} == set(layers)
    upward = [(m, d) for m, deps in graph.items() if m in layers
              for d in deps if layers[d] >= layers[m]]
    assert not upward, upward


def test_no_import_cycle_lazy_imports_included():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()))


def test_the_checks_see_lazy_imports_and_cycles(tmp_path):
    """The checks above can fail: an import inside a function counts, and a cycle is found."""
    source = tmp_path / "lazy.py"
    source.write_text("import numpy\nfrom mnist import cli\n\ndef f():\n"
                      "    from mnist.inference import load_model\n    import mnist.rundir\n")
    assert project_imports(source) == {"cli", "inference", "rundir"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_nothing_imports_an_entry_points_module():
    users = {m: sorted(deps & COMMANDS) for m, deps in import_graph().items() if deps & COMMANDS}
    assert not users, users


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_tests_and_benchmarks_import_normally():
    edits = [str(p.relative_to(REPO)) for folder in ("tests", "benchmarks", "mnist")
             for p in (REPO / folder).rglob("*.py") if "sys.path.insert" in p.read_text()
             and p.name != "test_architecture.py"]
    assert not edits, edits
