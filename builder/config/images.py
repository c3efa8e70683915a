"""Image definitions: one folder per image under images/, each with an image.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from builder.config import names
from builder.config.document import Node, load_yaml
from builder.config.platforms import Platform, read_platforms
from builder.errors import ConfigError
from builder.plumbing.fsutil import inside

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_KEYS = (
    "description", "base", "tools", "platforms", "labels", "env", "user", "workdir",
    "smoke", "template",
)  # fmt: skip


@dataclass(frozen=True)
class Base:
    """What an image starts from: another image of this repository, or a named external one."""

    image: str | None = None
    external: str | None = None
    where: str = ""


@dataclass(frozen=True)
class User:
    name: str
    uid: int | None = None  # set: create the user in this image


@dataclass(frozen=True)
class SmokeCheck:
    name: str
    command: tuple[str, ...]
    exit_code: int = 0
    output: str | None = None  # a regular expression the output must match


@dataclass(frozen=True)
class Image:
    name: str
    base: Base
    where: str
    tools: tuple[str, ...] = ()
    platforms: tuple[Platform, ...] = ()
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    user: User | None = None
    workdir: str | None = None
    smoke: tuple[SmokeCheck, ...] = ()
    template: str | None = None
    tool_lines: dict[str, str] = field(default_factory=dict)  # tool -> file:line, for errors


def load_images(root: Path) -> dict[str, Image]:
    folder = root / "images"
    if not folder.is_dir():
        raise ConfigError("images/", "no images folder: create images/<name>/image.yaml")
    images = {}
    for path in sorted(folder.glob("*/image.yaml")):
        name = path.parent.name
        display = f"images/{name}/image.yaml"
        if not _NAME.match(name) or len(name) > 64:
            raise ConfigError(f"{display}:1", f"bad image name '{name}' (lowercase words joined by '-')")
        inside(root, path, display)
        node = load_yaml(path, display).root()
        images[name] = _image(name, node, path.parent)
    return images


def _image(name: str, node: Node, folder: Path) -> Image:
    fields = node.mapping(_KEYS, required=["base"])
    tools = fields["tools"].items() if "tools" in fields else []
    return Image(
        name=name,
        base=_base(fields["base"]),
        where=node.where(),
        tools=tuple(t.name("tool name") for t in tools),
        tool_lines={t.text(): t.where() for t in tools},
        platforms=read_platforms(fields["platforms"]) if "platforms" in fields else (),
        description=fields["description"].text() if "description" in fields else "",
        labels=fields["labels"].named_map("label") if "labels" in fields else {},
        env=fields["env"].env_map() if "env" in fields else {},
        user=_user(fields["user"]) if "user" in fields else None,
        workdir=_workdir(fields["workdir"]) if "workdir" in fields else None,
        smoke=tuple(_smoke(n) for n in fields["smoke"].items()) if "smoke" in fields else (),
        template=_template(fields["template"], folder) if "template" in fields else None,
    )


def _workdir(node: Node) -> str:
    return node.checked(lambda value: names.check_absolute_path(value, "workdir"), node.text())


def _base(node: Node) -> Base:
    fields = node.mapping(["image", "external"])
    if len(fields) != 1:
        raise node.error("expected exactly one of 'image' (an image of this repository) or "
                         "'external' (a name from base_images in builder.yaml)")  # fmt: skip
    if "image" in fields:
        image = fields["image"].checked(_image_name, fields["image"].text())
        return Base(image=image, where=fields["image"].where())
    return Base(external=fields["external"].name("label"), where=fields["external"].where())


def _image_name(value: str) -> str:
    if not _NAME.match(value) or len(value) > 64:
        raise ValueError(f"bad image name '{value}' (lowercase words joined by '-')")
    return value


def _user(node: Node) -> User:
    fields = node.mapping(["name", "uid"], required=["name"])
    name = fields["name"].text()
    if not _USER.match(name):
        raise fields["name"].error(f"bad user name '{name}'")
    uid = fields["uid"].integer() if "uid" in fields else None
    if uid is not None and not 1000 <= uid < 65535:
        raise fields["uid"].error(f"uid {uid} is out of range (expected 1000-65534: not root)")
    return User(name, uid)


def _smoke(node: Node) -> SmokeCheck:
    fields = node.mapping(["name", "command", "exit_code", "output"], required=["name", "command"])
    output = fields["output"].text() if "output" in fields else None
    if output is not None:
        try:
            re.compile(output)
        except re.error as e:
            raise fields["output"].error(f"bad regular expression: {e}") from None
    return SmokeCheck(
        name=fields["name"].text(),
        command=fields["command"].texts(),
        exit_code=fields["exit_code"].integer() if "exit_code" in fields else 0,
        output=output,
    )


def _template(node: Node, folder: Path) -> str:
    name = node.name("file name")
    if not (folder / name).is_file():
        raise node.error(f"template '{name}' not found beside image.yaml")
    return name
