"""The layers of docs/architecture.md, checked on the source: every module of lic_core
belongs to one layer of LAYERS (the drawing's, bottom to top) and imports only from its
own layer or those below; no import cycle inside lic_core; the NumPy-only bottom never
reaches torch or the layers above it; training code is imported only by training and
the CLI.

Static: every module under lic_core is
found with pkgutil without importing it, parsed with ast, and every import statement
anywhere in it (module level, inside functions, under ``if``/``try``) is resolved to the
lic_core modules it names (relative imports resolved against the module's package;
``from pkg import name`` names pkg.name when that is a module, else pkg). A function-level
import still runs when the function does, so it counts: a cycle through one is a cycle.
Importing one's own ancestor package is not an edge (Python initialises ancestors first).
One subprocess test checks the bottom at run time: importing the coder faces loads no torch.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = "lic_core"


def _module_files() -> dict[str, tuple[Path, bool]]:
    """name -> (source file, is_package) for every Python module of lic_core, unimported."""
    found: dict[str, tuple[Path, bool]] = {}

    def walk(name: str, folder: Path) -> None:
        found[name] = (folder / "__init__.py", True)
        for info in pkgutil.iter_modules([str(folder)]):
            child = f"{name}.{info.name}"
            if info.ispkg:
                walk(child, folder / info.name)
            elif (folder / f"{info.name}.py").is_file():  # compiled modules have no imports to read
                found[child] = (folder / f"{info.name}.py", False)

    spec = importlib.util.find_spec(ROOT)
    walk(ROOT, Path(spec.submodule_search_locations[0]))
    return found


MODULES = _module_files()


def _imports(name: str, path: Path, is_package: bool) -> tuple[set[str], set[str]]:
    """(lic_core modules ``name`` imports, top-level external packages it imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if is_package else name.rpartition(".")[0]
    internal: set[str] = set()
    external: set[str] = set()

    def add(target: str) -> None:
        # the deepest lic_core module that the dotted name denotes
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target:
            internal.add(target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                    add(alias.name)
                else:
                    external.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source == ROOT or source.startswith(ROOT + "."):
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    add(full if full in MODULES else source)
            else:
                external.add(source.split(".")[0])
    # An import of one's own package (``from lic_core import __version__`` in
    # lic_core.zoo.weights) is no edge: Python initialises every ancestor package before
    # the module itself, so it cannot close a cycle of module initialisation.
    internal = {t for t in internal if t != name and not name.startswith(t + ".")}
    return internal, external


GRAPH: dict[str, set[str]] = {}
EXTERNAL: dict[str, set[str]] = {}
for _name, (_path, _is_pkg) in MODULES.items():
    GRAPH[_name], EXTERNAL[_name] = _imports(_name, _path, _is_pkg)


def _reachable(start: str) -> set[str]:
    """Every lic_core module that importing ``start`` can run (transitively)."""
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += GRAPH.get(m, ())
    return seen


def _in(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_walk_finds_every_layer():
    for expected in ("lic_core.coding.coder", "lic_core.container", "lic_core.errors",
                     "lic_core.models.entropy_models", "lic_core.zoo.base", "lic_core.zoo.registry",
                     "lic_core.training", "lic_core.cli", "lic_core.api"):
        assert expected in MODULES, expected
    assert "lic_core.coding.coder" in GRAPH["lic_core.coder"]  # relative import resolved
    assert "torch" in EXTERNAL["lic_core.zoo.base"]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan): the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return cycles


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_there_is_no_import_cycle_inside_lic_core():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


#: The layers of docs/architecture.md ("Layers"), bottom to top: a module imports only
#: from its own layer or those below. The package itself (the facade) is above them all.
LAYERS = (
    # the NumPy-only bottom: never torch (test below)
    ("lic_core._build_info", "lic_core.errors", "lic_core.limits", "lic_core.files",
     "lic_core.container", "lic_core.coding", "lic_core.coder", "lic_core.tables", "lic_core.ans"),
    # images and data sets: NumPy and Pillow (images imports torch inside its tensor
    # conversions only)
    ("lic_core.images", "lic_core.datasets"),
    # torch enters here
    ("lic_core.models",),
    # the families and their weights, and the codec between .lic bytes and them: one
    # layer, because CompressionModel.compress/decompress are thin calls to the codec
    # (the codec never imports zoo.base, so there is no cycle)
    ("lic_core.zoo", "lic_core.codec"),
    # the public faces and the tools built on them
    ("lic_core.api", "lic_core.pillow_plugin", "lic_core.analysis", "lic_core.testing"),
    ("lic_core.training",),
    ("lic_core.cli", "lic_core.__main__"),
)


def _layer(name: str) -> int | None:
    if name == ROOT:
        return len(LAYERS)
    for i, prefixes in enumerate(LAYERS):
        if _in(name, *prefixes):
            return i
    return None


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in MODULES if _layer(m) is None)
    assert not unplaced, f"add these to LAYERS (and docs/architecture.md): {unplaced}"


def test_every_module_imports_only_from_its_layer_or_below():
    upward = sorted(f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
                    for m, targets in GRAPH.items() for t in targets
                    if _layer(m) is not None and _layer(t) is not None and _layer(t) > _layer(m))
    assert not upward, "; ".join(upward)


#: The NumPy-only bottom of the stack (docs/architecture.md, "Layers").
BOTTOM = sorted(m for m in MODULES if _layer(m) == 0)
ABOVE_THE_BOTTOM = tuple(p for layer in LAYERS[1:] for p in layer)


@pytest.mark.parametrize("module", BOTTOM)
def test_the_bottom_layer_never_reaches_torch_or_the_layers_above(module):
    # Transitively through every import the module itself makes. Its parent packages'
    # __init__ files are not followed: lic_core/__init__ is the facade whose functions
    # import the api on first use; that they load no torch is checked at run time below.
    reached = _reachable(module)
    above = sorted(m for m in reached if _in(m, *ABOVE_THE_BOTTOM))
    assert not above, f"{module} imports (through {sorted(reached)}) {above}"
    torch_users = sorted(m for m in reached if "torch" in EXTERNAL[m])
    assert not torch_users, f"{module} reaches torch through {torch_users}"


def test_only_training_and_the_cli_import_training():
    offenders = sorted(f"{m} imports {sorted(t for t in GRAPH[m] if _in(t, 'lic_core.training'))}"
                       for m in GRAPH
                       if not _in(m, "lic_core.training", "lic_core.cli")
                       and any(_in(t, "lic_core.training") for t in GRAPH[m]))
    assert not offenders, "; ".join(offenders)


def test_importing_the_coder_faces_loads_no_torch():
    program = ("import sys\n"
               "import lic_core.coder, lic_core.tables, lic_core.ans, lic_core.container\n"
               "import lic_core.coding.coder, lic_core.coding.tables, lic_core.coding.ans\n"
               "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
               "assert not loaded, loaded\n")
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("face", ["coder", "tables", "ans"])
def test_the_public_coder_paths_are_the_coding_modules_themselves(face):
    # lic_core's docstring (and lic_core/coder.py etc.) promise the very same module
    # objects: two copies would disagree on attributes, isinstance checks and patches.
    import importlib
    import lic_core
    public = importlib.import_module(f"lic_core.{face}")
    coding = importlib.import_module(f"lic_core.coding.{face}")
    assert public is coding
    assert getattr(lic_core, face) is coding  # `from lic_core import coder` too
    assert coding.__name__ == f"lic_core.coding.{face}"
