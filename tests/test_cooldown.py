"""A tool's cooldown covers its whole dependency set: the real uv (``--exclude-newer``) and the real
npm (``--before``) resolve against fakes that state upload times (PEP 700 ``upload-time``, the
packument's ``time``), and a dependency published an hour ago never enters a lock. Only the clock
is fixed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from builder.config.catalogue import Tool
from builder.config.settings import Settings
from builder.config.versions import Constraint
from builder.errors import UserError
from builder.kinds.npm_package import NpmTree
from builder.kinds.python_app import Requirements
from builder.plumbing.http import HttpClient, make_session
from builder.sources.base import Release, SourceDeps
from builder.sources.npm import NpmSource
from builder.sources.pypi import PyPISource
from tests.fakes import npm_registry, pypi
from tests.fakes.npm_registry import NpmRegistry, make_tarball
from tests.fakes.pypi import SimpleIndex
from tests.fakes.wheels import make_wheel
from tests.test_source_npm import NPM, PLATFORMS, cli
from tests.test_source_pypi import AMD64, app

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
COOLDOWN = timedelta(days=3)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


HOUR_AGO, MONTH_AGO = _iso(NOW - timedelta(hours=1)), _iso(NOW - timedelta(days=30))


def deps(tmp_path: Path, urls: dict[str, str]) -> SourceDeps:
    http = HttpClient(make_session(), cache_dir=tmp_path / "etags", backoff=0.01)
    return SourceDeps(http, Settings(), urls, Path("builder/data/keys"), tmp_path / "work", env={},
                      clock=lambda: NOW)  # fmt: skip


def cooled(tool: Tool, constraint: str | None = None) -> Tool:
    changed = dataclasses.replace(tool, cooldown=COOLDOWN)
    if constraint is None:
        return changed
    return dataclasses.replace(changed, constraint=Constraint.parse(constraint, changed.constraint.scheme))


@pytest.fixture
def index() -> Iterator[SimpleIndex]:
    """scanapp 1.0.0 (a month old) needs helper>=2; helper 2.1.0 is a month old, 2.2.0 an hour."""
    served = SimpleIndex()
    for name, version, requires, uploaded in [
        ("scanapp", "1.0.0", ("helper>=2",), MONTH_AGO),
        ("scanapp", "1.1.0", ("helper>=2.2",), MONTH_AGO),
        ("scanapp", "1.2.0", ("helper>=2",), HOUR_AGO),
        ("helper", "2.1.0", (), MONTH_AGO),
        ("helper", "2.2.0", (), HOUR_AGO),
    ]:
        served.add(*make_wheel(name, version, requires), uploaded=uploaded)
    with pypi.serve(served) as running:
        yield running


def _pinned(locked: Requirements) -> dict[str, str]:
    return {r.name: r.version for r in locked.platforms[AMD64]}


def test_uv_takes_the_older_dependency_when_the_newest_is_inside_the_cooldown(
    tmp_path: Path, index: SimpleIndex
) -> None:
    source = PyPISource(deps(tmp_path, {"pypi": index.url}))
    fresh = source.lock(app(), Release("1.0.0"), [AMD64]).payload
    cooled_lock = source.lock(cooled(app()), Release("1.0.0"), [AMD64]).payload
    assert isinstance(fresh, Requirements) and isinstance(cooled_lock, Requirements)
    assert _pinned(fresh) == {"scanapp": "1.0.0", "helper": "2.2.0"}  # the index serves the new one
    assert _pinned(cooled_lock) == {"scanapp": "1.0.0", "helper": "2.1.0"}


def test_uv_refuses_an_app_that_needs_a_dependency_inside_the_cooldown(
    tmp_path: Path, index: SimpleIndex
) -> None:
    source = PyPISource(deps(tmp_path, {"pypi": index.url}))
    with pytest.raises(UserError) as caught:
        source.lock(cooled(app()), Release("1.1.0"), [AMD64])
    message = str(caught.value)
    cutoff = _iso(NOW - COOLDOWN)
    assert message.startswith(
        f"cannot resolve 'scanapp==1.1.0' for linux/amd64 (files uploaded after {cutoff} wait out the cooldown): "
    )
    assert "helper" in message and "\n" not in message


def test_an_exact_pin_inside_the_cooldown_is_taken_but_its_dependencies_still_wait(
    tmp_path: Path, index: SimpleIndex
) -> None:
    source = PyPISource(deps(tmp_path, {"pypi": index.url}))
    locked = source.lock(cooled(app(), "==1.2.0"), Release("1.2.0"), [AMD64]).payload
    assert isinstance(locked, Requirements)
    assert _pinned(locked) == {"scanapp": "1.2.0", "helper": "2.1.0"}


@pytest.fixture
def registry() -> Iterator[NpmRegistry]:
    """scanjs 1.0.0 (a month old) needs tinydep ^1.0.0: 1.0.0 is a month old, 1.0.1 an hour."""
    with npm_registry.serve(NpmRegistry()) as running:
        running.publish(make_tarball("tinydep", "1.0.0"), time=MONTH_AGO)
        running.publish(make_tarball("tinydep", "1.0.1"), time=HOUR_AGO)
        running.publish(make_tarball("scanjs", "1.0.0", {"tinydep": "^1.0.0"}), time=MONTH_AGO)
        running.publish(make_tarball("scanjs", "1.1.0", {"tinydep": "^1.0.1"}), time=MONTH_AGO)
        running.publish(make_tarball("scanjs", "1.2.0", {"tinydep": "^1.0.0"}), time=HOUR_AGO)
        yield running


def _tree(locked: object) -> dict[str, str]:
    assert isinstance(locked, NpmTree)
    return {p.path: p.version for p in locked.packages}


def test_npm_takes_the_older_dependency_when_the_newest_is_inside_the_cooldown(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    source = NpmSource(deps(tmp_path, {"npm": registry.url}), npm_options=NPM)
    fresh = source.lock(cli(), Release("1.0.0"), PLATFORMS).payload
    cooled_lock = source.lock(cooled(cli()), Release("1.0.0"), PLATFORMS).payload
    assert _tree(fresh)["node_modules/tinydep"] == "1.0.1"  # the registry serves the new one
    assert _tree(cooled_lock) == {"node_modules/scanjs": "1.0.0", "node_modules/tinydep": "1.0.0"}


def test_npm_refuses_a_package_that_needs_a_dependency_inside_the_cooldown(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    source = NpmSource(deps(tmp_path, {"npm": registry.url}), npm_options=NPM)
    with pytest.raises(UserError) as caught:
        source.lock(cooled(cli()), Release("1.1.0"), PLATFORMS)
    message = str(caught.value)
    assert message.startswith("npm install failed: notarget No matching version found for tinydep@^1.0.1")
    assert "with a date before" in message and message.endswith("(ETARGET)")


def test_npm_takes_an_exact_pin_inside_the_cooldown_with_nothing_newer_than_it(
    tmp_path: Path, registry: NpmRegistry
) -> None:
    source = NpmSource(deps(tmp_path, {"npm": registry.url}), npm_options=NPM)
    published = datetime.fromisoformat(HOUR_AGO)
    locked = source.lock(cooled(cli(), "1.2.0"), Release("1.2.0", published), PLATFORMS).payload
    assert _tree(locked) == {"node_modules/scanjs": "1.2.0", "node_modules/tinydep": "1.0.1"}
