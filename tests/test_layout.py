"""Package layout (issue 21): no import circles in policysearch/ and envs/, every density module
imports on its own (the base type apart from the registry), and every script path named in the
docs and code exists (speed / ratio scripts in benchmarks/, listed in its README; experiments in
experiments/).

The circle check is an AST scan of module-level imports (function bodies are lazy and skipped;
``if TYPE_CHECKING:`` blocks never run). An import of ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``
unless one of them is a package the importer is already inside (its ``__init__`` is running).
"""

from __future__ import annotations

import ast
import glob
import json
import os
import re
import subprocess
import sys

from helpers import ROOT

PACKAGES = ("policysearch", "envs")


def _modules() -> dict[str, str]:
    """Dotted name -> path of every module of PACKAGES (a package is its ``__init__``)."""
    out = {}
    for top in PACKAGES:
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [x for x in dirs if x != "__pycache__"]
            rel = os.path.relpath(d, ROOT).replace(os.sep, ".")
            for f in files:
                if f.endswith(".py"):
                    out[rel if f == "__init__.py" else f"{rel}.{f[:-3]}"] = os.path.join(d, f)
    return out


def _imports(tree: ast.Module, lazy: bool = False):
    """Import statements that run when the module is imported (not inside def / lambda), or with
    ``lazy`` every import statement (a function-level import only hides a circle)."""
    if lazy:
        yield from (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
        return
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt))


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        is_pkg = path.endswith("__init__.py")
        package = name if is_pkg else name.rpartition(".")[0]
        inside = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        targets = set()
        for node in _imports(tree, lazy):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for full in names:
                parts = full.split(".")
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    if prefix in mods and prefix not in inside:
                        targets.add(prefix)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_scan_sees_circles_and_lazy_imports():
    g = import_graph()
    assert {"policysearch.density.base", "policysearch.density.benchmarks",
            "policysearch.density.logreg", "policysearch.density.motion_planning"} <= g["policysearch.density.targets"]
    assert "policysearch.density.base" in g["policysearch.density.logreg"]
    assert "policysearch.density" not in g["policysearch.density.logreg"]  # its own package is running
    assert "policysearch.report" in g["policysearch.btgm.report"]  # another package's __init__ runs
    # policysearch.sample imports the density package inside its functions only
    assert not any(m.startswith("policysearch.density") for m in g["policysearch.sample"])
    assert "policysearch.density.targets" in import_graph(lazy=True)["policysearch.sample"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_a_module_that_imports_it_back():
    assert _cycles(import_graph()) == []
    # in the density package not even through a function-level import (the registry used to
    # import the targets lazily because they imported the base type from the registry's module)
    lazy = import_graph(lazy=True)
    density = {k: {m for m in v if m.startswith("policysearch.density")} for k, v in lazy.items()
               if k.startswith("policysearch.density")}
    assert _cycles(density) == []


ISOLATED = r"""
import importlib, json, pkgutil, sys, types
import policysearch, jax  # noqa: F401 - the parent package and the heavy dependencies stay loaded

PKG = "policysearch.density"
path = [__import__("os").path.join(policysearch.__path__[0], "density")]
names = sorted(m.name for m in pkgutil.iter_modules(path))
loaded = {}
for name in names:
    for m in [m for m in sys.modules if m == PKG or m.startswith(PKG + ".")]:
        del sys.modules[m]
    stub = types.ModuleType(PKG)  # the package without its __init__: only what the module imports runs
    stub.__path__, stub.__package__ = path, PKG
    sys.modules[PKG] = stub
    importlib.import_module(f"{PKG}.{name}")
    loaded[name] = sorted(m[len(PKG) + 1:] for m in sys.modules if m.startswith(PKG + "."))
for m in [m for m in sys.modules if m == PKG or m.startswith(PKG + ".")]:
    del sys.modules[m]
import policysearch.density as d  # and the real package, __init__ included
assert d.targets.Target is d.base.Target is d.Target
print(json.dumps(loaded))
"""


def test_every_density_module_imports_on_its_own_and_the_base_type_needs_no_target():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    r = subprocess.run([sys.executable, "-c", ISOLATED], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    loaded = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"base", "targets", "logreg", "motion_planning", "benchmarks", "ground_truth"} <= set(loaded)
    assert loaded["base"] == ["base"]
    for target in ("logreg", "motion_planning", "benchmarks"):  # a target needs only the base type
        assert loaded[target] == sorted(["base", target]), (target, loaded[target])
    assert {"base", "benchmarks", "logreg", "motion_planning"} < set(loaded["targets"])  # the registry


def test_every_script_path_in_the_docs_and_code_exists_and_every_benchmark_is_listed():
    """Speed / ratio scripts in benchmarks/, experiments in experiments/ (README, "Tests and
    benchmarks"): a moved script must leave no stale command behind."""
    pattern = re.compile(r"(?<![\w/.])((?:benchmarks|experiments)/[\w/]+\.py)")
    files = ["README.md", "RESULTS.md"] + [
        f for g in ("docs/*.md", "benchmarks/*.md", "experiments/**/*.md", "configs/**/*.yaml",
                    "policysearch/**/*.py", "envs/**/*.py", "experiments/**/*.py", "benchmarks/*.py", "tests/*.py")
        for f in glob.glob(os.path.join(ROOT, g), recursive=True)]
    seen, stale = set(), []
    for f in files:
        with open(os.path.join(ROOT, f)) as fh:
            for m in pattern.finditer(fh.read()):
                seen.add(m.group(1))
                if not os.path.exists(os.path.join(ROOT, m.group(1))):
                    stale.append((os.path.relpath(os.path.join(ROOT, f), ROOT), m.group(1)))
    assert stale == []
    assert {"benchmarks/strategy_speed.py", "experiments/gennes_bo.py"} <= seen  # the scan finds commands
    assert not os.path.exists(os.path.join(ROOT, "experiments", "benchmarks"))
    with open(os.path.join(ROOT, "benchmarks", "README.md")) as fh:
        listed = fh.read()
    scripts = [os.path.basename(f) for f in glob.glob(os.path.join(ROOT, "benchmarks", "*.py"))]
    assert [f for f in scripts if f != "__init__.py" and f"`{f}`" not in listed] == []
