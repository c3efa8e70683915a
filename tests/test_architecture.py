"""The layout shows the architecture: no import cycle, imports follow the layers, no dead public name.

Every module under builder/ is parsed (never imported); every import counts, at module level,
inside functions and under ``if TYPE_CHECKING:``, relative ones too. ``from builder.x import y``
is an import of the module builder.x.y when y is one, else of builder.x. Importing a module
does not count as importing its parent packages: their ``__init__`` runs, but the dependency
the code states is on the module it names.

Layers (``LAYERS``: what each folder, or module set apart, may import besides itself; the
modules of a folder may import one another, a module with a row of its own only what it names):

- ``builder.config.names`` checks strings and imports nothing of builder; ``builder.errors``
  builds its messages with its ``printable`` (values from files may hold control characters)
  and with ``plumbing.redact``, and nothing else: every module can import the errors.
- plumbing (HTTP, files, credentials, progress, AWS clients) knows nothing of the domain: it
  imports only the errors and ``builder.config.names`` (the shapes a URL or a file name from an
  upstream's answer must have, checked where the answer is read).
- config reads the project: plumbing and errors only, except ``builder.config.project``, the
  one place the plugin registries (``builder.sources``, ``builder.kinds``) are handed to
  catalogue loading.
- the lockfile's model is the vocabulary of the plugins: evidence records
  (``builder.locking.evidence``, config only), the install kinds that own each payload
  (``builder.kinds``, evidence only) and the entries (``builder.locking.lockfile``, which reads
  each payload through its kind); ``builder.locking.checksums`` checks bytes against it
  (``builder.locking.openpgp``, the checksum files' signatures, needs nothing of it).
- sources, stores and kinds are plugins, above config and the lockfile's model; a source may
  check signatures and put what it verified in a store. ``builder.stores.sync`` keeps a store in
  step with the lockfile through ``builder.building.fetch``: the one store module that is a stage.
- ``builder.signatures`` (the Sigstore verifiers) makes evidence records from config's
  requirements; sources call it at lock time, the CLI's ``verify-artifact`` directly.
- locking (the resolver), auditing, building and updating are stages; a later stage may use an earlier one.
- ``builder.runtime`` wires the clients of a run; only the fronts import it: the CLI, the
  Lambda handler and ``builder/__init__`` (the public API, which imports no CLI).
- cli is the top: nothing imports it but ``builder/__main__``.

A public name (a top-level function, class or assignment not starting with ``_``) must be
used by another module of builder/ or by scripts/, or be listed in its module's ``__all__``
(``builder.__all__`` is the public API), or be an entry point: a click command, a string
``"module:Name"`` in a module (a plugin registry), ``[project.scripts]`` or a name terraform
deploys (``builder.updating.lambda_handler.handler``), or come with such a name: a type in its
signature or fields, an error it raises. A test counts only for a name its own module uses too
(a limit a test compares with instead of repeating it): a name that only tests use is dead.
"""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "builder"
PYTHON_SCRIPTS = ("scripts/seed-lockfile", "scripts/scan")
# The benchmarks use builder's library as a user would: their names are not dead, and must exist.
BENCHMARKS = tuple(sorted(str(p.relative_to(REPO)) for p in (REPO / "benchmarks").glob("*.py")))

CORE = ("builder.config", "builder.plumbing", "builder.errors")
EVIDENCE = (*CORE, "builder.locking.evidence")
# The lockfile's values (evidence records, the kinds' payloads, the entries) are every plugin's vocabulary.
MODEL = (*EVIDENCE, "builder.kinds", "builder.locking.lockfile")
PLUGINS = ("builder.sources", "builder.stores", "builder.kinds", "builder.signatures")
STAGES = ("builder.locking", "builder.auditing", "builder.building", "builder.updating", "builder.attesting")

# What each layer may import besides itself: keys and values are module names or the folders
# holding them, and a module's layer is the longest key it falls under.
LAYERS: dict[str, tuple[str, ...]] = {
    "builder.config.names": (),
    "builder.errors": ("builder.config.names", "builder.plumbing.redact"),
    "builder.plumbing": ("builder.errors", "builder.config.names"),
    "builder.config": ("builder.plumbing", "builder.errors"),
    "builder.config.project": (*CORE, "builder.sources", "builder.kinds"),
    "builder.locking.evidence": CORE,
    "builder.kinds": EVIDENCE,
    "builder.locking.lockfile": (*EVIDENCE, "builder.kinds"),
    "builder.locking.openpgp": CORE,
    "builder.locking.checksums": (*MODEL, "builder.stores.base", "builder.sources.base"),
    "builder.stores": MODEL,
    "builder.stores.sync": (*MODEL, "builder.stores", "builder.building.fetch"),
    "builder.signatures": EVIDENCE,
    "builder.sources": (
        *MODEL,
        "builder.locking.openpgp",
        "builder.locking.checksums",
        "builder.stores",
        "builder.kinds",
        "builder.signatures",
    ),
    "builder.locking": (*CORE, *PLUGINS),
    "builder.auditing": (*CORE, *PLUGINS, "builder.locking"),
    # The SBOM and DSSE are made from the lockfile's model alone (a build bakes the SBOM in);
    # reading a built image and the provenance of a build sit above building.
    "builder.attesting": MODEL,
    "builder.attesting.image_files": (*CORE, "builder.building.engine"),
    "builder.attesting.provenance": (
        *CORE,
        *PLUGINS,
        "builder.locking",
        "builder.building",
        "builder.attesting",
    ),
    "builder.building": (*CORE, *PLUGINS, "builder.locking", "builder.attesting"),
    "builder.updating": (*CORE, *PLUGINS, "builder.locking", "builder.auditing", "builder.building"),
    "builder.updating.lambda_handler": (*CORE, *PLUGINS, *STAGES, "builder.runtime"),
    "builder.runtime": (*CORE, *PLUGINS, *STAGES),
    "builder": (*CORE, *PLUGINS, *STAGES, "builder.runtime"),
    "builder.cli": (*CORE, *PLUGINS, *STAGES, "builder.runtime", "builder"),
    "builder.__main__": ("builder.cli",),
}


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: dict[str, int] = field(default_factory=dict)  # module imported -> first line

    @property
    def package(self) -> str:
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        found[name] = Module(name, path, _parse(path))
    for module in found.values():
        for target, line in sorted(_imports(module.tree, module.package, set(found)), key=lambda i: i[1]):
            if target != module.name:
                module.imports.setdefault(target, line)
    return found


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(tree: ast.AST, package: str, modules: set[str]) -> Iterator[tuple[str, int]]:
    """Every builder module ``tree`` imports, with the line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "builder":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, package)
            if source.split(".")[0] != "builder":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                yield (sub if sub in modules else source), node.lineno


# --- (a) cycles ---------------------------------------------------------------------------


def _shortest_cycle(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """The shortest path start -> ... -> start, breadth first."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, ())):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if target not in parents:
                    parents[target] = node
                    following.append(target)
        frontier = following
    return None


def _rotated(cycle: list[str]) -> tuple[str, ...]:
    ring = cycle[:-1]
    first = ring.index(min(ring))
    return tuple(ring[first:] + ring[:first])


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    """One chain per cycle found through each module (the shortest), each once."""
    seen: dict[tuple[str, ...], list[str]] = {}
    for start in sorted(graph):
        cycle = _shortest_cycle(start, graph)
        if cycle:
            seen.setdefault(_rotated(cycle), cycle)
    return sorted(" -> ".join([*ring, ring[0]]) for ring in seen)


def test_no_import_cycle() -> None:
    modules = _modules()
    cycles = find_cycles({name: set(m.imports) for name, m in modules.items()})
    assert not cycles, "import cycles among builder's modules:\n  " + "\n  ".join(cycles)


def test_cycles_are_reported_as_chains() -> None:
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert find_cycles(graph) == ["a -> b -> a", "a -> b -> c -> a", "d -> d"]


def test_imports_are_resolved_to_modules() -> None:
    tree = ast.parse(
        "from builder.x import y, z\nfrom . import w\nfrom ..q import r\n"
        "def f():\n    import builder.v\nif TYPE_CHECKING:\n    from builder import u\n"
    )
    known = {"builder.x.y", "builder.p.w", "builder.u"}
    found = sorted({name for name, _ in _imports(tree, "builder.p", known)})
    assert found == ["builder.p.w", "builder.q", "builder.u", "builder.v", "builder.x", "builder.x.y"]


# --- (b) layers ---------------------------------------------------------------------------


def _under(name: str, key: str) -> bool:
    """``name`` is the module ``key`` or in its folder (``builder`` is only the package itself)."""
    return name == key or (key != "builder" and name.startswith(key + "."))


def layer(name: str) -> str:
    return max((key for key in LAYERS if _under(name, key)), key=len)


def _allowed(importer: str, imported: str) -> bool:
    mine = layer(importer)
    return any(_under(imported, key) for key in (mine, *LAYERS[mine]))


def test_imports_follow_the_layers() -> None:
    wrong = [
        f"{m.path.relative_to(REPO)}:{line}: {m.name} ({layer(m.name)}) imports {target}"
        for m in _modules().values()
        for target, line in sorted(m.imports.items(), key=lambda item: item[1])
        if not _allowed(m.name, target)
    ]
    assert not wrong, "imports across layers that LAYERS does not allow:\n  " + "\n  ".join(wrong)


def test_every_module_has_a_layer() -> None:
    assert all(layer(name) for name in _modules())
    assert layer("builder.config.project") == "builder.config.project"
    assert layer("builder.config.catalogue") == "builder.config"
    assert not _allowed("builder.config.catalogue", "builder.sources")
    assert _allowed("builder.config.project", "builder.sources.base")
    assert _allowed("builder.cli.main", "builder")
    assert not _allowed("builder", "builder.cli.commands")
    assert not _allowed("builder.building.render", "builder.runtime")


# --- (c) dead public names ----------------------------------------------------------------


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and not _is_type_checking(node):
            yield from _top_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body + node.orelse + node.finalbody)
        else:
            yield node


def defined_names(tree: ast.Module, private: bool = False) -> dict[str, ast.stmt]:
    """The public (or the private) names a module defines at top level, not those it imports."""
    found: dict[str, ast.stmt] = {}
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        else:
            continue
        # ``TYPE_CHECKING = False`` is typing's flag without importing typing, not a name to use
        found.update(
            {name: node for name in names if name.startswith("_") == private and name != "TYPE_CHECKING"}
        )
    return {name: node for name, node in found.items() if not (name.startswith("__") and name.endswith("__"))}


def _all(tree: ast.Module) -> set[str]:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return {elt.value for elt in ast.walk(node.value) if isinstance(elt, ast.Constant)}
    return set()


def _is_command(node: ast.stmt) -> bool:
    """A click command or group: called by name from the command line."""
    if not isinstance(node, ast.FunctionDef):
        return False
    calls = [d.func for d in node.decorator_list if isinstance(d, ast.Call)]
    return any(ast.unparse(f).rpartition(".")[2] in ("command", "_command", "group") for f in calls)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _bindings(tree: ast.AST, package: str, modules: set[str]) -> dict[str, str]:
    """Local name -> builder module, for every module ``tree`` binds to a name."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    bound[alias.asname or alias.name] = alias.name
                if alias.asname is None and alias.name.startswith("builder."):
                    bound["builder"] = "builder"
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, package)
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    bound[alias.asname or alias.name] = f"{source}.{alias.name}"
    return bound


def uses(tree: ast.AST, package: str, modules: set[str]) -> Iterator[tuple[str, str]]:
    """(module, name) for every name of a builder module that ``tree`` refers to."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, package)
            if source in modules:
                yield from ((source, a.name) for a in node.names if f"{source}.{a.name}" not in modules)
    bound = _bindings(tree, package, modules)
    for node in ast.walk(tree):
        dotted = _dotted(node) if isinstance(node, ast.Attribute) else None
        if dotted:
            head, _, rest = dotted.partition(".")
            path = [bound[head], *rest.split(".")] if head in bound else []
            for cut in range(1, len(path)):
                module = ".".join(path[:cut])
                if module in modules and ".".join(path[: cut + 1]) not in modules:
                    yield module, path[cut]
                    break


ENTRY_POINT = re.compile(r"^(builder(?:\.\w+)+|\w+)[.:](\w+)$")


def _named_entry_points(modules: dict[str, Module]) -> Iterator[tuple[str, str]]:
    """Names given as strings: "module:Class" in a registry, the console script, terraform's handler."""
    names = set(modules)
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = ENTRY_POINT.match(node.value)
                if match and ":" in node.value:
                    where = match[1] if match[1] in names else f"{module.package}.{match[1]}"
                    if where in names:
                        yield where, match[2]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    for target in scripts.values():
        where, _, name = target.partition(":")
        yield where, name
    for path in (REPO / "terraform").rglob("*.tf"):
        for dotted in re.findall(r"\bbuilder(?:\.\w+)+", path.read_text()):
            where, _, name = dotted.rpartition(".")
            if where in names:
                yield where, name


def _interface(node: ast.stmt) -> Iterator[str]:
    """The names that come with a definition: those in its annotations (a function's parameters
    and result, a class's fields and methods), the errors it raises, a type alias's value."""
    if isinstance(node, ast.Assign):
        yield from (n.id for n in ast.walk(node.value) if isinstance(n, ast.Name))
        return
    for inner in ast.walk(node):
        found: list[ast.expr | None] = []
        if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = inner.args.posonlyargs + inner.args.args + inner.args.kwonlyargs
            found = [a.annotation for a in arguments] + [inner.returns]
            found += [a.annotation for a in (inner.args.vararg, inner.args.kwarg) if a]
        elif isinstance(inner, ast.AnnAssign):
            found = [inner.annotation]
        elif isinstance(inner, ast.Raise):
            found = [inner.exc.func if isinstance(inner.exc, ast.Call) else inner.exc]
        for annotation in filter(None, found):
            for name in ast.walk(annotation):
                if isinstance(name, ast.Name):
                    yield name.id
                elif isinstance(name, ast.Constant) and isinstance(name.value, str):  # "Quoted"
                    yield from re.findall(r"\w+", name.value)


def _offered(module: Module, used: set[str]) -> set[str]:
    """``used`` and, transitively, the names of this module that come with those."""
    defined = defined_names(module.tree)
    offered = {name for name in used if name in defined}
    todo = list(offered)
    while todo:
        for name in _interface(defined[todo.pop()]):
            if name in defined and name not in offered:
                offered.add(name)
                todo.append(name)
    return offered


def _used(modules: dict[str, Module]) -> set[tuple[str, str]]:
    """(module, name) for every name another module, a script or an entry point refers to."""
    names = set(modules)
    used: set[tuple[str, str]] = set(_named_entry_points(modules))
    for module in modules.values():
        used.update((m, n) for m, n in uses(module.tree, module.package, names) if m != module.name)
    for script in PYTHON_SCRIPTS + BENCHMARKS:
        used.update(uses(_parse(REPO / script), "", names))
    used.update(_tested(modules))
    return used


def _tested(modules: dict[str, Module]) -> set[tuple[str, str]]:
    """Names a test imports that their own module also uses: a limit or header a test compares
    with instead of repeating its value. A name only tests use is still dead code."""
    names = set(modules)
    found: set[tuple[str, str]] = set()
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name != "test_architecture.py":
            found.update(uses(_parse(path), "", names))
    return {(m, n) for m, n in found if n in _loaded_names(modules[m].tree)}


def _loaded_names(tree: ast.Module) -> set[str]:
    return {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


def dead_names(modules: dict[str, Module]) -> list[str]:
    used = _used(modules)
    dead = []
    for module in modules.values():
        defined = defined_names(module.tree)
        entry = {n for n, node in defined.items() if _is_command(node)} | _all(module.tree)
        alive = _offered(module, entry | {n for m, n in used if m == module.name})
        dead += [
            f"{module.path.relative_to(REPO)}:{node.lineno}: {module.name}.{name}"
            for name, node in defined.items()
            if name not in alive
        ]
    return dead


def unused_private_names(modules: dict[str, Module]) -> list[str]:
    """Private top-level names nothing refers to: code used by nobody."""
    unused, used = [], _used(modules)
    for module in modules.values():
        loaded = {n for m, n in used if m == module.name}
        loaded |= {
            n.id for n in ast.walk(module.tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        unused += [
            f"{module.path.relative_to(REPO)}:{node.lineno}: {module.name}.{name}"
            for name, node in defined_names(module.tree, private=True).items()
            if name not in loaded
        ]
    return unused


def test_no_private_name_is_unused() -> None:
    unused = unused_private_names(_modules())
    assert not unused, "private names nothing refers to (delete them):\n  " + "\n  ".join(unused)


def test_every_public_name_is_used_elsewhere() -> None:
    dead = dead_names(_modules())
    assert not dead, (
        f"{len(dead)} public names used by no other module (make them _private, delete them, or "
        "list them in __all__):\n  " + "\n  ".join(dead)
    )


def test_uses_are_found_through_every_spelling() -> None:
    tree = ast.parse(
        "import builder.a.b\nfrom builder.a import b as bee\nfrom builder.a.b import one\n"
        "from builder.a import c\nbuilder.a.b.two()\nbee.three\nc.four.five\n"
    )
    found = set(uses(tree, "", {"builder", "builder.a", "builder.a.b", "builder.a.c"}))
    assert found == {("builder.a.b", n) for n in ("one", "two", "three")} | {("builder.a.c", "four")}


def _fake(name: str, source: str) -> Module:
    return Module(name, REPO / (name.replace(".", "/") + ".py"), ast.parse(source))


def test_dead_and_unused_names_are_found() -> None:
    modules = {
        "builder.a": _fake(
            "builder.a",
            "class Kind: ...\nclass Failed(Exception): ...\nclass Lonely: ...\nLIMIT = 3\n_SPARE = 1\n"
            "def used(kind: Kind) -> None:\n    raise Failed(LIMIT)\n"
            "def unused() -> None: ...\ndef _helper() -> None: ...\n",
        ),
        "builder.b": _fake("builder.b", "from builder.a import used\nimport builder.a\nbuilder.a.LIMIT\n"),
        "builder.c": _fake("builder.c", "__all__ = ['kept']\ndef kept() -> None: ...\n"),
    }
    assert [line.rpartition(" ")[2] for line in dead_names(modules)] == [
        "builder.a.Lonely",
        "builder.a.unused",
    ]
    assert [line.rpartition(" ")[2] for line in unused_private_names(modules)] == [
        "builder.a._SPARE",
        "builder.a._helper",
    ]


@pytest.mark.parametrize("script", PYTHON_SCRIPTS + BENCHMARKS)
def test_scripts_and_benchmarks_import_names_that_exist(script: str) -> None:
    """A rename in builder/ must not leave a benchmark or script importing a name that is gone."""
    missing = []
    for node in ast.walk(_parse(REPO / script)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("builder"):
            module = importlib.import_module(node.module or "")
            missing += [
                f"{node.module}.{a.name} (line {node.lineno})"
                for a in node.names
                if not hasattr(module, a.name) and not _submodule(f"{node.module}.{a.name}")
            ]
    assert not missing, f"{script} imports names builder no longer has: {', '.join(missing)}"


def _submodule(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ModuleNotFoundError:
        return False
    return True
