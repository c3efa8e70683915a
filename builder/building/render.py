"""Rendering: Dockerfiles, CodeBuild buildspecs and their side files, from templates + definitions + lock.

Output is a mapping of project-relative paths to bytes; nothing touches the disk until every
file has rendered, so a template error leaves the previous output whole.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import re
import shlex
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from builder.attesting import LOCK_LABEL, SBOM_PATH
from builder.config.catalogue import Tool
from builder.config.graph import ancestors, levels
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.errors import TemplateError
from builder.kinds import KINDS
from builder.locking.lockfile import LockedTool, Lockfile, check_entry, digest_of
from builder.plumbing.fsutil import inside

OUTPUT = "buildspecs"
_PENDING = "0" * 64
_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(/|$)")
_BUILD_IMAGES = {  # CodeBuild-managed images able to run BuildKit, per architecture
    "amd64": ("LINUX_CONTAINER", "aws/codebuild/amazonlinux2-x86_64-standard:5.0"),
    "arm64": ("ARM_CONTAINER", "aws/codebuild/amazonlinux2-aarch64-standard:3.0"),
}


@dataclass(frozen=True)
class ImagePlan:
    """What one image is built from: its locked tools and the digest that names it."""

    name: str
    tools: tuple[tuple[Tool, LockedTool], ...]
    digest: str
    lock_digest: str

    @property
    def tag(self) -> str:
        return self.digest[:12]


@dataclass(frozen=True)
class Rendering:
    """One render of some images: their plans (tags) and files, so a command renders only once."""

    plans: dict[str, ImagePlan]  # the selected images and their ancestors
    files: dict[str, bytes]  # the selected images' files (and the batch buildspec when all are)


def render_images(project: Project, lock: Lockfile, names: tuple[str, ...] = ()) -> Rendering:
    """Every generated file of the selected images (all, and the batch buildspec, by default)."""
    needed = set(names).union(*(ancestors(name, project.images) for name in names)) if names else None
    plans: dict[str, ImagePlan] = {}
    files: dict[str, bytes] = {}
    envs = _Environments(project.root)
    for name in project.order:  # parents first: a child's FROM names its parent's digest
        if needed is not None and name not in needed:
            continue  # neither selected nor a parent of one: nothing here depends on it
        plans[name], image_files = _render_image(project, lock, name, plans, envs)
        if not names or name in names:
            files.update(image_files)
    if not names:
        files[f"{OUTPUT}/batch.yml"] = _render_batch(project)
    return Rendering(plans, files)


def render_project(project: Project, lock: Lockfile, names: tuple[str, ...] = ()) -> dict[str, bytes]:
    return render_images(project, lock, names).files


def plan_images(project: Project, lock: Lockfile) -> dict[str, ImagePlan]:
    plans: dict[str, ImagePlan] = {}
    envs = _Environments(project.root)
    for name in project.order:
        plans[name], _ = _render_image(project, lock, name, plans, envs)
    return plans


def _render_image(
    project: Project, lock: Lockfile, name: str, plans: dict[str, ImagePlan], envs: _Environments
) -> tuple[ImagePlan, dict[str, bytes]]:
    image = project.images[name]
    pairs = tuple((tool, _locked(lock, tool, project, name)) for tool in project.image_tools(name))
    side = _side_files(name, pairs, image.platforms)
    env = envs.get(name)
    lock_digest = digest_of([locked for _, locked in pairs])
    draft = ImagePlan(name, pairs, _PENDING, lock_digest)
    first = _dockerfile(env, project, draft, plans)
    parent = plans[image.base.image].digest if image.base.image else ""
    digest = _content_digest(first, side, parent)
    plan = ImagePlan(name, pairs, digest, lock_digest)
    files = {
        f"{OUTPUT}/{name}/Dockerfile": _dockerfile(env, project, plan, plans).encode(),
        f"{OUTPUT}/{name}/buildspec.yml": _buildspec(env, project, plan, "buildspec.yml.j2").encode(),
        f"{OUTPUT}/{name}/manifest.yml": _buildspec(env, project, plan, "manifest.yml.j2").encode(),
        **side,
    }
    return plan, files


def _locked(lock: Lockfile, tool: Tool, project: Project, image: str) -> LockedTool:
    locked = lock.get(tool.name, project.images[image].tool_lines[tool.name])
    check_entry(locked, tool, project.images[image].platforms)
    return locked


def _content_digest(dockerfile: str, side: dict[str, bytes], parent: str) -> str:
    h = hashlib.sha256(f"parent={parent}\n".encode())
    h.update(dockerfile.encode())
    for path in sorted(side):
        h.update(f"\n{path}\n".encode())
        h.update(side[path])
    return h.hexdigest()


class _Environments:
    """One Jinja environment per template search path, so each template compiles once per run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[Path | None, jinja2.Environment] = {}

    def get(self, image: str) -> jinja2.Environment:
        # An image folder may override any template or partial; templates/ holds the defaults.
        # Most hold only image.yaml, and those share the defaults' environment.
        folder = self.root / "images" / image
        own = folder if any(p.name != "image.yaml" for p in folder.iterdir()) else None
        if own not in self.made:
            self.made[own] = _environment(self.root, own)
        return self.made[own]


class _ProjectLoader(jinja2.FileSystemLoader):
    """Templates from the project's folders only: one that is a symlink resolving outside the
    project (to /etc/passwd, say) is refused instead of being rendered into a committed file."""

    def __init__(self, root: Path, search: list[str]) -> None:
        super().__init__(search)
        self.root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        inside(self.root, Path(filename), _display(filename))
        return source, filename, uptodate


def _environment(root: Path, folder: Path | None) -> jinja2.Environment:
    search = [str(folder)] if folder else []
    loader = _ProjectLoader(root, [*search, str(root / "templates")])
    env = jinja2.Environment(  # nosec B701 - Dockerfiles and YAML, not HTML: shell values are quoted (| sh)
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - output is Dockerfiles and YAML, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_one_line,
    )
    env.filters.update(sh=_sh, word=_word)
    return env


class _Refused(ValueError):
    """A value that would change the shape of the rendered file, not only its content."""


# Control, format (bidi overrides, zero-width) and line/paragraph separators: a new line ends a
# Dockerfile instruction, so one inside a value would start an instruction nobody reviewed.
_CONTROL = frozenset(("Cc", "Cf", "Zl", "Zp"))
_NOT_A_WORD = re.compile(r"[\s\\\"'`$]")


def _one_line(value: Any) -> Any:
    """Every ``{{ value }}`` of every template: none may hold a control character."""
    if isinstance(value, str) and any(unicodedata.category(c) in _CONTROL for c in value):
        raise _Refused(f"{_shown(value)} holds a control character (a new line would start an instruction)")
    return value


def _sh(value: Any) -> str:
    """A value as one shell word, whatever it holds: a file name is never a command."""
    return shlex.quote(str(value))


def _word(value: Any) -> str:
    """A value as one word of a Dockerfile instruction (COPY, AS, USER): nothing to split or expand."""
    text = str(value)
    if not text or _NOT_A_WORD.search(text):
        raise _Refused(f"{_shown(text)} is not one plain word (no space, quote, backslash or $)")
    return text


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 80 else f"{text[:77]!r}..."


def _render(jenv: jinja2.Environment, template: str, **context: Any) -> str:
    env = jenv
    try:
        return env.get_template(template).render(**context)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(
            f"{_template_path(env, e.name or template)}:{e.lineno}", e.message or "syntax error"
        ) from None
    except jinja2.TemplateNotFound as e:
        raise TemplateError(_template_path(env, template), f"template '{e.name}' not found") from None
    except (jinja2.UndefinedError, TypeError, ValueError) as e:
        where = _failing_line(env, e.__traceback__) or _template_path(env, template)
        raise TemplateError(where, f"{e}{_expressions(e)}") from None


def _template_path(env: jinja2.Environment, name: str) -> str:
    loader = env.loader
    assert isinstance(loader, jinja2.FileSystemLoader)
    for folder in loader.searchpath:
        path = Path(folder) / name
        if path.is_file():
            return (
                f"{path.parent.parent.name}/{path.parent.name}/{name}"
                if "images" in path.parts
                else f"templates/{name}"
            )
    return f"templates/{name}"


def _failing_line(env: jinja2.Environment, tb: TracebackType | None) -> str | None:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    found = None
    for frame_tb in _frames(tb):
        filename = frame_tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = f"{_display(filename)}:{frame_tb.tb_lineno}"
    return found


def _expressions(error: Exception) -> str:
    """For a refused value: the expressions of the template line that rendered it, which name its key."""
    frames = [f for f in _frames(error.__traceback__) if f.tb_frame.f_code.co_filename.endswith(".j2")]
    if not isinstance(error, _Refused) or not frames:
        return ""
    line = linecache.getline(frames[-1].tb_frame.f_code.co_filename, frames[-1].tb_lineno)
    found = re.findall(r"\{\{.*?\}\}", line)
    return f" (from {', '.join(found)})" if found else ""


def _frames(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _display(filename: str) -> str:
    parts = Path(filename).parts
    for anchor in ("templates", "images"):
        if anchor in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor) :])
    return filename


def _dockerfile(
    env: jinja2.Environment, project: Project, plan: ImagePlan, plans: dict[str, ImagePlan]
) -> str:
    image = project.images[plan.name]
    return _render(
        env,
        image.template or "Dockerfile.j2",
        image=image,
        from_ref=_from_ref(project, plan.name, plans),
        tools=[_tool_context(t, locked, image.platforms) for t, locked in plan.tools],
        env=_assignments({**{k: v for t, _ in plan.tools for k, v in t.env.items()}, **image.env}),
        labels=_assignments(_labels(project, plan)),
        lock_digest=plan.lock_digest,
        sbom_path=SBOM_PATH,
    )


def _assignments(values: dict[str, str]) -> list[str]:
    return [f"{key}={json.dumps(value)}" for key, value in sorted(values.items())]


def _from_ref(project: Project, name: str, plans: dict[str, ImagePlan]) -> str:
    base = project.images[name].base
    if base.image:
        # TARGETARCH is a global build argument: usable in FROM without declaring it.
        return f"{image_repository(project, base.image)}:{plans[base.image].tag}-${{TARGETARCH}}"
    return project.settings.base_images[base.external or ""].pinned


def image_repository(project: Project, name: str) -> str:
    return f"{project.settings.registry}/{name}"


def _labels(project: Project, plan: ImagePlan) -> dict[str, str]:
    image = project.images[plan.name]
    labels = {
        "org.opencontainers.image.title": plan.name,
        "org.opencontainers.image.version": plan.tag,
        LOCK_LABEL: f"sha256:{plan.lock_digest}",
    }
    if plan.tools:
        labels["builder.tools"] = " ".join(f"{t.name}={locked.version}" for t, locked in plan.tools)
    if image.description:
        labels["org.opencontainers.image.description"] = image.description
    if image.base.external:
        labels["org.opencontainers.image.base.name"] = project.settings.base_images[
            image.base.external
        ].pinned
    return {**labels, **image.labels}


def _tool_context(tool: Tool, locked: LockedTool, platforms: tuple[Platform, ...]) -> dict[str, object]:
    kind = KINDS[tool.install.kind]
    return {
        "name": tool.name,
        "install": tool.install.kind,
        "version": locked.version,
        "about": _about(tool),
        "entry_points": sorted(tool.entry_points.items()),
        "requires": tool.requires,
        **kind.template_values(tool, locked.payload, platforms),
    }


def _about(tool: Tool) -> str:
    """Where the tool comes from, as the catalogue says: "github aquasecurity/trivy"."""
    named = next((v for v in tool.upstream.values() if isinstance(v, str)), "")
    return f"{tool.source} {named}".strip()


def _side_files(
    name: str, pairs: tuple[tuple[Tool, LockedTool], ...], platforms: tuple[Platform, ...]
) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for tool, locked in pairs:
        kind = KINDS[tool.install.kind]
        files.update(kind.side_files(f"{OUTPUT}/{name}", tool, locked.version, locked.payload, platforms))
    return files


def _buildspec(env: jinja2.Environment, project: Project, plan: ImagePlan, template: str) -> str:
    image = project.images[plan.name]
    ecr = _ECR.match(project.settings.registry)
    return _render(
        env,
        template,
        image=image,
        repository=image_repository(project, plan.name),
        digest=plan.tag,
        platforms=[str(p) for p in image.platforms],
        ecr=bool(ecr),
        ecr_region=ecr.group(1) if ecr else "",
        audit_offline=project.settings.audit_offline,
    )


def _render_batch(project: Project) -> bytes:
    entries = []
    for group in levels(project.images):
        for name in group:
            image = project.images[name]
            for platform in image.platforms:
                kind, build_image = _BUILD_IMAGES[platform.arch]
                parent = image.base.image
                entries.append({
                    "identifier": _identifier(name, platform),
                    "buildspec": f"{OUTPUT}/{name}/buildspec.yml",
                    "depend_on": [_identifier(parent, platform)] if parent else [],
                    "variables": {"PLATFORM": str(platform)},
                    "type": kind,
                    "build_image": build_image,
                })  # fmt: skip
            kind, build_image = _BUILD_IMAGES[image.platforms[0].arch]
            entries.append({
                "identifier": f"{_identifier(name, None)}_index",
                "buildspec": f"{OUTPUT}/{name}/manifest.yml",
                "depend_on": [_identifier(name, platform) for platform in image.platforms],
                "variables": {},
                "type": kind,
                "build_image": build_image,
            })  # fmt: skip
    env = _environment(project.root, None)
    return _render(env, "batch.yml.j2", entries=entries).encode()


def _identifier(image: str, platform: Platform | None) -> str:
    return (f"{image}_{platform.arch}" if platform else image).replace("-", "_")


@dataclass(frozen=True)
class Drift:
    """One generated file whose committed bytes differ from a fresh render."""

    path: str
    diff: str


def stale_files(root: Path, files: dict[str, bytes], names: tuple[str, ...]) -> list[str]:
    """Generated files on disk that a fresh render no longer produces."""
    folders = [root / OUTPUT / n for n in names] if names else [root / OUTPUT]
    found = {str(p.relative_to(root)) for f in folders if f.is_dir() for p in f.rglob("*") if p.is_file()}
    return sorted(found - set(files))


def drift(root: Path, files: dict[str, bytes], names: tuple[str, ...]) -> list[Drift]:
    out = []
    for path in sorted(files):
        on_disk = root / path
        old = on_disk.read_bytes() if on_disk.is_file() else b""
        if old != files[path]:
            out.append(Drift(path, _diff(path, old, files[path])))
    for path in stale_files(root, files, names):
        out.append(Drift(path, _diff(path, (root / path).read_bytes(), b"")))
    return out


def _diff(path: str, old: bytes, new: bytes) -> str:
    import difflib  # only for --check's diff

    lines = difflib.unified_diff(
        old.decode(errors="replace").splitlines(keepends=True),
        new.decode(errors="replace").splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    return "".join(lines)
