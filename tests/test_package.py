"""The sdist and wheel: they build without warnings, pass `twine check`, hold the equations, the
figures, the bundled digits, the licences and the command, and the wheel works outside the checkout."""
import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "WARNING" not in built.stdout + built.stderr, (built.stdout + built.stderr)[-3000:]
    return out


def test_sdist_and_wheel_pass_twine_check(dist):
    files = sorted(dist.iterdir())
    assert sorted(f.suffix for f in files) == [".gz", ".whl"]
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_wheel_holds_what_the_package_reads(dist):
    names = zipfile.ZipFile(next(dist.glob("*.whl"))).namelist()
    eqs = {Path(n).name for n in names if n.startswith("brian_decolle/eqs/")}
    assert eqs == {p.name for p in (ROOT / "equations").glob("*.eqs")}
    for needed in ("brian_decolle/figures/classification.py", "brian_decolle/figures/regression.py",
                   "brian_decolle/data/mnist_5k/digits-images-idx3-ubyte.gz", "brian_decolle/commands.py"):
        assert needed in names, needed
    assert any(n.endswith("licenses/LICENSE") for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "brian-decolle = brian_decolle.commands:main" in zipfile.ZipFile(next(dist.glob("*.whl"))).read(
        entry).decode()


def test_installed_wheel_reads_its_equations_and_digits_outside_the_checkout(dist, tmp_path):
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                                str(target), str(next(dist.glob("*.whl")))], capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    code = ("import brian_decolle, brian_decolle.equations as eq; from brian_decolle.data import mnist; "
            "images, labels = mnist.load_digits(); print(brian_decolle.__file__); "
            "print(len(eq.sections('neuron_discrete.eqs')), images.shape)")
    run = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    where, counts = run.stdout.split("\n")[:2]
    assert where.startswith(str(target)) and counts.endswith("(5000, 28, 28)")


# ---- the package's own imports, read from the source (nothing imported) -------------------------------------
PACKAGE = "brian_decolle"
#: folders of the package, by the name pyproject maps them to (figures/ installs as brian_decolle.figures)
PACKAGE_DIRS = {PACKAGE: ROOT / "brian_decolle", f"{PACKAGE}.figures": ROOT / "figures",
                f"{PACKAGE}.data": ROOT / "brian_decolle" / "data"}


def package_modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its __init__)."""
    modules = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.glob("*.py")):
            modules[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return modules


def _is_script_block(node) -> bool:
    """`if __name__ == "__main__":`, which runs only when the file is run as a script."""
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def _imports(tree, where="module"):
    """(node, where) for every import statement: 'module' when it runs on import, 'function' inside a
    function, 'script' under `if __name__ == "__main__"`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, where
        inner = "function" if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else \
            "script" if _is_script_block(node) else where
        yield from _imports(node, inner)


def import_edges() -> list[tuple[str, str, str]]:
    """(importer, imported, where) for every import of one package module by another. A package's own
    __init__, which Python runs before any of its modules, counts only where a name is imported from it."""
    modules = package_modules()
    edges = set()
    for name, path in modules.items():
        package = name if path.stem == "__init__" else name.rpartition(".")[0]
        for node, where in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parent = package.split(".")
                    parent = parent[:len(parent) - node.level + 1]
                    base = ".".join(parent + ([node.module] if node.module else []))
                # `from x import y`: the module y if there is one, else x (a package's names are in its __init__)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    edges.add((name, target, where))
    return sorted(edges)


def find_cycle(edges) -> list[str] | None:
    """One cycle of the directed graph, as the modules along it (first == last), or None."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_import_graph_reader_sees_relative_absolute_and_function_imports(tmp_path, monkeypatch):
    (tmp_path / "brian_decolle" / "data").mkdir(parents=True)
    (tmp_path / "figures").mkdir()
    for name, text in {"__init__.py": "from .a import A\n", "a.py": "from . import b\nA = 1\n",
                       "b.py": "def f():\n    from brian_decolle.a import A\n",
                       "c.py": "import brian_decolle.b\nif __name__ == '__main__':\n    from .a import A\n",
                       "data/__init__.py": "", "data/d.py": "from ..c import x\nfrom . import e\n",
                       "data/e.py": ""}.items():
        (tmp_path / "brian_decolle" / name).write_text(text)
    (tmp_path / "figures" / "__init__.py").write_text("from brian_decolle.data import d\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_DIRS", {
        PACKAGE: tmp_path / "brian_decolle", f"{PACKAGE}.figures": tmp_path / "figures",
        f"{PACKAGE}.data": tmp_path / "brian_decolle" / "data"})
    p = PACKAGE + "."
    assert import_edges() == sorted([
        (PACKAGE, p + "a", "module"), (p + "a", p + "b", "module"), (p + "b", p + "a", "function"),
        (p + "c", p + "b", "module"), (p + "c", p + "a", "script"), (p + "data.d", p + "c", "module"),
        (p + "data.d", p + "data.e", "module"), (p + "figures", p + "data.d", "module")])
    assert find_cycle([(a, b) for a, b, where in import_edges() if where == "module"]) is None
    assert find_cycle([(a, b) for a, b, _ in import_edges()]) == [p + "a", p + "b", p + "a"]


def _cycle_message(cycle, edges) -> str:
    kinds = {(a, b): where for a, b, where in edges}
    return " -> ".join(cycle) + ": " + ", ".join(f"{a} imports {b} ({kinds[a, b]})" for a, b in zip(cycle, cycle[1:]))


def test_no_import_cycle_among_the_package_modules():
    """No module imports, when it is imported, a module that imports it back (directly or not)."""
    edges = import_edges()
    assert len({a for a, _, _ in edges}) > 20   # the reader sees the package
    cycle = find_cycle([(a, b) for a, b, where in edges if where == "module"])
    assert cycle is None, _cycle_message(cycle, edges)


def test_no_import_inside_a_function_dodges_a_cycle():
    """An import inside a function is there to defer a heavy dependency (matplotlib, Dask, sympy), never to
    dodge a cycle: with those imports counted as module-level ones, the graph still has no cycle."""
    edges = import_edges()
    assert any(where == "function" for _, _, where in edges)   # the reader sees them
    cycle = find_cycle([(a, b) for a, b, where in edges if where != "script"])
    assert cycle is None, _cycle_message(cycle, edges)


def test_checks_imports_nothing_of_the_package():
    """brian_decolle.checks (ConfigError and the validators of single values) sits below every other module."""
    assert [b for a, b, _ in import_edges() if a == f"{PACKAGE}.checks"] == []
