"""Fetching: every locked artifact an image needs, downloaded once, verified, kept in the store."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.config.platforms import Platform
from builder.config.project import Project
from builder.errors import BuilderError, ChecksumError, Mismatch
from builder.kinds.release_files import Artifacts
from builder.locking.lockfile import Lockfile
from builder.plumbing.fsutil import within
from builder.plumbing.progress import Download, Progress, human
from builder.plumbing.redact import redact
from builder.plumbing.workdir import scratch
from builder.stores.base import ArtifactRef, ArtifactStore

if TYPE_CHECKING:
    import requests

    from builder.plumbing.http import HttpClient
    from builder.plumbing.limits import HttpSettings


@dataclass
class FetchReport:
    downloaded: list[ArtifactRef] = field(default_factory=list)
    cached: list[ArtifactRef] = field(default_factory=list)
    failed: list[tuple[ArtifactRef, str]] = field(default_factory=list)
    bytes: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.downloaded)} downloaded ({human(self.bytes)}), "
            f"{len(self.cached)} already cached, {len(self.failed)} failed"
        )


def artifact_refs(
    project: Project, lock: Lockfile, images: Iterable[str], platforms: Iterable[Platform] | None = None
) -> list[ArtifactRef]:
    """The artifacts the images need on these platforms (each image's own, by default), once each."""
    wanted = set(platforms) if platforms is not None else None
    refs: dict[str, ArtifactRef] = {}
    for name in images:
        image = project.images[name]
        for tool in project.image_tools(name):
            locked = lock.get(tool.name, image.tool_lines[tool.name])
            files = locked.payload.files if isinstance(locked.payload, Artifacts) else {}
            for platform, artifact in sorted(files.items()):
                if platform in image.platforms and (wanted is None or platform in wanted):
                    refs.setdefault(
                        artifact.sha256, ArtifactRef(tool.name, locked.version, platform, artifact)
                    )
    return sorted(refs.values(), key=lambda r: (r.tool, str(r.platform)))


def fetch(
    refs: list[ArtifactRef],
    store: ArtifactStore,
    progress: Progress,
    session: requests.Session | None = None,
    jobs: int = 4,
    limits: HttpSettings | None = None,
) -> FetchReport:
    """Download what the store lacks; a warm store needs no network (nor the HTTP stack loaded).

    ``limits``: builder.yaml's ``http:`` (timeouts, retries); a download cut short is retried.
    """
    report = FetchReport()
    missing = []
    for ref in refs:
        if store.has(ref):
            report.cached.append(ref)
            progress.item(f"cached      {ref}", cached=True)
        else:
            missing.append(ref)
    if missing:
        from builder.plumbing.http import HttpClient, make_session

        http = HttpClient(session or make_session(), limits=limits)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for ref, size, error, meter in pool.map(lambda r: _fetch_one(r, store, http, progress), missing):
                _record(report, progress, ref, size, error, meter)
    progress.close()
    return report


def _record(
    report: FetchReport, progress: Progress, ref: ArtifactRef, size: int, error: str | None, meter: Download
) -> None:
    if error:
        report.failed.append((ref, error))
        progress.item(f"FAILED      {ref}", finished=meter)
    else:
        report.downloaded.append(ref)
        report.bytes += size
        progress.item(f"downloaded  {ref} ({human(size)}, {human(meter.rate())}/s)", finished=meter)


def _fetch_one(
    ref: ArtifactRef, store: ArtifactStore, http: HttpClient, progress: Progress
) -> tuple[ArtifactRef, int, str | None, Download]:
    meter = progress.download(ref.artifact.size)
    with scratch("fetch") as tmp:
        try:
            got = http.download(
                ref.artifact.url, within(tmp, tmp / ref.artifact.file), progress=meter.advance
            )
            if got.sha256 != ref.sha256:
                raise ChecksumError(
                    Mismatch(ref.tool, str(ref.platform), ref.sha256, got.sha256),
                    f"{ref.artifact.file} from {redact(ref.artifact.url)}",
                )
            store.put(ref, got.path)
        except BuilderError as e:
            return ref, 0, str(e), meter
    return ref, got.size, None, meter
