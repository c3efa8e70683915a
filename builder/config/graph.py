"""The image graph: which image is built on which, in what order, and the CodeBuild batch edges."""

from __future__ import annotations

from collections.abc import Mapping

from builder.config.images import Image
from builder.errors import GraphError


def _parent_of(image: Image) -> str | None:
    return image.base.image


def build_order(images: Mapping[str, Image]) -> list[str]:
    """Every image after its parent; siblings in name order so the output is stable."""
    for name in sorted(images):
        _check_chain(name, images)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(images):
        ready = [
            n for n in sorted(images)
            if n not in placed and (_parent_of(images[n]) is None or _parent_of(images[n]) in placed)
        ]  # fmt: skip
        order.extend(ready)
        placed.update(ready)
    return order


def _check_chain(name: str, images: Mapping[str, Image]) -> None:
    seen = [name]
    current = images[name]
    while (parent := _parent_of(current)) is not None:
        if parent not in images:
            raise GraphError(current.base.where, f"base image '{parent}' is not an image of this repository")
        if parent in seen:
            cycle = " -> ".join([*seen[seen.index(parent) :], parent])
            raise GraphError(images[name].base.where, f"cycle in the image graph: {cycle}")
        seen.append(parent)
        current = images[parent]


def ancestors(name: str, images: Mapping[str, Image]) -> list[str]:
    """Parents of an image, nearest first."""
    chain = []
    parent = _parent_of(images[name])
    while parent is not None:
        chain.append(parent)
        parent = _parent_of(images[parent])
    return chain


def levels(images: Mapping[str, Image]) -> list[list[str]]:
    """Images grouped so each group depends only on earlier groups (what may build in parallel)."""
    depth: dict[str, int] = {}
    for name in build_order(images):
        parent = _parent_of(images[name])
        depth[name] = 0 if parent is None else depth[parent] + 1
    groups: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in sorted(depth):
        groups[depth[name]].append(name)
    return groups
