"""The import graph, read statically from the source (every ``import``, lazy ones included):

* no cycle between modules;
* the packages form a chain ``firmware_bridge <- edge <- training <- convert``: a package imports
  only packages to its left (the device package never imports training or convert, and the
  wearable's bridge depends on no module of ``edge``);
* inside ``edge`` the rooms form layers, each importing only its own layer or lower ones::

      errors, aami  <-  dsp, io, eval  <-  model  <-  pipeline  <-  rhythm  <-  events
                    <-  sinks, store  <-  runtime  <-  dashboard  <-  cli

  (``edge/__init__.py`` re-exports a public API and is exempt).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("firmware_bridge", "edge", "training", "convert")  # the chain, left to right
EDGE_LAYERS = (("errors", "aami"), ("dsp", "io", "eval"), ("model",), ("pipeline",), ("rhythm",),
               ("events",), ("sinks", "store"), ("runtime",), ("dashboard",), ("cli",))


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the four packages."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a ``from pkg import name`` that names a
    submodule counts as importing that submodule)."""
    modules = module_files() if modules is None else modules
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = _resolve(name, path, node)
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                # importing a.b.c also imports a and a.b; the edge that matters is the deepest
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted.

    A package's ``__init__`` importing its own submodules is the package's public face, not a
    cycle: edges from a package to a module inside it are left out."""
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def package_violations(graph: dict[str, set[str]]) -> list[str]:
    rank = {p: i for i, p in enumerate(PACKAGES)}
    bad = []
    for src, targets in graph.items():
        for dst in targets:
            ps, pd = src.split(".")[0], dst.split(".")[0]
            if rank[pd] > rank[ps]:
                bad.append(f"{src} -> {dst}")
    return sorted(bad)


def _edge_layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "edge" or len(parts) == 1:
        return None
    for i, names in enumerate(EDGE_LAYERS):
        if parts[1] in names:
            return i
    raise AssertionError(f"{module}: edge/{parts[1]} is in no layer of EDGE_LAYERS; place it")


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, targets in graph.items():
        ls = _edge_layer(src)
        if ls is None:
            continue
        for dst in targets:
            ld = _edge_layer(dst)
            if ld is not None and ld > ls:
                bad.append(f"{src} -> {dst}")
    return sorted(bad)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_graph_sees_the_project(graph):
    assert len(graph) > 60
    assert "edge.dsp.rpeak" in graph["edge.dsp.detection"]
    assert "edge.model.classifier" in graph["edge.pipeline"]


def test_no_module_cycles(graph):
    assert find_cycles(graph) == []


def test_packages_form_a_chain(graph):
    assert package_violations(graph) == []


def test_edge_rooms_form_layers(graph):
    assert layer_violations(graph) == []


def test_the_checks_fail_on_what_they_forbid():
    cyc = {"edge.a": {"edge.b"}, "edge.b": {"edge.c"}, "edge.c": {"edge.a"}, "edge.d": set(),
           "edge.p": {"edge.p.x"}, "edge.p.x": {"edge.p"}}
    assert find_cycles(cyc) == [["edge.a", "edge.b", "edge.c"]]
    assert package_violations({"edge.x": {"training.data"}, "training.data": {"edge.x"}}) \
        == ["edge.x -> training.data"]
    assert package_violations({"firmware_bridge.replay": {"edge.io.records"}}) \
        == ["firmware_bridge.replay -> edge.io.records"]
    assert layer_violations({"edge.dsp.beats": {"edge.model.classifier"},
                             "edge.model.classifier": {"edge.dsp.beats"}}) \
        == ["edge.dsp.beats -> edge.model.classifier"]
    with pytest.raises(AssertionError, match="no layer"):
        layer_violations({"edge.newroom.x": set()})


def test_static_graph_reads_relative_and_lazy_imports(tmp_path):
    pkg = tmp_path / "edge"
    (pkg / "dsp").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "dsp" / "__init__.py").write_text("")
    (pkg / "dsp" / "a.py").write_text("from . import b\n")
    (pkg / "dsp" / "b.py").write_text("def f():\n    from edge.dsp.a import g\n")
    mods = {"edge": pkg / "__init__.py", "edge.dsp": pkg / "dsp" / "__init__.py",
            "edge.dsp.a": pkg / "dsp" / "a.py", "edge.dsp.b": pkg / "dsp" / "b.py"}
    g = import_graph(mods)
    assert g["edge.dsp.a"] == {"edge.dsp", "edge.dsp.b"}
    assert g["edge.dsp.b"] == {"edge.dsp.a"}
    assert find_cycles(g) == [["edge.dsp.a", "edge.dsp.b"]]
