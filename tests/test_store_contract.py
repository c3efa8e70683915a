"""One contract for every artifact store (local directory, CodeArtifact), then CodeArtifact's own duties.

The CodeArtifact store runs against the local double in ``tests/fakes/codeartifact.py`` through a real
boto3 client, so requests, retries and error parsing are botocore's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from builder.config.platforms import Platform
from builder.config.settings import CodeArtifact
from builder.errors import ChecksumError
from builder.kinds.release_files import Artifact
from builder.stores.base import ArtifactRef, ArtifactStore
from builder.stores.codeartifact import CodeArtifactStore, StoreConflict, StoreError
from builder.stores.local import LocalStore
from tests.fakes.codeartifact import (
    OWNER,
    TOKEN,
    CodeArtifactState,
    Version,
    codeartifact_double,
    make_client,
)
from tests.fakes.evidence import TESTED

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")
DOMAIN = "security-tools"
SETTINGS = CodeArtifact(DOMAIN, OWNER, "eu-west-1", token_duration=1800)
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"


def ref_for(
    data: bytes, version: str = "1.0.0", platform: Platform = AMD64, tool: str = "trivy"
) -> ArtifactRef:
    name = f"{tool}_{version}_linux_{platform.arch}.tar.gz"
    digest = hashlib.sha256(data).hexdigest()
    return ArtifactRef(
        tool,
        version,
        platform,
        Artifact(name, f"http://127.0.0.1:1/{name}", digest, len(data), evidence=TESTED),
    )


def source(tmp_path: Path, data: bytes, name: str = "in") -> Path:
    path = tmp_path / "sources" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, CodeArtifactState]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-key")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with codeartifact_double() as (url, state):
        state.create(DOMAIN, "generic-store", "pip-store", "npm-store")
        yield url, state


@pytest.fixture
def ca(double: tuple[str, CodeArtifactState]) -> tuple[CodeArtifactStore, CodeArtifactState]:
    url, state = double
    return CodeArtifactStore(make_client(url), SETTINGS), state


@dataclass
class Backend:
    store: ArtifactStore
    tamper: Callable[[ArtifactRef, bytes], None]


def _local_backend(tmp_path: Path) -> Backend:
    store = LocalStore(tmp_path / "store")

    def tamper(ref: ArtifactRef, data: bytes) -> None:
        path = store.path_of(ref.sha256)
        path.chmod(0o644)
        path.write_bytes(data)

    return Backend(store, tamper)


@pytest.fixture(params=["local", "codeartifact"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return _local_backend(tmp_path)
    store, state = request.getfixturevalue("ca")
    return Backend(store, lambda ref, data: state.tamper(ref.tool, ref.version, ref.artifact.file, data))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------ the contract


def test_put_has_copy_to_round_trip(backend: Backend, tmp_path: Path) -> None:
    data = b"release archive" * 1000
    ref = ref_for(data)
    assert not backend.store.has(ref)
    backend.store.put(ref, source(tmp_path, data))
    assert backend.store.has(ref)
    backend.store.copy_to(ref, tmp_path / "out" / ref.artifact.file)
    assert (tmp_path / "out" / ref.artifact.file).read_bytes() == data
    assert _leftovers(tmp_path / "out") == [ref.artifact.file]


def test_every_platform_of_a_version_is_kept(backend: Backend, tmp_path: Path) -> None:
    amd, arm = ref_for(b"amd64 bytes", platform=AMD64), ref_for(b"arm64 bytes", platform=ARM64)
    backend.store.put(amd, source(tmp_path, b"amd64 bytes", "a"))
    backend.store.put(arm, source(tmp_path, b"arm64 bytes", "b"))
    assert backend.store.has(amd) and backend.store.has(arm)
    backend.store.copy_to(arm, tmp_path / "out" / "arm")
    assert (tmp_path / "out" / "arm").read_bytes() == b"arm64 bytes"


def test_identical_re_put_is_a_no_op(backend: Backend, tmp_path: Path) -> None:
    data = b"same bytes"
    ref = ref_for(data)
    backend.store.put(ref, source(tmp_path, data))
    backend.store.put(ref, source(tmp_path, data, "again"))
    assert backend.store.has(ref)
    backend.store.copy_to(ref, tmp_path / "out" / "x")
    assert (tmp_path / "out" / "x").read_bytes() == data


def test_put_refuses_bytes_that_do_not_match_the_lock(backend: Backend, tmp_path: Path) -> None:
    ref = ref_for(b"locked bytes")
    with pytest.raises(ChecksumError, match=r"sha256 mismatch for trivy \(linux/amd64\)"):
        backend.store.put(ref, source(tmp_path, b"other bytes"))
    assert not backend.store.has(ref)


def test_tampered_bytes_on_the_way_out_raise_and_leave_no_file(backend: Backend, tmp_path: Path) -> None:
    data = b"good bytes"
    ref = ref_for(data)
    backend.store.put(ref, source(tmp_path, data))
    backend.tamper(ref, b"evil bytes")
    with pytest.raises(ChecksumError) as caught:
        backend.store.copy_to(ref, tmp_path / "out" / ref.artifact.file)
    assert caught.value.mismatch.expected == ref.sha256
    assert caught.value.mismatch.actual == hashlib.sha256(b"evil bytes").hexdigest()
    assert _leftovers(tmp_path / "out") == []


def test_concurrent_puts_of_the_same_artifact_are_safe(backend: Backend, tmp_path: Path) -> None:
    data = b"x" * 300_000
    ref = ref_for(data)
    paths = [source(tmp_path, data, f"in{i}") for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda p: backend.store.put(ref, p), paths))
    assert backend.store.has(ref)
    backend.store.copy_to(ref, tmp_path / "out" / "x")
    assert (tmp_path / "out" / "x").read_bytes() == data


# ------------------------------------------------------------------ CodeArtifact only


def _published(state: CodeArtifactState) -> list[dict[str, Any]]:
    return [c.params for c in state.operations("PublishPackageVersion") if c.status == 200]


def test_naming_scheme_and_unfinished_until_finished(
    ca: tuple[CodeArtifactStore, CodeArtifactState], tmp_path: Path
) -> None:
    store, state = ca
    ref = ref_for(b"bytes", version="0.50.0")
    store.put(ref, source(tmp_path, b"bytes"))
    store.put(ref, source(tmp_path, b"bytes"))
    [params] = _published(state)
    assert {
        k: params[k]
        for k in (
            "domain",
            "domainOwner",
            "repository",
            "format",
            "namespace",
            "package",
            "packageVersion",
            "assetName",
            "unfinished",
        )
    } == {
        "domain": DOMAIN,
        "domainOwner": OWNER,
        "repository": "generic-store",
        "format": "generic",
        "namespace": "builder",
        "package": "trivy",
        "packageVersion": "0.50.0",
        "assetName": "trivy_0.50.0_linux_amd64.tar.gz",
        "unfinished": True,
    }
    assert params["assetSHA256"] == ref.sha256
    assert store.versions("trivy") == [("0.50.0", "Unfinished")]
    assert store.finish("trivy", "0.50.0") is True
    assert store.finish("trivy", "0.50.0") is False
    assert store.versions("trivy") == [("0.50.0", "Published")]
    assert store.has(ref)


def test_different_bytes_under_the_same_name_are_a_conflict(
    ca: tuple[CodeArtifactStore, CodeArtifactState], tmp_path: Path
) -> None:
    store, state = ca
    first, second = ref_for(b"first"), ref_for(b"second")
    store.put(first, source(tmp_path, b"first"))
    with pytest.raises(StoreConflict) as caught:
        store.put(second, source(tmp_path, b"second"))
    message = str(caught.value)
    for part in ("trivy", "1.0.0", first.artifact.file, first.sha256, second.sha256, "refusing to overwrite"):
        assert part in message
    assert len(_published(state)) == 1
    assert state.versions_of("trivy")["1.0.0"].assets[first.artifact.file].data == b"first"


def test_a_published_version_takes_no_new_asset_and_says_so(
    ca: tuple[CodeArtifactStore, CodeArtifactState], tmp_path: Path
) -> None:
    store, state = ca
    store.put(ref_for(b"amd"), source(tmp_path, b"amd"))
    store.finish("trivy", "1.0.0")
    late = ref_for(b"arm", platform=ARM64)
    with pytest.raises(StoreConflict, match=r"already Published and takes no new assets") as caught:
        store.put(late, source(tmp_path, b"arm"))
    assert late.sha256 in str(caught.value)
    assert [c.status for c in state.operations("PublishPackageVersion")] == [200, 409]


def test_expired_token_says_refresh_credentials(
    ca: tuple[CodeArtifactStore, CodeArtifactState], tmp_path: Path
) -> None:
    store, state = ca
    state.fail("ListPackageVersionAssets", "expired")
    with pytest.raises(StoreError) as caught:
        store.put(ref_for(b"x"), source(tmp_path, b"x"))
    message = str(caught.value)
    assert "refresh your AWS credentials" in message and "403" in message
    assert "\n" not in message and ACCESS_KEY not in message and "dummy-secret-key" not in message
    assert state.operations("PublishPackageVersion") == []


def test_throttling_is_retried_by_botocore_then_explained(
    ca: tuple[CodeArtifactStore, CodeArtifactState], tmp_path: Path
) -> None:
    store, state = ca
    state.fail("ListPackageVersionAssets", "throttle", times=1)
    assert not store.has(ref_for(b"x"))  # one 429, then botocore's retry succeeds (a 404: not there)
    state.fail("ListPackageVersionAssets", "throttle", times=2)
    with pytest.raises(StoreError, match=r"throttled \(429\) after 2 attempts: wait a minute and retry"):
        store.has(ref_for(b"x"))
    assert [c.status for c in state.operations("ListPackageVersionAssets")] == [429, 404, 429, 429]


def test_internal_errors_and_missing_repositories_say_what_to_do(
    double: tuple[str, CodeArtifactState], tmp_path: Path
) -> None:
    url, state = double
    store = CodeArtifactStore(make_client(url), SETTINGS)
    state.fail("GetPackageVersionAsset", "internal", times=2)
    with pytest.raises(StoreError, match=r"internal error \(500\) after retries: retry later"):
        store.copy_to(ref_for(b"x"), tmp_path / "out" / "x")
    assert _leftovers(tmp_path / "out") == []
    missing = CodeArtifactStore(
        make_client(url), CodeArtifact(DOMAIN, OWNER, "eu-west-1", generic_repository="nope")
    )
    with pytest.raises(
        StoreError, match=r"not found \(404: Repository nope not found\): run `builder store init`"
    ):
        missing.has(ref_for(b"x"))


def test_a_missing_asset_cannot_be_copied(
    ca: tuple[CodeArtifactStore, CodeArtifactState], tmp_path: Path
) -> None:
    store, _ = ca
    with pytest.raises(StoreError, match=r"get_package_version_asset for trivy 1.0.0 .* not found \(404"):
        store.copy_to(ref_for(b"x"), tmp_path / "out" / "x")


def _seed(state: CodeArtifactState, versions: dict[str, str]) -> None:
    key = (DOMAIN, "generic-store", "generic", "builder", "trivy")
    for number, (name, status) in enumerate(versions.items()):
        state.packages.setdefault(key, {})[name] = Version(
            name, status, published_time=1_700_000_000 + number
        )


def test_prune_keeps_the_newest_published_versions(ca: tuple[CodeArtifactStore, CodeArtifactState]) -> None:
    store, state = ca
    _seed(
        state,
        {
            "1.10.0": "Published",
            "1.2.0": "Published",
            "1.11.0": "Published",
            "1.9.0": "Published",
            "1.12.0": "Unfinished",
            "2.0.0-rc1": "Published",
        },
    )
    assert store.prune("trivy", keep=2) == ["1.2.0", "1.9.0"]
    assert dict(store.versions("trivy")) == {
        "1.2.0": "Disposed",
        "1.9.0": "Disposed",
        "1.10.0": "Published",
        "1.11.0": "Published",
        "1.12.0": "Unfinished",
        "2.0.0-rc1": "Published",
    }
    assert store.prune("trivy", keep=2) == []
    with pytest.raises(StoreError, match="--keep must be at least 1"):
        store.prune("trivy", keep=0)


def test_versions_are_read_through_every_page(ca: tuple[CodeArtifactStore, CodeArtifactState]) -> None:
    store, state = ca
    _seed(state, {f"1.{i}.0": "Published" for i in range(120)})
    listed = store.versions("trivy")
    assert [v for v, _ in listed] == [f"1.{i}.0" for i in range(120)]
    calls = state.operations("ListPackageVersions")
    assert len(calls) == 3 and "nextToken" in calls[1].params
    assert store.versions("grype") == []


def test_endpoint_token_and_repository_checks(double: tuple[str, CodeArtifactState]) -> None:
    url, state = double
    store = CodeArtifactStore(make_client(url), SETTINGS)
    host = f"https://{DOMAIN}-{OWNER}.d.codeartifact.eu-west-1.amazonaws.com"
    assert store.endpoint("pypi") == f"{host}/pypi/pip-store/"
    assert store.endpoint("npm") == f"{host}/npm/npm-store/"
    assert store.authorization_token() == TOKEN
    assert state.operations("GetAuthorizationToken")[0].params == {
        "domain": DOMAIN,
        "domainOwner": OWNER,
        "durationSeconds": 1800,
    }
    with pytest.raises(StoreError, match=r"no repository for format 'maven'"):
        store.endpoint("maven")
    assert all(check.ok for check in store.check_repositories())
    del state.domains[DOMAIN]["npm-store"]
    checks = {c.role: c for c in store.check_repositories()}
    assert checks["generic"].ok and checks["pypi"].ok and not checks["npm"].ok
    assert "builder store init" in str(checks["npm"].problem)


def test_the_token_never_reaches_an_error_message(ca: tuple[CodeArtifactStore, CodeArtifactState]) -> None:
    store, state = ca
    token = store.authorization_token()
    state.fail("GetAuthorizationToken", "denied")
    with pytest.raises(StoreError) as caught:
        store.authorization_token()
    assert "access denied (403)" in str(caught.value)
    assert token not in str(caught.value) and ACCESS_KEY not in str(caught.value)
