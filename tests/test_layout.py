"""The tree shows the design: imports point one way (networks <- training <- lab services <- pages),
no module of ours imports itself back through another, modules stay short and pages thin."""
import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import from a lower layer, or from inside its own entry (its own
# package); never from a higher layer, nor from another entry of its own layer.
LAYERS = [
    ["mnistcore.paths", "mnistcore.files", "mnistcore.i18n"],  # where files live; writing them safely; the words
    # MNIST; a drawing made MNIST-like; distortions; drawing as the canvas draws; the sheet of paper in a photo
    ["mnistcore.data", "mnistcore.preprocess", "mnistcore.augment", "mnistcore.pen", "mnistcore.paper"],
    # what the browser sends: a drawing, a photo of paper; what visitors draw that is not a digit
    ["mnistcore.canvas", "mnistcore.photo", "mnistcore.nondigits"],
    ["mnistcore.nets"],                              # the model interface, file format, engines, registry of networks
    # how well a model does; the tutorial's entry point; a model's companion that knows what is not a digit
    ["mnistcore.evaluation", "mnistcore.tutorial", "mnistcore.openset"],
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


def test_the_library_never_imports_streamlit_and_only_the_registry_names_both_engines():
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
            assert name == "mnistcore.nets.registry", f"{name} names both engines; only mnistcore.nets.registry may"


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The checks above would fail on a network importing the lab (so they can fail at all)."""
    path = tmp_path / "numpy_net.py"
    path.write_text("from ..lab.store import ModelStore\nimport mnistcore.training\n")
    modules = {**our_modules(), "mnistcore.nets.numpy_net": path}
    found = imports("mnistcore.nets.numpy_net", path, modules)
    assert found == {"mnistcore.lab.store", "mnistcore.training"}
    assert all(ENTRY[entry_of(t)] > ENTRY[entry_of("mnistcore.nets.numpy_net")] for t in found)


# Which network is which is the registry's business (and each engine's own): elsewhere, code asks
# the registry's entry instead of comparing an engine or architecture with a name.
NETWORK_NAMES = ("engine", "arch")
MAY_NAME_NETWORKS = {"mnistcore.nets.registry", "mnistcore.nets.numpy_net", "mnistcore.nets.numpy_cnn",
                     "mnistcore.nets.keras_net", "mnistcore.nets.saved"}


def network_branches(path: Path) -> list[str]:
    """Comparisons of something named engine or arch (a name, an attribute, a key) with a string, as "line: code"."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def named(node) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            return bool(node.args) and key(node.args[0])  # settings.get("arch")
        if isinstance(node, ast.Subscript):
            return key(node.slice)                         # settings["arch"]
        return (isinstance(node, ast.Name) and node.id in NETWORK_NAMES) or \
            (isinstance(node, ast.Attribute) and node.attr in NETWORK_NAMES)

    def key(node) -> bool:
        return isinstance(node, ast.Constant) and node.value in NETWORK_NAMES

    def strings(node) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(strings(item) for item in node.elts)
        return False

    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if any(named(side) for side in sides) and any(strings(side) for side in sides):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_engine_or_arch_branches_outside_the_registry_and_engines():
    wrong = [f"{name}:{branch}" for name, path in our_modules().items() if name not in MAY_NAME_NETWORKS
             for branch in network_branches(path)]
    assert not wrong, "ask mnistcore.nets.registry instead of comparing engine or arch names:\n" + "\n".join(wrong)


def test_the_checker_sees_an_engine_branch(tmp_path):
    """The check above would fail on a module that branches on an engine or architecture name."""
    path = tmp_path / "planted.py"
    path.write_text("def f(settings, info, engine, x):\n"
                    "    if settings.engine == 'numpy':\n"
                    "        return info.arch != \"cnn\"\n"
                    "    if x.engine in ('numpy', 'keras') or 'mlp' == arch:\n"
                    "        return engine not in ['keras']\n"
                    "    if info.settings.get('arch') == 'cnn' or info.settings['engine'] != 'keras':\n"
                    "        return 1\n"
                    "    return settings.engine == other or settings.epochs == 'mlp' or info.get('hidden') == 'x'\n")
    assert [line.split(":")[0] for line in network_branches(path)] == ["2", "3", "4", "4", "5", "6", "6"]


MAX_MODULE_LINES = 450   # a module a reader can hold in one sitting
MAX_PAGE_IMPORTS = 6     # a page is a script over a few library calls


def too_long(modules: dict[str, Path], limit: int = MAX_MODULE_LINES) -> list[str]:
    """Modules of mnistcore/, ui/ and pages/ longer than `limit` lines."""
    return [f"{name}: {lines} lines" for name, path in modules.items()
            if name.startswith(("mnistcore", "ui", "pages"))
            and (lines := len(path.read_text(encoding="utf-8").splitlines())) > limit]


def heavy_pages(modules: dict[str, Path], limit: int = MAX_PAGE_IMPORTS) -> list[str]:
    """Pages that import more than `limit` modules of ours."""
    return [f"{name} imports {len(found)}: {', '.join(sorted(found))}" for name, path in modules.items()
            if name.startswith("pages.") and len(found := imports(name, path, modules)) > limit]


def test_modules_are_short_and_pages_thin():
    modules = our_modules()
    assert not too_long(modules), "modules over the limit:\n" + "\n".join(too_long(modules))
    assert not heavy_pages(modules), "pages importing too much:\n" + "\n".join(heavy_pages(modules))


def test_the_size_checks_see_a_long_module_and_a_heavy_page(tmp_path):
    long_module = tmp_path / "long.py"
    long_module.write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    page = tmp_path / "page.py"
    page.write_text("".join(f"import mnistcore.m{i}\n" for i in range(MAX_PAGE_IMPORTS + 1)))
    modules = {"mnistcore.long": long_module, "pages.page": page,
               **{f"mnistcore.m{i}": long_module for i in range(MAX_PAGE_IMPORTS + 1)}}
    assert too_long(modules) and heavy_pages(modules)
