"""npm registries that demand a token: read from the user's npmrc as npm reads it, sent only where it belongs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.config.catalogue import Install, Tool, VersionCheck
from builder.config.platforms import Platform
from builder.config.settings import Settings
from builder.config.versions import Constraint
from builder.errors import UpstreamError
from builder.locking.lockfile import load_lockfile
from builder.plumbing.http import HttpClient, make_session
from builder.sources.base import Release, SourceDeps
from builder.sources.npm import NpmSource, read_npm_auth
from tests.fakes.npm_registry import NpmRegistry, make_tarball, serve
from tests.helpers import run_cli

NPM = ("--fetch-retries=0",)  # npm retries a failing registry for minutes otherwise
PLATFORMS = [Platform("linux", "amd64")]
SCANJS = Tool(name="scanjs", source="npm", upstream={"package": "scanjs"},
              constraint=Constraint.parse("^1", "semver"), install=Install("npm-package", {}),
              check=VersionCheck(("scanjs",), r"(\S+)$"), where="tools.yaml:1")  # fmt: skip
TOOLS = """\
tools:
  scanjs:
    source: npm
    package: scanjs
    version: "^1"
    install: npm-package
    check: {command: [scanjs], pattern: '(\\S+)$'}
"""


@pytest.fixture
def registry() -> Iterator[NpmRegistry]:
    with serve(NpmRegistry()) as running:
        running.publish(make_tarball("tinydep", "1.0.1"), time="2023-12-02T00:00:00.000Z")
        running.publish(
            make_tarball("scanjs", "1.1.0", {"tinydep": "^1.0.0"}), time="2024-02-01T00:00:00.000Z"
        )
        yield running


def home() -> Path:
    return Path(os.environ["HOME"])  # a fresh folder per test (tests/conftest.py)


def write_npmrc(path: Path, registry: NpmRegistry, value: str) -> Path:
    host = registry.url.removeprefix("http:")
    path.write_text(f"; written by the test\nregistry={registry.url}/\n{host}/:_authToken={value}\n")
    return path


def project(tmp_path: Path, registry: NpmRegistry) -> Path:
    root = tmp_path / "project"
    (root / "images/tools").mkdir(parents=True)
    (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [scanjs]\n")
    (root / "tools.yaml").write_text(TOOLS)
    (root / "builder.yaml").write_text(
        f"base_images: {{debian: {{ref: 'x:1'}}}}\nindexes: {{npm: '{registry.url}/'}}\n"
    )
    return root


def source(tmp_path: Path, registry: NpmRegistry, env: dict[str, str]) -> NpmSource:
    http = HttpClient(make_session(retries=1, backoff=0.01), cache_dir=tmp_path / "etags")
    ctx = SourceDeps(http, Settings(), {"npm": registry.url}, Path("builder/data/keys"), tmp_path / "work",
                        env=env)  # fmt: skip
    return NpmSource(ctx, npm_options=NPM)


def builder_wrote(root: Path) -> str:
    """What builder itself leaves behind: the project (lockfile) and its HTTP cache.

    Not npm's own debug log under ~/.npm/_logs: npm writes there what a registry's error said.
    """
    cache = home() / ".cache"
    files = [p for folder in (root, cache) for p in folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in files)  # the ETag cache is among them
    return "\n".join(p.read_text(errors="replace") for p in files)


def test_lock_through_the_cli_sends_the_npmrc_token_to_the_registry(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    token = "npm_lock0token0d1b9c"
    registry.token = token
    write_npmrc(home() / ".npmrc", registry, token)
    root = project(tmp_path, registry)
    result = run_cli(root, "lock")
    assert result.exit_code == 0, result.output
    assert load_lockfile(root).tools["scanjs"].version == "1.1.0"
    paths = [seen.path for seen in registry.seen]
    assert "/scanjs/-/scanjs-1.1.0.tgz" in paths  # builder's own integrity check
    assert "/tinydep" in paths  # npm's resolver, reading the same npmrc
    assert {seen.authorization for seen in registry.seen} == {f"Bearer {token}"}
    assert token not in result.output
    assert token not in builder_wrote(root)


def test_without_a_token_the_error_names_the_registry_and_the_missing_line(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    registry.token = "npm_demanded0token0a7f3"
    root = project(tmp_path, registry)
    result = run_cli(root, "lock")
    assert result.exit_code == 1
    host = registry.url.removeprefix("http:")
    assert (
        f"error: scanjs: scanjs: GET {registry.url}/scanjs: HTTP 401 Unauthorized: it asks for a login, "
        f"and {home()}/.npmrc has no '{host}/:_authToken=...' line"
    ) in result.output
    assert "builder.lock left unchanged" in result.output
    assert [(seen.path, seen.authorization) for seen in registry.seen] == [("/scanjs", None)]


def test_a_refused_token_is_named_by_its_npmrc_line_never_by_its_value(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    registry.token, stale = "npm_current0token0e5c1", "npm_expired0token0b2d8"
    registry.leak_token = True  # the 401 body quotes the token it got
    write_npmrc(home() / ".npmrc", registry, stale)
    result = run_cli(project(tmp_path, registry), "lock")
    assert result.exit_code == 1
    host = registry.url.removeprefix("http:")
    assert (
        f"HTTP 401 Unauthorized: the registry refused the token for {host}/ in {home()}/.npmrc "
        "(expired? log in again)"
    ) in result.output
    assert stale not in result.output
    assert registry.seen[0].authorization == f"Bearer {stale}"


def test_the_token_never_appears_even_when_the_registry_quotes_it(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    token = "npm_quoted0token0c4a2"
    registry.token, registry.leak_token = token, True
    registry.publish(make_tarball("scanjs", "1.3.0", {"missingdep": "^1"}))  # npm's 404 quotes the body
    write_npmrc(home() / ".npmrc", registry, token)
    root = project(tmp_path, registry)
    result = run_cli(root, "lock")
    assert result.exit_code == 1
    assert (
        f"npm install failed: 404 Not Found - GET {registry.url}/missingdep - Not found for token ****"
        in (result.output)
    )
    assert token not in result.output
    assert token not in builder_wrote(root)
    logs = home() / ".npm/_logs"  # npm writes no debug log that would keep the quoted token
    assert not logs.exists() or not any(token in p.read_text() for p in logs.iterdir())


def test_a_tarball_on_another_host_gets_no_authorization(tmp_path: Path, registry: NpmRegistry) -> None:
    token = "npm_own0host0token0f9e3"
    registry.token, registry.tarball_url = token, registry.other_host
    npmrc = write_npmrc(tmp_path / "npmrc", registry, token)
    locked = source(tmp_path, registry, {"NPM_CONFIG_USERCONFIG": str(npmrc)}).lock(
        SCANJS, Release("1.1.0"), PLATFORMS
    )
    assert [p.path for p in locked.payload.packages] == ["node_modules/scanjs", "node_modules/tinydep"]
    other = registry.other_host.removeprefix("http://")
    tarballs = [(seen.host, seen.authorization) for seen in registry.seen if "/-/" in seen.path]
    assert tarballs == [(other, None)]
    own = {seen.authorization for seen in registry.seen if seen.host != other}
    assert own == {f"Bearer {token}"}


def test_env_references_in_the_npmrc_are_expanded_from_the_environment(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    token = "npm_from0env0token0a0b1"
    registry.token = token
    npmrc = write_npmrc(tmp_path / "npmrc", registry, "${NPM_TOKEN}")
    env = {"NPM_CONFIG_USERCONFIG": str(npmrc), "NPM_TOKEN": token}
    assert [r.version for r in source(tmp_path, registry, env).releases(SCANJS)] == ["1.1.0"]
    assert registry.seen[-1].authorization == f"Bearer {token}"
    with pytest.raises(UpstreamError) as caught:
        source(tmp_path / "unset", registry, {"NPM_CONFIG_USERCONFIG": str(npmrc)}).releases(SCANJS)
    host = registry.url.removeprefix("http:")
    assert str(caught.value) == (
        f"scanjs: GET {registry.url}/scanjs: HTTP 401 Unauthorized: the token for {host}/ in {npmrc} "
        "is ${NPM_TOKEN}, which is not set"
    )
    assert registry.seen[-1].authorization is None


def test_the_longest_matching_line_wins_on_path_segment_boundaries(tmp_path: Path) -> None:
    npmrc = tmp_path / "npmrc"
    npmrc.write_text(
        "# comments and other keys are not tokens\n"
        "registry=https://npm.example.test/npm/private/\n"
        "//npm.example.test/:_authToken=host-wide-token\n"
        '//npm.example.test/npm/private/:_authToken = "private-repo-token"\n'
        "//npm.example.test:8443/:_authToken=other-port-token\n"
        "//npm.example.test/empty/:_authToken=\n"
    )
    auth = read_npm_auth(npmrc, {})
    assert auth.match("https://npm.example.test/npm/private/@acme%2fscan") == (
        "//npm.example.test/npm/private/",
        "private-repo-token",
    )
    assert auth.match("https://npm.example.test/npm/private/scan/-/scan-1.0.0.tgz") == (
        "//npm.example.test/npm/private/",
        "private-repo-token",
    )
    assert auth.match("https://npm.example.test/npm/privateer/scan") == (
        "//npm.example.test/",
        "host-wide-token",
    )
    assert auth.match("https://npm.example.test:443/npm/x") == ("//npm.example.test/", "host-wide-token")
    assert auth.match("https://npm.example.test:8443/x") == ("//npm.example.test:8443/", "other-port-token")
    assert auth.match("https://cdn.example.test/npm/private/scan/-/scan-1.0.0.tgz") is None
    assert auth.match("https://npm.example.test.evil.test/x") is None
    assert read_npm_auth(tmp_path / "missing", {}).tokens == {}
