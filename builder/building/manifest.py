"""Multi-platform tags: one index per image that names its image for every platform.

`builder build --push` pushes one tag per platform (``<digest>-amd64``, ``<digest>-arm64``);
the index tag is the bare ``<digest>``, so ``FROM <registry>/<image>:<digest>`` works on any of
them. Like the per-platform tags it names its content, so one the registry holds is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from builder.building.buildkit import push_index, registry_has
from builder.building.engine import DockerClient
from builder.building.pipeline import image_tag
from builder.building.render import ImagePlan, image_repository, plan_images
from builder.config.project import Project
from builder.errors import UserError
from builder.locking.lockfile import Lockfile

Log = Callable[[str, str], None]  # image, line


@dataclass(frozen=True)
class Published:
    image: str
    index: str
    digest: str | None  # None: the registry already held it


def publish_indexes(
    project: Project, lock: Lockfile, names: list[str], client: DockerClient, log: Log
) -> list[Published]:
    plans = plan_images(project, lock)
    return [_publish(project, plans[name], client, log) for name in names]


def _publish(project: Project, plan: ImagePlan, client: DockerClient, log: Log) -> Published:
    name, platforms = plan.name, project.images[plan.name].platforms
    index = f"{image_repository(project, name)}:{plan.tag}"
    if registry_has(client, index):
        log(name, f"{index} is already in the registry")
        return Published(name, index, None)
    members = [image_tag(project, plan, platform) for platform in platforms]
    missing = [member for member in members if not registry_has(client, member)]
    if missing:
        raise UserError(
            f"{name}: the index {index} needs {', '.join(missing)} in the registry first "
            f"(builder build {name} --platform PLATFORM --push, on a machine of each platform)"
        )
    log(name, f"pushing {index} for {', '.join(str(p) for p in platforms)}")
    return Published(name, index, push_index(client, index, members, lambda line: log(name, line)))
