"""`builder status`: what a build would do now, without doing it: no build, no download, no request.

Per image: up to date (its tag is on the engine) or would rebuild, and why, against the inputs the
last build on this machine recorded (``.builder/state``). Per tool: the locked version, its age
and the newest release the constraint allows, as far as the cached upstream answers (the ETag
cache of ``builder lock``) know. And whether the committed ``buildspecs/`` match a fresh render.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.building.render import OUTPUT, ImagePlan, drift, image_repository, plan_images, render_project
from builder.config.catalogue import Tool
from builder.config.graph import ancestors
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.errors import BuilderError, UpstreamError
from builder.locking.lockfile import Lockfile
from builder.locking.resolver import stale
from builder.plumbing.fsutil import atomic_write
from builder.plumbing.redact import redact
from builder.sources.base import Release, Source, allow_prereleases, choose

if TYPE_CHECKING:
    from builder.plumbing.http import HttpClient

_STATE = ".builder/state"


@dataclass(frozen=True)
class _Inputs:
    """What one image's tag was made from, as `builder build` records it after each build."""

    tag: str
    tools: dict[str, str]  # tool -> "version sha256:<lock entry digest>"
    definitions: dict[str, str]  # tool -> digest of its tools.yaml definition
    files: dict[str, str]  # project-relative template or image file -> sha256
    parent: str  # the parent's tag, or the pinned external base


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _definition(tool: Tool) -> str:
    """What of a tool's tools.yaml entry goes into an image (not its constraint, cooldown or check)."""
    shape = (tool.install, sorted(tool.env.items()), tool.requires)
    return _sha(repr(shape).encode())


def _dockerfile_sources(project: Project, name: str) -> list[str]:
    """The templates and image files an image's Dockerfile is rendered from (project-relative)."""
    image = project.images[name]
    templates = [image.template or "Dockerfile.j2"]
    templates += sorted({f"partials/{t.install.kind}.j2" for t in project.image_tools(name)})
    found = [f"images/{name}/image.yaml"]
    for template in templates:
        own = project.root / "images" / name / template
        found.append(f"images/{name}/{template}" if own.is_file() else f"templates/{template}")
    return found


def _inputs_of(project: Project, plan: ImagePlan, tag: str, parent: str) -> _Inputs:
    root = project.root
    files = {
        p: _sha((root / p).read_bytes())
        for p in _dockerfile_sources(project, plan.name)
        if (root / p).is_file()
    }
    return _Inputs(
        tag,
        {tool.name: f"{locked.version} sha256:{locked.digest()}" for tool, locked in plan.tools},
        {tool.name: _definition(tool) for tool, _ in plan.tools},
        files,
        parent,
    )


def _tag(project: Project, plan: ImagePlan, platform: Platform) -> str:
    return f"{image_repository(project, plan.name)}:{plan.tag}-{platform.arch}"


def _parent(project: Project, name: str, plans: Mapping[str, ImagePlan], platform: Platform) -> str:
    base = project.images[name].base
    if base.image:
        return _tag(project, plans[base.image], platform)
    return project.settings.base_images[base.external or ""].pinned


def _current_inputs(
    project: Project, plans: Mapping[str, ImagePlan], name: str, platform: Platform
) -> _Inputs:
    plan = plans[name]
    return _inputs_of(project, plan, _tag(project, plan, platform), _parent(project, name, plans, platform))


def _state_path(root: Path, name: str, platform: Platform) -> Path:
    return root / _STATE / f"{name}-{platform.arch}.json"


def record_builds(
    project: Project, plans: dict[str, ImagePlan], names: Iterable[str], platform: Platform
) -> None:
    """After a build: remember what each image's tag was made from, so status can say what changed."""
    for name in names:
        path = _state_path(project.root, name, platform)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = dataclasses.asdict(_current_inputs(project, plans, name, platform))
        atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def _recorded(root: Path, name: str, platform: Platform) -> _Inputs | None:
    try:
        data = json.loads(_state_path(root, name, platform).read_text())
        return _Inputs(str(data["tag"]), dict(data["tools"]), dict(data["definitions"]),
                      dict(data["files"]), str(data["parent"]))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record (or one this version cannot read): the reasons say so


def _changes(old: _Inputs | None, new: _Inputs) -> list[str]:
    """Why ``new.tag`` differs from the tag the last build here made, input by input."""
    if old is None:
        return ["no earlier build of this image recorded on this machine"]
    if old.tag == new.tag:
        return ["its tag is not on the engine (removed since it was built)"]
    found = _tool_changes(old, new)
    found += [f"tools.yaml: {t}'s definition changed" for t in sorted(new.definitions)
              if t in old.definitions and old.definitions[t] != new.definitions[t]]  # fmt: skip
    found += [f"{p} changed" for p in sorted(new.files) if p in old.files and old.files[p] != new.files[p]]
    found += [f"{p} is new" for p in sorted(set(new.files) - set(old.files))]
    if old.parent != new.parent:
        found.append(f"its base changed: {old.parent} -> {new.parent}")
    return found or [
        "its rendered Dockerfile or side files changed (settings such as the registry or Python)"
    ]


def _tool_changes(old: _Inputs, new: _Inputs) -> list[str]:
    found = []
    for name in sorted(set(old.tools) | set(new.tools)):
        before, after = old.tools.get(name), new.tools.get(name)
        if before == after:
            continue
        if before is None or after is None:
            found.append(f"{name} {'added' if before is None else 'removed'}")
        elif before.split()[0] != after.split()[0]:
            found.append(f"{name} {before.split()[0]} -> {after.split()[0]} in builder.lock")
        else:
            found.append(f"{name}'s lock entry changed (same version {after.split()[0]})")
    return found


@dataclass(frozen=True)
class ImageStatus:
    name: str
    tag: str | None
    state: str  # "up to date" | "would rebuild" | "cannot build" | "unknown"
    reasons: tuple[str, ...] = ()


def _blocked_images(project: Project, _stale_tools: Mapping[str, str]) -> dict[str, str]:
    """Images that cannot be planned because they (or a parent) use a tool whose lock entry is stale."""
    found = {}
    for name in project.order:
        family = [name, *ancestors(name, project.images)]
        bad = sorted({t for n in family for t in project.images[n].tools if t in _stale_tools})
        if bad:
            found[name] = f"builder.lock is stale for {', '.join(bad)}: run `builder lock {' '.join(bad)}`"
    return found


def _plannable(project: Project, blocked: Mapping[str, str]) -> Project:
    images = {n: i for n, i in project.images.items() if n not in blocked}
    return dataclasses.replace(project, images=images, order=tuple(n for n in project.order if n in images))


def _image_statuses(
    project: Project, plans: Mapping[str, ImagePlan], blocked: Mapping[str, str], platform: Platform,
    present: frozenset[str] | None,
) -> list[ImageStatus]:  # fmt: skip
    """``present``: the tags the engine has (None: no engine answered, so up to date is unknown)."""
    out = []
    for name in project.order:
        if name in blocked:
            out.append(ImageStatus(name, None, "cannot build", (blocked[name],)))
            continue
        now = _current_inputs(project, plans, name, platform)
        if present is None:
            out.append(ImageStatus(name, now.tag, "unknown", ("no Docker engine answered",)))
        elif now.tag in present:
            out.append(ImageStatus(name, now.tag, "up to date"))
        else:
            reasons = _changes(_recorded(project.root, name, platform), now)
            out.append(ImageStatus(name, now.tag, "would rebuild", tuple(reasons)))
    return out


@dataclass(frozen=True)
class ToolStatus:
    name: str
    locked: str | None
    stale: str | None = None  # why the lock entry no longer fits tools.yaml
    released: datetime | None = None  # when the locked version was released, if a cached answer says
    newest: str | None = None  # the newest release the constraint allows, if a cached answer says
    known: str = ""  # why the upstream's answer is unknown, when it is


def offline_http(cache_dir: Path) -> HttpClient:
    """An HttpClient that answers only from the ETag cache: what it holds no answer for is an
    UpstreamError, and nothing is ever sent (imported late: the HTTP stack is not loaded otherwise)."""
    from builder.plumbing.http import HttpClient, make_session

    class Offline(HttpClient):
        def _answer(self, url: str, headers: Mapping[str, str] | None, conditional: bool, links: bool) -> Any:
            cached = self._cached(url, links)
            if cached is None:
                raise UpstreamError(f"no cached answer for {redact(url)}")
            return cached.answer

        def _get(self, url: str, headers: dict[str, str], sink: Any, setting: str) -> Any:
            raise UpstreamError(f"offline: {redact(url)} is not asked")

    return Offline(make_session(), cache_dir=cache_dir)


def _tool_status(
    project: Project, lock: Lockfile, tool: Tool, source: Source | None, reason: str | None, now: datetime
) -> ToolStatus:
    locked = lock.tools.get(tool.name)
    version = locked.version if locked else None
    if source is None:
        return ToolStatus(tool.name, version, reason, known="no source")
    try:
        releases = source.releases(tool)
    except BuilderError as e:
        return ToolStatus(tool.name, version, reason, known=_unknown(str(e)))
    released = next((r.published for r in releases if r.version == version), None)
    return ToolStatus(tool.name, version, reason, released, _newest(tool, releases, now, source))


def _unknown(message: str) -> str:
    if "no cached answer" in message:
        return "no cached upstream answer (`builder lock --upgrade` asks)"
    return message


def _newest(tool: Tool, releases: list[Release], now: datetime, source: Source) -> str | None:
    from builder.sources import SOURCES

    try:
        return choose(tool, releases, now, SOURCES[tool.source].scheme, allow_prereleases(tool)).version
    except UpstreamError:
        return None


@dataclass(frozen=True)
class DriftAt:
    """A committed rendered file that a fresh render would not write as it is."""

    path: str
    line: int | None  # the first line that differs (None: the whole file is missing or extra)
    problem: str

    def text(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.problem}"


def _first_difference(old: bytes, new: bytes) -> int:
    a, b = old.decode(errors="replace").splitlines(), new.decode(errors="replace").splitlines()
    for number, (left, right) in enumerate(zip(a, b, strict=False), start=1):
        if left != right:
            return number
    return min(len(a), len(b)) + 1


def _render_drift(project: Project, lock: Lockfile, names: tuple[str, ...] = ()) -> list[DriftAt]:
    """Committed files under buildspecs/ that differ from a fresh render, with their first differing line."""
    return drift_of(project, render_project(project, lock, names), names)


def drift_of(project: Project, files: dict[str, bytes], names: tuple[str, ...]) -> list[DriftAt]:
    """How committed buildspecs/ differ from ``files``, a render of ``names`` (all when empty)."""
    found = []
    for item in drift(project.root, files, names):
        on_disk = project.root / item.path
        if item.path not in files:
            found.append(DriftAt(item.path, None, "no longer rendered (remove it: `builder render`)"))
        elif not on_disk.is_file():
            found.append(DriftAt(item.path, None, "not committed (run `builder render`)"))
        else:
            line = _first_difference(on_disk.read_bytes(), files[item.path])
            found.append(DriftAt(item.path, line, "differs from a fresh render (edited by hand, or stale)"))
    return found


@dataclass(frozen=True)
class Status:
    platform: Platform
    images: list[ImageStatus]
    tools: list[ToolStatus]
    drift: list[DriftAt] | None  # None: it could not be rendered (a stale lock)
    rendered: int  # how many files a fresh render writes

    def to_data(self, now: datetime) -> dict[str, Any]:
        return {
            "platform": str(self.platform),
            "images": [dataclasses.asdict(i) | {"reasons": list(i.reasons)} for i in self.images],
            "tools": [_tool_data(t, now) for t in self.tools],
            "buildspecs": None if self.drift is None else {
                "current": not self.drift, "files": self.rendered,
                "drift": [dataclasses.asdict(d) for d in self.drift],
            },
        }  # fmt: skip


def _tool_data(tool: ToolStatus, now: datetime) -> dict[str, Any]:
    return {
        "name": tool.name,
        "locked": tool.locked,
        "stale": tool.stale,
        "released": tool.released.isoformat() if tool.released else None,
        "age_days": (now - tool.released).days if tool.released else None,
        "newest_allowed": tool.newest,
        "unknown": tool.known or None,
    }


def status_lines(status: Status, now: datetime) -> list[str]:
    """The text report: images, tools, buildspecs."""
    lines = [f"images ({status.platform}):"]
    width = max((len(i.name) for i in status.images), default=0)
    for image in status.images:
        lines.append(f"  {image.name:<{width}}  {image.state:<13}  {image.tag or ''}".rstrip())
        lines += [f"  {'':<{width}}    - {reason}" for reason in image.reasons]
    lines.append("tools:")
    width = max((len(t.name) for t in status.tools), default=0)
    lines += [f"  {t.name:<{width}}  {_tool_text(t, now)}" for t in status.tools]
    lines.append(f"{OUTPUT}/:")
    if status.drift is None:
        lines.append("  cannot render while builder.lock is stale")
    elif not status.drift:
        lines.append(f"  {status.rendered} rendered files match a fresh render")
    lines += [f"  {d.text()}" for d in status.drift or ()]
    return lines


def _tool_text(tool: ToolStatus, now: datetime) -> str:
    locked = tool.locked or "(not locked)"
    if tool.stale:
        return f"{locked:<10} stale: {tool.stale}"
    if tool.known:
        return f"{locked:<10} {tool.known}"
    age = f"{(now - tool.released).days} days old" if tool.released else "age unknown"
    if tool.newest is None:
        newest = "no release allowed now"
    elif tool.newest == tool.locked:
        newest = "newest allowed"
    else:
        newest = f"newest allowed: {tool.newest}"
    return f"{locked:<10} {age:<14} {newest}"


def _stale_tools(project: Project, lock: Lockfile) -> dict[str, str]:
    return {n: r for n, r in stale(project, lock).items() if n in project.tools}


def gather(
    project: Project,
    lock: Lockfile,
    platform: Platform,
    present: frozenset[str] | None,
    sources: Mapping[str, Source],
    now: datetime,
) -> Status:
    """Everything `builder status` reports; ``present`` and ``sources`` are asked, never the network."""
    stale_now = _stale_tools(project, lock)
    blocked = _blocked_images(project, stale_now)
    subset = _plannable(project, blocked)
    plans = plan_images(subset, lock)
    images = _image_statuses(project, plans, blocked, platform, present)
    tools = [_tool_status(project, lock, t, sources.get(t.source), stale_now.get(t.name), now)
             for _, t in sorted(project.tools.items())]  # fmt: skip
    found = None if blocked else _render_drift(project, lock)
    rendered = 0 if blocked else len(render_project(project, lock))
    return Status(platform, images, tools, found, rendered)


def candidate_tags(project: Project, lock: Lockfile, platform: Platform) -> set[str]:
    """The tags status asks the engine about (every image it can plan)."""
    subset = _plannable(project, _blocked_images(project, _stale_tools(project, lock)))
    return {_tag(subset, plan, platform) for plan in plan_images(subset, lock).values()}
