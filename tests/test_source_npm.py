"""NpmSource against a registry on 127.0.0.1: packuments, real tarballs checked, trees pinned by npm."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from builder.config.catalogue import Install, Tool, VersionCheck
from builder.config.platforms import Platform
from builder.config.settings import Settings
from builder.config.versions import Constraint
from builder.errors import ChecksumError, ProgramMissing, UpstreamError, UserError
from builder.kinds.npm_package import NpmPackage
from builder.locking.evidence import NpmIntegrity
from builder.plumbing.http import HttpClient, make_session
from builder.sources.base import Release, SourceDeps, choose
from builder.sources.npm import NpmSource
from tests.fakes.npm_registry import NpmRegistry, integrity, make_tarball, serve

NOW = datetime(2024, 6, 1, tzinfo=UTC)
NPM = ("--fetch-retries=0",)  # npm retries a failing registry for minutes otherwise
PLATFORMS = [Platform("linux", "amd64"), Platform("linux", "arm64")]


def cli(package: str = "scanjs", constraint: str = "^1") -> Tool:
    return Tool(name=package.rsplit("/", 1)[-1], source="npm", upstream={"package": package},
                constraint=Constraint.parse(constraint, "semver"), install=Install("npm-package", {}),
                check=VersionCheck((package,), r"(\S+)$"), where="tools.yaml:1")  # fmt: skip


def context(tmp_path: Path, base_urls: dict[str, str], settings: Settings | None = None) -> SourceDeps:
    http = HttpClient(make_session(), cache_dir=tmp_path / "etags", backoff=0.01)
    return SourceDeps(
        http, settings or Settings(), base_urls, Path("builder/data/keys"), tmp_path / "work", env={}
    )


def never(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    raise AssertionError(f"npm must not run: {argv}")


@pytest.fixture
def registry() -> Iterator[NpmRegistry]:
    with serve(NpmRegistry()) as running:
        running.publish(make_tarball("tinydep", "1.0.0"), time="2023-12-01T00:00:00.000Z")
        running.publish(make_tarball("tinydep", "1.0.1"), time="2023-12-02T00:00:00.000Z")
        dep = {"tinydep": "^1.0.0"}
        running.publish(make_tarball("scanjs", "1.0.0", dep), time="2024-01-01T00:00:00.000Z")
        running.publish(make_tarball("scanjs", "1.1.0", dep), time="2024-02-01T00:00:00.000Z")
        running.publish(
            make_tarball("scanjs", "1.2.0", dep), time="2024-03-01T00:00:00.000Z", deprecated="broken"
        )
        running.publish(make_tarball("scanjs", "2.0.0-beta.1", dep), time="2024-04-01T00:00:00.000Z")
        yield running


def test_releases_read_the_packument_with_times_deprecations_and_prereleases(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    releases = NpmSource(context(tmp_path, {"npm": registry.url})).releases(cli())
    assert releases == [
        Release("1.0.0", datetime(2024, 1, 1, tzinfo=UTC)),
        Release("1.1.0", datetime(2024, 2, 1, tzinfo=UTC)),
        Release("1.2.0", datetime(2024, 3, 1, tzinfo=UTC), yanked=True),
        Release("2.0.0-beta.1", datetime(2024, 4, 1, tzinfo=UTC), prerelease=True),
    ]
    assert choose(cli(), releases, NOW, "semver").version == "1.1.0"
    assert choose(cli(constraint="*"), releases, NOW, "semver").version == "1.1.0"


def test_lock_checks_the_tarball_and_pins_the_whole_tree_without_urls(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    source = NpmSource(context(tmp_path, {"npm": registry.url}), npm_options=NPM)
    locked = source.lock(cli(), Release("1.1.0"), PLATFORMS)
    scanjs, tinydep = registry.packages["scanjs"]["1.1.0"], registry.packages["tinydep"]["1.0.1"]
    assert locked.payload.packages == (
        NpmPackage("node_modules/scanjs", "1.1.0", scanjs.integrity,
                   {"dependencies": {"tinydep": "^1.0.0"}, "bin": {"scanjs": "bin/cli.js"}}),
        NpmPackage("node_modules/tinydep", "1.0.1", tinydep.integrity, {"bin": {"tinydep": "bin/cli.js"}}),
    )  # fmt: skip
    assert locked.payload.proof == (NpmIntegrity("npm ci"),)
    assert "/scanjs/-/scanjs-1.1.0.tgz" in registry.requests
    assert "://" not in str(locked.to_data())
    assert list((tmp_path / "work").iterdir()) == []


def test_a_tarball_that_disagrees_with_its_integrity_stops_the_lock(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    registry.tamper("scanjs", "1.1.0", b"other bytes")
    source = NpmSource(context(tmp_path, {"npm": registry.url}), run=never)
    with pytest.raises(ChecksumError) as caught:
        source.lock(cli(), Release("1.1.0"), PLATFORMS)
    expected = registry.packages["scanjs"]["1.1.0"].integrity
    assert str(caught.value) == (f"sha512 integrity mismatch for scanjs (npm) tarball of scanjs 1.1.0: "
                                 f"expected {expected}, got {integrity(b'other bytes')}")  # fmt: skip
    assert list((tmp_path / "work").iterdir()) == []


def test_a_scoped_package_is_asked_url_encoded(tmp_path: Path, registry: NpmRegistry) -> None:
    registry.publish(make_tarball("@acme/scan", "3.0.0"))
    releases = NpmSource(context(tmp_path, {"npm": registry.url})).releases(cli("@acme/scan", ">=3"))
    assert [r.version for r in releases] == ["3.0.0"]
    assert registry.requests == ["/@acme%2Fscan"]


def test_a_second_look_revalidates_with_the_etag(tmp_path: Path, registry: NpmRegistry) -> None:
    source = NpmSource(context(tmp_path, {"npm": registry.url}))
    assert source.releases(cli()) == source.releases(cli())
    assert registry.answered == [("/scanjs", 200), ("/scanjs", 304)]


def test_a_missing_package_and_a_failing_registry_name_the_tool(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    source = NpmSource(context(tmp_path, {"npm": registry.url}))
    with pytest.raises(UpstreamError) as missing:
        source.releases(cli("ghost"))
    registry.failures["/scanjs"] = [500] * 5
    with pytest.raises(UpstreamError) as failing:
        source.releases(cli())
    assert str(missing.value) == f"ghost: GET {registry.url}/ghost: HTTP 404 Not Found"
    assert str(failing.value) == f"scanjs: GET {registry.url}/scanjs: HTTP 500 Internal Server Error"


def test_a_missing_tarball_or_version_stops_the_lock(tmp_path: Path, registry: NpmRegistry) -> None:
    source = NpmSource(context(tmp_path, {"npm": registry.url}), run=never)
    del registry.served["/scanjs/-/scanjs-1.1.0.tgz"]
    with pytest.raises(UpstreamError) as missing_tarball:
        source.lock(cli(), Release("1.1.0"), PLATFORMS)
    with pytest.raises(UpstreamError) as missing_version:
        source.lock(cli(), Release("9.0.0"), PLATFORMS)
    assert (
        str(missing_tarball.value)
        == f"scanjs: GET {registry.url}/scanjs/-/scanjs-1.1.0.tgz: HTTP 404 Not Found"
    )
    assert str(missing_version.value) == "scanjs: the npm registry has no scanjs 9.0.0"


def test_a_tree_npm_cannot_resolve_is_one_line(tmp_path: Path, registry: NpmRegistry) -> None:
    registry.publish(make_tarball("scanjs", "1.3.0", {"missingdep": "^1"}))
    source = NpmSource(context(tmp_path, {"npm": registry.url}), npm_options=NPM)
    with pytest.raises(UserError) as caught:
        source.lock(cli(), Release("1.3.0"), PLATFORMS)
    assert (
        str(caught.value)
        == f"npm install failed: 404 Not Found - GET {registry.url}/missingdep - Not found (E404)"
    )


def test_the_registry_is_the_settings_else_npm_s_own(tmp_path: Path) -> None:
    asked: list[list[str]] = []

    def npm_config(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        asked.append(argv)
        return subprocess.CompletedProcess(argv, 0, "http://127.0.0.1:9/npm/\n", "")

    settings = Settings(npm_registry="http://127.0.0.1:8/mirror/")
    assert NpmSource(context(tmp_path, {}, settings), run=never).registry == "http://127.0.0.1:8/mirror"
    assert NpmSource(context(tmp_path, {}), run=npm_config).registry == "http://127.0.0.1:9/npm"
    assert asked == [["npm", "config", "get", "registry"]]


def test_without_npm_the_lock_says_the_program_is_missing(
    tmp_path: Path, registry: NpmRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Lambda's Python runtime has no npm: the release is found, the tree cannot be resolved.
    monkeypatch.setenv("PATH", str(tmp_path))
    source = NpmSource(context(tmp_path, {"npm": registry.url}), npm_options=NPM)
    assert choose(cli(), source.releases(cli()), NOW, "semver").version == "1.1.0"
    with pytest.raises(ProgramMissing, match=r"^npm is not installed here \(builder runs `npm install`"):
        source.lock(cli(), Release("1.1.0"), PLATFORMS)
