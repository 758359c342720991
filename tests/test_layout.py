"""The tree shows the design: imports point one way (networks <- training <- lab services <- pages),
and no module of ours imports itself back through another."""
import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import from a lower layer, or from inside its own entry (its own
# package); never from a higher layer, nor from another entry of its own layer.
LAYERS = [
    ["mnistcore.paths", "mnistcore.files"],          # where files live; writing them safely
    ["mnistcore.data", "mnistcore.preprocess", "mnistcore.augment"],  # MNIST; a drawing made MNIST-like; distortions
    ["mnistcore.canvas", "mnistcore.photo"],         # what the browser sends: a drawing, a photo of paper
    ["mnistcore.nets"],                              # the model interface, file format, both engines
    ["mnistcore.evaluation", "mnistcore.tutorial"],  # how well a model does; the tutorial's entry point
    ["mnistcore.training"],                          # settings, limits, estimates, one run
    ["mnistcore.explain"],                           # what the pages show of a model: answers, insides
    ["mnistcore.lab"],                               # what exists because the site is shared
    ["mnistcore.cli"],                               # the command line...
    ["mnistcore.__main__"],                          # ...as python -m mnistcore
    ["ui"],                                          # what the pages share
    ["pages", "streamlit_app"],                      # the site
]
ENTRY = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def our_modules() -> dict[str, Path]:
    """Every module of ours, by dotted name (packages by their own name, e.g. mnistcore.nets)."""
    files = [PROJECT / "streamlit_app.py"]
    for top in ("mnistcore", "ui", "pages"):
        files += sorted((PROJECT / top).rglob("*.py"))
    modules = {}
    for path in files:
        parts = list(path.relative_to(PROJECT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ours that `name` imports anywhere in its file (lazy imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod itself.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in modules and target != name}
    return found


def entry_of(name: str) -> str:
    """The LAYERS entry a module belongs to: the longest entry that is it or a package holding it."""
    matches = [entry for entry in ENTRY if name == entry or name.startswith(entry + ".")]
    assert matches, f"{name} is in no layer: add it to LAYERS in tests/test_layout.py"
    return max(matches, key=len)


def test_every_import_points_down_the_layers():
    modules = our_modules()
    wrong = []
    for name, path in modules.items():
        if name == "mnistcore":
            continue  # the package itself imports nothing
        mine = entry_of(name)
        for target in imports(name, path, modules):
            if target == "mnistcore":
                continue
            theirs = entry_of(target)
            if theirs != mine and ENTRY[theirs] >= ENTRY[mine]:
                wrong.append(f"{name} imports {target} ({theirs} is not below {mine})")
    assert not wrong, "imports pointing the wrong way:\n" + "\n".join(wrong)


def test_no_import_cycles():
    modules = our_modules()
    graph = {name: imports(name, path, modules) for name, path in modules.items()}
    cycles = []

    def visit(name, trail):
        if name in trail:
            cycles.append(" -> ".join(trail[trail.index(name):] + [name]))
            return
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, trail + [name])
        done.add(name)

    done = set()
    for name in graph:
        visit(name, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_library_never_imports_streamlit_and_only_nets_names_both_engines():
    modules = our_modules()
    for name, path in modules.items():
        if not name.startswith("mnistcore"):
            continue
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(m == "streamlit" or m.startswith("streamlit.") for m in imported), name
        engines = {m for m in imports(name, path, modules)
                   if m in ("mnistcore.nets.numpy_net", "mnistcore.nets.keras_net")}
        if len(engines) == 2:
            assert name == "mnistcore.nets", f"{name} names both engines; only mnistcore.nets may"


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The checks above would fail on a network importing the lab (so they can fail at all)."""
    path = tmp_path / "numpy_net.py"
    path.write_text("from ..lab.store import ModelStore\nimport mnistcore.training\n")
    modules = {**our_modules(), "mnistcore.nets.numpy_net": path}
    found = imports("mnistcore.nets.numpy_net", path, modules)
    assert found == {"mnistcore.lab.store", "mnistcore.training"}
    assert all(ENTRY[entry_of(t)] > ENTRY[entry_of("mnistcore.nets.numpy_net")] for t in found)
