"""YAML documents that remember where each value came from, and a typed reader over them.

PyYAML's plain loader forgets line numbers; every error this project reports about a config
file names the file and line, so values are composed from nodes and their marks are kept.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from builder.errors import ConfigError

KeyPath = tuple[str | int, ...]


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(display, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(display, f"cannot read: {e}") from None
    return parse_yaml(text, display)


def _loader(text: str) -> yaml.SafeLoader:
    # libyaml composes the same nodes, with marks, about ten times faster (the lockfile is large).
    fast = getattr(yaml, "CSafeLoader", None)
    loader: yaml.SafeLoader = fast(text) if fast is not None else yaml.SafeLoader(text)
    return loader


def parse_yaml(text: str, display: str) -> Document:
    loader = _loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        data = _convert(loader, node, (), lines, display) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{display}:{line}", f"invalid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(display, f"invalid YAML: {e}") from None
    finally:
        loader.dispose()
    return Document(display, data, lines)


def _convert(
    loader: yaml.SafeLoader, node: yaml.Node, keys: KeyPath, lines: dict[KeyPath, int], display: str
) -> object:
    lines[keys] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(loader, node, keys, lines, display)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(loader, item, (*keys, i), lines, display) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _convert_mapping(
    loader: yaml.SafeLoader,
    node: yaml.MappingNode,
    keys: KeyPath,
    lines: dict[KeyPath, int],
    display: str,
) -> dict[str, object]:
    out: dict[str, object] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise ConfigError(f"{display}:{line}", f"keys must be strings, found {key!r}")
        if key in out:
            raise ConfigError(f"{display}:{line}", f"duplicate key '{key}'")
        out[key] = _convert(loader, value_node, (*keys, key), lines, display)
        lines[(*keys, key)] = line
    return out


def dotted(keys: KeyPath) -> str:
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def one_of(choices: Iterable[str]) -> str:
    return f"expected one of: {', '.join(sorted(choices))}"


def suggest(word: str, choices: Iterable[str]) -> str:
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
        prefix = f"{dotted(self.keys)}: " if self.keys else ""
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
        return str(self.value)

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


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    names = {dict: "a mapping", list: "a list", bool: "a boolean", str: "a string"}
    return names.get(type(value), f"{type(value).__name__} {value!r}")
