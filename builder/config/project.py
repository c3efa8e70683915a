"""A project: settings, tool catalogue and image definitions, loaded and checked against each other."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from builder.config.catalogue import Plugins, Tool, load_catalogue
from builder.config.document import suggest
from builder.config.graph import ancestors, build_order
from builder.config.images import Image, load_images
from builder.config.settings import Settings, load_settings, store_from_environment
from builder.errors import ConfigError
from builder.kinds import KINDS
from builder.sources import SOURCES


@dataclass(frozen=True)
class Project:
    root: Path
    settings: Settings
    tools: dict[str, Tool]
    images: dict[str, Image]
    order: tuple[str, ...]

    def image_tools(self, name: str) -> list[Tool]:
        return [self.tools[t] for t in self.images[name].tools]

    def select(self, names: tuple[str, ...]) -> list[str]:
        """The named images in build order; all of them when none is named."""
        for name in names:
            if name not in self.images:
                hint = suggest(name, self.images)
                raise ConfigError("images/", f"no image named '{name}'{hint}")
        return [n for n in self.order if not names or n in names]


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds a builder.yaml."""
    for folder in (start, *start.parents):
        if (folder / "builder.yaml").is_file():
            return folder
    raise ConfigError(str(start), "no builder.yaml here or in any parent folder (use --project DIR)")


def load_project(root: Path, plugins: Plugins | None = None) -> Project:
    """The project at ``root``, its catalogue read against the registered sources and install kinds."""
    settings = load_settings(root)
    tools = load_catalogue(root, plugins or Plugins(SOURCES, KINDS))
    images = load_images(root)
    order = build_order(images)
    completed: dict[str, Image] = {}
    for name in order:
        completed[name] = _complete(images[name], completed, settings)
    images = completed
    for name in order:
        _check_image(images[name], images, tools, settings)
    return Project(root, settings, tools, images, tuple(order))


def _complete(image: Image, done: dict[str, Image], settings: Settings) -> Image:
    """Fill what an image inherits: platforms from its parent, else from the settings."""
    if image.platforms:
        return image
    parent = done.get(image.base.image or "")
    return dataclasses.replace(image, platforms=parent.platforms if parent else settings.platforms)


def _check_image(image: Image, images: dict[str, Image], tools: dict[str, Tool], s: Settings) -> None:
    if image.base.external is not None and image.base.external not in s.base_images:
        raise ConfigError(
            image.base.where,
            f"base.external: '{image.base.external}' is not in base_images of builder.yaml"
            f"{suggest(image.base.external, s.base_images)}",
        )
    parent = images.get(image.base.image or "")
    if parent and not set(image.platforms) <= set(parent.platforms):
        raise ConfigError(image.where, f"platforms: base image '{parent.name}' is not built for all of them")
    available = {t for a in ancestors(image.name, images) for t in images[a].tools}
    for name in image.tools:
        _check_tool(image, name, tools, available)
        available.add(name)


def _check_tool(image: Image, name: str, tools: dict[str, Tool], available: set[str]) -> None:
    where = image.tool_lines[name]
    if name not in tools:
        raise ConfigError(where, f"unknown tool '{name}'{suggest(name, tools)} (see tools.yaml)")
    tool = tools[name]
    for needed in tool.requires:
        if needed not in available:
            raise ConfigError(where, f"tool '{name}' needs '{needed}' listed before it (or in a base image)")
    missing = [
        str(p) for p in image.platforms if not tool.platform_independent and p not in tool.install.assets
    ]
    if missing:
        raise ConfigError(where, f"tool '{name}' has no asset for {', '.join(missing)} (tools.yaml)")


def with_environment(project: Project, env: Mapping[str, str]) -> Project:
    """The project as CodeBuild or the Lambda configure it: BUILDER_CODEARTIFACT_* override builder.yaml."""
    store = store_from_environment(project.settings.store, env)
    if store == project.settings.store:
        return project
    return dataclasses.replace(project, settings=dataclasses.replace(project.settings, store=store))
