"""PyPISource against a real simple index on 127.0.0.1: releases from PEP 691/503 pages, locks by uv."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pytest
from pip._internal.models.index import PyPI

from builder.config.catalogue import Install, Tool, VersionCheck
from builder.config.platforms import Platform
from builder.config.settings import HttpSettings, Settings
from builder.config.versions import Constraint
from builder.errors import UpstreamError, UserError
from builder.locking.evidence import IndexHash
from builder.plumbing.http import HttpClient, make_session
from builder.sources.base import Release, SourceDeps, choose
from builder.sources.pypi import PyPISource
from tests.fakes.pypi import SimpleIndex, serve
from tests.fakes.wheels import make_wheel

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")
TOKEN = "s3cr3t-token"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def app(constraint: str = ">=1", package: str = "scanapp", extras: str | None = None) -> Tool:
    words = tuple(e.strip() for e in (extras or "").split(",") if e.strip())
    upstream = {"package": package} | ({"extras": words} if words else {})
    return Tool(name=package, source="pypi", upstream=upstream, constraint=Constraint.parse(constraint, "pep440"),
                install=Install("python-app", {}), check=VersionCheck((package,), r"(\S+)$"), where="tools.yaml:1")  # fmt: skip


def context(tmp_path: Path, base_urls: dict[str, str], settings: Settings | None = None) -> SourceDeps:
    http = HttpClient(make_session(), cache_dir=tmp_path / "etags", backoff=0.01)
    return SourceDeps(
        http, settings or Settings(), base_urls, Path("builder/data/keys"), tmp_path / "work", env={}
    )


WHEELS: dict[str, list[tuple[str, str, str, str | None]]] = {
    "scanapp": [("1.0.0", "py3-none-any", "2024-01-01T10:00:00Z", None),
                ("1.1.0", "py3-none-any", "2024-02-01T10:00:00Z", None),
                ("2.0.0", "py3-none-any", "2024-03-01T10:00:00Z", "broken entry point"),
                ("2.1.0rc1", "py3-none-any", "2024-04-01T10:00:00Z", None)],
    "helper": [("2.1.0", "cp311-cp311-manylinux_2_17_x86_64", "2024-01-05T00:00:00Z", None),
               ("2.1.0", "cp311-cp311-manylinux_2_17_aarch64", "2024-01-05T00:00:00Z", None)],
}  # fmt: skip


def fill(index: SimpleIndex) -> SimpleIndex:
    for name, wheels in WHEELS.items():
        for version, tag, uploaded, yanked in wheels:
            requires = ("helper>=2",) if name == "scanapp" else ()
            filename, data = make_wheel(name, version, requires, tag)
            index.add(filename, data, yanked=yanked, uploaded=uploaded)
    # 1.1.0 also has a yanked sdist, uploaded earlier: one good file keeps the version.
    index.add("scanapp-1.1.0.tar.gz", b"not really an sdist", yanked="", uploaded="2024-01-31T09:00:00Z")
    return index


@pytest.fixture
def index() -> Iterator[SimpleIndex]:
    with serve(fill(SimpleIndex())) as running:
        yield running


def test_releases_read_pep691_json_with_yank_prerelease_and_upload_time(
    tmp_path: Path, index: SimpleIndex
) -> None:
    releases = PyPISource(context(tmp_path, {"pypi": index.url})).releases(app())
    assert releases == [
        Release("1.0.0", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        Release("1.1.0", datetime(2024, 1, 31, 9, tzinfo=UTC)),
        Release("2.0.0", datetime(2024, 3, 1, 10, tzinfo=UTC), yanked=True),
        Release("2.1.0rc1", datetime(2024, 4, 1, 10, tzinfo=UTC), prerelease=True),
    ]
    assert index.answered == [("/simple/scanapp/", 200)]
    assert choose(app(), releases, NOW, "pep440").version == "1.1.0"


def test_lock_resolves_the_app_with_uv_for_each_platform_pinned_by_hash(
    tmp_path: Path, index: SimpleIndex
) -> None:
    locked = PyPISource(context(tmp_path, {"pypi": index.url})).lock(app(), Release("1.1.0"), [AMD64, ARM64])
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in index.files.items()}
    assert locked.name == "scanapp"
    assert locked.version == "1.1.0"
    uv = f"uv {installed_version('uv')}"
    assert locked.payload.proof == (
        IndexHash(uv, "CPython 3.11, manylinux 2.36", "the configured pip index"),
    )
    for platform, machine in ((AMD64, "x86_64"), (ARM64, "aarch64")):
        helper, scanapp = locked.payload.platforms[platform]
        assert (helper.name, helper.version, scanapp.name, scanapp.version) == (
            "helper",
            "2.1.0",
            "scanapp",
            "1.1.0",
        )
        assert [f.file for f in helper.files] == [f"helper-2.1.0-cp311-cp311-manylinux_2_17_{machine}.whl"]
        assert [f.file for f in scanapp.files] == ["scanapp-1.1.0-py3-none-any.whl"]
        assert all(f.sha256 == digests[f.file] for f in helper.files + scanapp.files)
    assert "://" not in str(locked.to_data())


def test_an_html_only_index_gives_releases_without_dates(tmp_path: Path) -> None:
    with serve(fill(SimpleIndex(html_only=True))) as index:
        releases = PyPISource(context(tmp_path, {"pypi": index.url})).releases(app())
    assert releases == [
        Release("1.0.0"),
        Release("1.1.0"),
        Release("2.0.0", yanked=True),
        Release("2.1.0rc1", prerelease=True),
    ]


def test_a_second_look_revalidates_with_the_etag(tmp_path: Path, index: SimpleIndex) -> None:
    source = PyPISource(context(tmp_path, {"pypi": index.url}))
    first, second = source.releases(app()), source.releases(app())
    assert first == second
    assert index.answered == [("/simple/scanapp/", 200), ("/simple/scanapp/", 304)]


def test_a_missing_project_names_the_tool_and_the_page(tmp_path: Path, index: SimpleIndex) -> None:
    with pytest.raises(UpstreamError) as caught:
        PyPISource(context(tmp_path, {"pypi": index.url})).releases(app(package="ghost"))
    assert str(caught.value) == f"ghost: GET {index.url}ghost/: HTTP 404 Not Found"


def test_a_failing_index_is_retried_then_reported(tmp_path: Path, index: SimpleIndex) -> None:
    source = PyPISource(context(tmp_path, {"pypi": index.url}))
    index.failures["/simple/scanapp/"] = [500]
    assert len(source.releases(app())) == 4  # one 500 is retried
    index.failures["/simple/scanapp/"] = [500] * 5
    with pytest.raises(UpstreamError) as caught:
        source.releases(app())
    assert str(caught.value) == f"scanapp: GET {index.url}scanapp/: HTTP 500 Internal Server Error"


def test_index_credentials_never_reach_a_message_or_the_origin(tmp_path: Path) -> None:
    with serve(fill(SimpleIndex(password=TOKEN))) as index:
        url = index.url.replace("http://", f"http://aws:{TOKEN}@")
        source = PyPISource(context(tmp_path, {"pypi": url}))
        assert [r.version for r in source.releases(app())] == ["1.0.0", "1.1.0", "2.0.0", "2.1.0rc1"]
        locked = source.lock(app(), Release("1.1.0"), [AMD64])
        with pytest.raises(UpstreamError) as missing:
            source.releases(app(package="ghost"))
        with pytest.raises(UserError) as unresolvable:
            source.lock(app(), Release("9.9.9"), [AMD64])
    redacted = index.url.replace("http://", "http://aws:****@")
    assert str(missing.value) == f"ghost: GET {redacted}ghost/: HTTP 404 Not Found"
    assert str(unresolvable.value).startswith("cannot resolve 'scanapp==9.9.9' for linux/amd64: ")
    assert TOKEN not in str(unresolvable.value)
    assert TOKEN not in str(locked.to_data())


def test_lock_asks_for_the_extras_and_reports_a_failed_resolution(tmp_path: Path) -> None:
    def failing(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        spec = Path(argv[argv.index("compile") + 1]).read_text()
        return subprocess.CompletedProcess(argv, 1, "", f"no solution for {spec.strip()}\n")

    source = PyPISource(context(tmp_path, {"pypi": "http://127.0.0.1:9/simple/"}), run=failing)
    with pytest.raises(UserError) as caught:
        source.lock(app(extras="cli, sarif"), Release("1.1.0"), [ARM64])
    assert str(caught.value) == (
        "cannot resolve 'scanapp[cli,sarif]==1.1.0' for linux/arm64: no solution for scanapp[cli,sarif]==1.1.0"
    )


def test_the_index_is_the_settings_else_pip_s_own_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = PyPISource(context(tmp_path, {}, Settings(pip_index="http://127.0.0.1:9/simple/"))).index
    assert (configured.url, configured.described) == ("http://127.0.0.1:9/simple", "the configured pip index")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    default = PyPISource(context(tmp_path, {})).index
    assert (default.url, default.described) == (PyPI.simple_url.rstrip("/"), "pip's default index")


RACE = """
import json
from concurrent.futures import ThreadPoolExecutor
from builder.sources.pypi import _uv_binary as uv_binary
with ThreadPoolExecutor(8) as pool:
    futures = [pool.submit(uv_binary) for _ in range(8)]
found = set()
for future in futures:
    try:
        found.add(future.result())
    except Exception as e:
        found.add(f"{type(e).__name__}: {e}")
print(json.dumps(sorted(found)))
"""


def test_threads_that_first_look_for_uv_at_once_all_find_it() -> None:
    # Locking resolves Python apps in parallel; a fresh interpreter's first sysconfig read
    # is where threads used to see None. Each run is a new process, so each is a first read.
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, check=True)
        found = json.loads(done.stdout)
        assert len(found) == 1 and Path(found[0]).name == "uv", found


def _uv_command_lines(stop: threading.Event, seen: list[str]) -> None:
    """Every uv process's command line, read from /proc as any other local user could."""
    while not stop.is_set():
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().split(b"\0")
            except OSError:
                continue  # the process ended
            if argv and argv[0].endswith(b"/uv") and b"compile" in argv:
                seen.append(b" ".join(argv).decode(errors="replace"))
        time.sleep(0.01)


def test_the_index_token_is_never_on_uv_s_command_line(tmp_path: Path) -> None:
    with serve(fill(SimpleIndex(password=TOKEN, delay=0.3))) as index:
        url = index.url.replace("http://", f"http://aws:{TOKEN}@")
        stop, seen = threading.Event(), []
        watcher = threading.Thread(target=_uv_command_lines, args=(stop, seen))
        watcher.start()
        try:
            locked = PyPISource(context(tmp_path, {"pypi": url})).lock(app(), Release("1.1.0"), [AMD64])
        finally:
            stop.set()
            watcher.join()
    assert [r.name for r in locked.payload.platforms[AMD64]] == ["helper", "scanapp"]  # uv did authenticate
    assert seen, "uv was never seen running"
    assert not [line for line in seen if TOKEN in line or index.url.rstrip("/") in line], seen


def test_uv_is_given_no_other_index_than_builder_s(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A UV_EXTRA_INDEX_URL in the user's environment would let another index shadow a package."""
    with serve(fill(SimpleIndex())) as index, serve(SimpleIndex()) as other:
        filename, data = make_wheel("helper", "9.0.0", (), "py3-none-any")
        other.add(filename, data, uploaded="2024-01-05T00:00:00Z")
        monkeypatch.setenv("UV_EXTRA_INDEX_URL", other.url)
        monkeypatch.setenv("UV_INDEX", f"evil={other.url}")
        locked = PyPISource(context(tmp_path, {"pypi": index.url})).lock(app(), Release("1.1.0"), [AMD64])
    helper = locked.payload.platforms[AMD64][0]
    assert (helper.name, helper.version) == ("helper", "2.1.0")
    assert other.requests == []


def test_uv_gives_up_on_a_silent_index_within_builder_s_read_timeout(tmp_path: Path) -> None:
    """uv waits 30 s on a silent index by default; builder.yaml's http.read_timeout bounds it too.
    The index answers after 4 s: within uv's own default, past the 1 s configured here."""
    settings = Settings(http=HttpSettings(read_timeout=1.0))
    with serve(fill(SimpleIndex(delay=4.0))) as index:
        source = PyPISource(context(tmp_path, {"pypi": index.url}, settings))
        with pytest.raises(
            UserError, match=r"cannot resolve 'scanapp==1.1.0' for linux/amd64: .*Failed to fetch"
        ):
            source.lock(app(), Release("1.1.0"), [AMD64])
