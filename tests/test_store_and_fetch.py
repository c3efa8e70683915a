"""The local store and `builder fetch`: verified downloads, a warm cache that downloads nothing."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from builder.building.fetch import fetch
from builder.config.platforms import Platform
from builder.errors import ChecksumError
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.lockfile import LockedTool, Lockfile, write_lockfile
from builder.plumbing.http import make_session
from builder.plumbing.progress import Progress
from builder.stores.base import ArtifactRef
from builder.stores.local import LocalStore
from tests.fakes.evidence import TESTED
from tests.fakes.files import Files, serve
from tests.helpers import run_cli

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")


def ref_for(data: bytes, name: str = "tool.tar.gz", url: str = "http://127.0.0.1:1/x") -> ArtifactRef:
    return ArtifactRef(
        "tool",
        "1.0.0",
        AMD64,
        Artifact(name, url, hashlib.sha256(data).hexdigest(), len(data), evidence=TESTED),
    )


def test_store_keeps_verified_bytes_by_digest(tmp_path: Path) -> None:
    store, data = LocalStore(tmp_path / "store"), b"payload"
    ref = ref_for(data)
    (tmp_path / "in").write_bytes(data)
    assert not store.has(ref)
    store.put(ref, tmp_path / "in")
    assert store.has(ref)
    assert store.path_of(ref.sha256).read_bytes() == data
    store.copy_to(ref, tmp_path / "out" / "tool.tar.gz")
    assert (tmp_path / "out" / "tool.tar.gz").read_bytes() == data


def test_store_refuses_bytes_that_do_not_match(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    ref = ref_for(b"payload")
    (tmp_path / "in").write_bytes(b"other")
    with pytest.raises(ChecksumError, match=r"sha256 mismatch for tool \(linux/amd64\)"):
        store.put(ref, tmp_path / "in")
    assert not store.has(ref)
    assert [p.name for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


def test_a_tampered_store_file_never_leaves_the_store(tmp_path: Path) -> None:
    store, data = LocalStore(tmp_path / "store"), b"payload"
    ref = ref_for(data)
    (tmp_path / "in").write_bytes(data)
    store.put(ref, tmp_path / "in")
    stored = store.path_of(ref.sha256)
    stored.chmod(0o644)
    stored.write_bytes(b"evil")
    with pytest.raises(ChecksumError) as caught:
        store.copy_to(ref, tmp_path / "out" / "tool.tar.gz")
    assert caught.value.mismatch.expected == ref.sha256
    assert caught.value.mismatch.actual == hashlib.sha256(b"evil").hexdigest()
    assert not (tmp_path / "out" / "tool.tar.gz").exists()


def test_concurrent_puts_of_the_same_artifact_are_safe(tmp_path: Path) -> None:
    store, data = LocalStore(tmp_path / "store"), b"x" * 1_000_000
    ref = ref_for(data)
    sources = []
    for i in range(8):
        sources.append(tmp_path / f"in{i}")
        sources[-1].write_bytes(data)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda p: store.put(ref, p), sources))
    assert store.path_of(ref.sha256).read_bytes() == data
    assert [p.name for p in store.path_of(ref.sha256).parent.iterdir()] == [ref.sha256]


def served_refs(files: Files, blobs: dict[str, bytes]) -> list[ArtifactRef]:
    return [ref_for(data, name, files.add(f"/dl/{name}", data)) for name, data in blobs.items()]


def test_fetch_downloads_once_then_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with serve(Files()) as files:
        refs = served_refs(files, {"a.tar.gz": b"a" * 5000, "b.zip": b"b" * 7000})
        first = fetch(refs, store, Progress(2, io.StringIO()), make_session())
        second = fetch(refs, store, Progress(2, io.StringIO()), make_session())
    assert (len(first.downloaded), first.bytes, len(first.cached)) == (2, 12000, 0)
    assert (len(second.downloaded), second.bytes, len(second.cached)) == (0, 0, 2)
    assert sorted(files.requests) == ["/dl/a.tar.gz", "/dl/b.zip"]
    assert second.summary() == "0 downloaded (0 B), 2 already cached, 0 failed"


def test_fetch_reports_a_tampered_upstream_and_keeps_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with serve(Files()) as files:
        (ref,) = served_refs(files, {"a.tar.gz": b"genuine"})
        files.routes["/dl/a.tar.gz"] = b"tampered"
        report = fetch([ref], store, Progress(1, io.StringIO()), make_session())
    ((failed, error),) = report.failed
    assert failed == ref
    assert f"expected {ref.sha256}, got {hashlib.sha256(b'tampered').hexdigest()}" in error
    assert "sha256 mismatch for tool (linux/amd64)" in error
    assert not store.has(ref)


def test_fetch_retries_server_errors_and_explains_a_404(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with serve(Files()) as files:
        refs = served_refs(files, {"flaky.tgz": b"f", "gone.tgz": b"g"})
        files.failures["/dl/flaky.tgz"] = [500, 503]
        del files.routes["/dl/gone.tgz"]
        report = fetch(refs, store, Progress(2, io.StringIO()), make_session(backoff=0.01))
    assert [r.artifact.file for r in report.downloaded] == ["flaky.tgz"]
    assert files.requests.count("/dl/flaky.tgz") == 3
    ((_, error),) = report.failed
    assert error.endswith("gone.tgz: HTTP 404 Not Found")


def test_fetch_command_summary_and_exit_status(tmp_path: Path, minimal_project: Path) -> None:
    with serve(Files()) as files:
        lock = Lockfile()
        for name, platforms in {"hello": (AMD64,), "solo": (AMD64, ARM64)}.items():
            artifacts = {}
            for p in platforms:
                data = f"{name}-{p.arch}".encode()
                file = {"hello": f"hello_1.2.3_linux_{p.arch}.tar.gz", "solo": f"solo-linux-{p.arch}"}[name]
                artifacts[p] = Artifact(
                    file,
                    files.add(f"/{file}", data),
                    hashlib.sha256(data).hexdigest(),
                    len(data),
                    evidence=TESTED,
                )
            lock = lock.with_tool(
                LockedTool(name, "1.2.3" if name == "hello" else "0.9.0", Artifacts(artifacts))
            )
        (minimal_project / "images/scanners/image.yaml").write_text(
            "base: {image: base}\ntools: [solo, hello]\nplatforms: [linux/amd64]\n"
        )
        write_lockfile(minimal_project, lock)
        settings = (
            f"store: {{kind: local, path: '{tmp_path / 'cache'}'}}\nbase_images: {{debian: {{ref: x:1}}}}\n"
        )
        (minimal_project / "builder.yaml").write_text(settings)
        result = run_cli(minimal_project, "fetch", "scanners")
        assert result.exit_code == 0, result.output
        assert "fetch: 2 downloaded (21 B), 0 already cached, 0 failed" in result.output
        result = run_cli(minimal_project, "fetch")
        assert "fetch: 0 downloaded (0 B), 2 already cached, 0 failed" in result.output
        files.routes.clear()
        (tmp_path / "cache").rename(tmp_path / "old-cache")
        result = run_cli(minimal_project, "fetch", "scanners")
    assert result.exit_code == 1
    assert "fetch: 0 downloaded (0 B), 0 already cached, 2 failed" in result.output
    assert "HTTP 404" in result.output


def test_a_file_changed_after_its_check_is_checked_again(tmp_path: Path) -> None:
    store, data = LocalStore(tmp_path / "store"), b"payload" * 1000
    ref = ref_for(data)
    (tmp_path / "in").write_bytes(data)
    store.put(ref, tmp_path / "in")
    target = tmp_path / "context" / "tool.tar.gz"
    store.copy_to(ref, target)
    store.copy_to(ref, target)  # unchanged: the stamp spares the hash
    stored = store.path_of(ref.sha256)
    stored.chmod(0o644)
    with stored.open("r+b") as f:  # same size, same inode: only mtime and ctime tell
        f.write(b"X")
    with pytest.raises(ChecksumError):
        store.copy_to(ref, target)
