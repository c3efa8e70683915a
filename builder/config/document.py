"""YAML documents that remember where each value came from, and a typed reader over them.

PyYAML's plain loader forgets line numbers; every error this project reports about a config
file names the file and line, so values are composed from nodes and their marks are kept.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from builder.config import names
from builder.errors import ConfigError
from builder.plumbing.fsutil import inside

KeyPath = tuple[str | int, ...]

_MAX_BYTES = 32 << 20  # the largest file builder reads as YAML (a big lockfile is well under 1 MiB)
MAX_DEPTH = 32  # nesting of mappings and lists; builder's deepest file nests 7


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: its data and the line of every key path in it."""

    display: str
    data: object
    lines: Mapping[KeyPath, int]

    def line_of(self, keys: KeyPath) -> int:
        while keys not in self.lines and keys:
            keys = keys[:-1]
        return self.lines.get(keys, 1)

    def root(self) -> Node:
        return Node(self, (), self.data)


def load_yaml(path: Path, display: str) -> Document:
    """A file of the project at ``path``: one that resolves outside the project is refused."""
    return parse_yaml(read_text(path, display), display)


def read_text(path: Path, display: str, limit: int = _MAX_BYTES) -> str:
    """The file's text, refusing one too big to be a builder file (or a device, a FIFO, ...), and
    one that is a link out of its project (whose lines would be quoted in error messages)."""
    if path.is_symlink():
        inside(path.parent.resolve(), path, display)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(display, "file not found") from None
    except OSError as e:
        raise ConfigError(display, f"cannot read: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(display, "not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(display, f"file is over {limit >> 20} MiB: not a builder file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(display, f"not UTF-8 text (byte {e.start})") from None


def _loader(text: str) -> yaml.SafeLoader:
    # libyaml composes the same nodes, with marks, about ten times faster (the lockfile is large).
    fast = getattr(yaml, "CSafeLoader", None)
    loader: yaml.SafeLoader = fast(text) if fast is not None else yaml.SafeLoader(text)
    return loader


def parse_yaml(text: str, display: str) -> Document:
    if len(text) > _MAX_BYTES:
        raise ConfigError(display, f"over {_MAX_BYTES >> 20} MiB: not a builder file")
    loader = _loader(text)
    try:
        node = loader.get_single_node()
        converter = _Converter(loader, display)
        data = converter.value(node, ()) if node is not None else None
    except _Alias as e:
        where = f"{display}:{_alias_line(text)}"
        raise ConfigError(where, f"{e}YAML aliases (*name) are not allowed") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        problem = _first_line(e.problem or e.context)
        raise ConfigError(f"{display}:{line}", f"invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(display, f"invalid YAML: {_first_line(str(e))}") from None
    finally:
        loader.dispose()
    return Document(display, data, converter.lines)


class _Converter:
    """Plain Python values from composed nodes, with the line of every key path.

    Aliases are refused: a YAML alias makes the composed graph share a node, and a few nested
    ones expand into billions of values (the "billion laughs"); builder's files never need one.
    So are nesting deeper than MAX_DEPTH (Python's recursion would end it with a traceback)
    and scalars the constructor chokes on (an int of 5000 digits is a ValueError).
    """

    def __init__(self, loader: yaml.SafeLoader, display: str) -> None:
        self.loader, self.display = loader, display
        self.seen: set[int] = set()
        self.lines: dict[KeyPath, int] = {}

    def value(self, node: yaml.Node, keys: KeyPath) -> object:
        line = node.start_mark.line + 1
        if id(node) in self.seen:
            raise _Alias(_at(keys))
        if len(keys) > MAX_DEPTH:
            raise ConfigError(f"{self.display}:{line}", f"nested more than {MAX_DEPTH} levels deep")
        self.seen.add(id(node))
        self.lines[keys] = line
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
            raise ConfigError(f"{self.display}:{line}", f"{_at(keys)}YAML tag '{node.tag}' is not allowed")
        if isinstance(node, yaml.MappingNode):
            out: object = self._mapping(node, keys)
        elif isinstance(node, yaml.SequenceNode):
            out = [self.value(item, (*keys, i)) for i, item in enumerate(node.value)]
        else:
            out = self._scalar(node, keys)
        return out

    def _scalar(self, node: yaml.Node, keys: KeyPath) -> object:
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, TypeError, OverflowError) as e:
            line = node.start_mark.line + 1
            raise ConfigError(f"{self.display}:{line}", f"{_at(keys)}unreadable value ({e})") from None

    def _mapping(self, node: yaml.MappingNode, keys: KeyPath) -> dict[str, object]:
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag.endswith(":merge"):
                raise ConfigError(f"{self.display}:{line}", "merge keys (<<: *name) are not allowed")
            key = self._scalar(key_node, keys) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                shown = repr(key) if key is not None else "a mapping or list"
                raise ConfigError(f"{self.display}:{line}", f"keys must be strings, found {shown}")
            if key in out:
                raise ConfigError(f"{self.display}:{line}", f"duplicate key '{key}'")
            out[key] = self.value(value_node, (*keys, key))
            self.lines[(*keys, key)] = line
        return out


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _first_line(text: str | None) -> str:
    return names.printable((text or "").strip().splitlines()[0] if (text or "").strip() else "unreadable")


class _Alias(Exception):
    """An alias was met; its line is found by parsing again (the composed node has the anchor's)."""


def _alias_line(text: str) -> int:
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
                return int(event.start_mark.line) + 1
    except yaml.YAMLError:
        pass
    return 1


def _at(keys: KeyPath) -> str:
    return f"{_dotted(keys)}: " if keys else ""


def _dotted(keys: KeyPath) -> str:
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return names.printable(text)


def one_of(choices: Iterable[str]) -> str:
    return f"expected one of: {', '.join(sorted(choices))}"


def suggest(word: str, choices: Iterable[str]) -> str:
    import difflib  # only when a name is wrong

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class Node:
    """One value of a document, with the key path that leads to it."""

    doc: Document
    keys: KeyPath
    value: object

    def where(self) -> str:
        return f"{self.doc.display}:{self.doc.line_of(self.keys)}"

    def error(self, message: str) -> ConfigError:
        prefix = f"{_dotted(self.keys)}: " if self.keys else ""
        return ConfigError(self.where(), prefix + message)

    def child(self, key: str | int, value: object) -> Node:
        return Node(self.doc, (*self.keys, key), value)

    def mapping(self, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Node]:
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, found {_kind(self.value)}")
        allowed = set(allowed)
        out = {}
        for key, value in self.value.items():
            child = self.child(key, value)
            if key not in allowed:
                hint = suggest(key, allowed)
                raise child.error(f"unknown key '{key}'{hint} ({one_of(allowed)})")
            out[key] = child
        for key in required:
            if key not in out:
                raise self.error(f"missing required key '{key}'")
        return out

    def entries(self) -> Iterator[tuple[str, Node]]:
        """Items of a mapping whose keys are free-form names (tools, labels, platforms)."""
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, found {_kind(self.value)}")
        for key, value in self.value.items():
            yield key, self.child(key, value)

    def items(self) -> list[Node]:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, found {_kind(self.value)}")
        return [self.child(i, v) for i, v in enumerate(self.value)]

    def text(self) -> str:
        if isinstance(self.value, float):
            # YAML reads 1.10 as the float 1.1: refuse rather than silently change a version.
            raise self.error(f"expected a string, found the number {self.value!r} (quote it)")
        if isinstance(self.value, bool) or not isinstance(self.value, str | int):
            raise self.error(f"expected a string, found {_kind(self.value)}")
        return self.checked(names.check_text, str(self.value))

    def name(self, kind: str) -> str:
        """A text of one of the shapes in builder.config.names (tool name, file name, version, ...)."""
        return self.checked(lambda value: names.check(kind, value), self.text())

    def checked(self, check: Callable[[str], str], value: str) -> str:
        """``check(value)``, its ValueError turned into this node's file:line error."""
        try:
            return check(value)
        except ValueError as e:
            raise self.error(str(e)) from None

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected an integer, found {_kind(self.value)}")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, found {_kind(self.value)}")
        return self.value

    def texts(self) -> tuple[str, ...]:
        return tuple(item.text() for item in self.items())

    def text_map(self) -> dict[str, str]:
        return {key: node.text() for key, node in self.entries()}

    def env_map(self) -> dict[str, str]:
        """Environment variables: names as a shell spells them, one-line values."""
        return self.named_map("environment variable")

    def named_map(self, kind: str) -> dict[str, str]:
        """A mapping whose keys have the shape of a ``kind`` (config.names) and whose values are texts."""
        out = {}
        for key, child in self.entries():
            child.checked(lambda value: names.check(kind, value), key)
            out[key] = child.text()
        return out


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    names = {dict: "a mapping", list: "a list", bool: "a boolean", str: "a string"}
    return names.get(type(value), f"{type(value).__name__} {value!r}")
