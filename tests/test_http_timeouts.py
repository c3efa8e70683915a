"""A stalled or trickling upstream: every request is bounded as a whole, and so is the run.

requests' read timeout is the silence allowed between two bytes, so a server that keeps sending a
byte now and then, or one retried five times at two minutes each, held `lock` for ten minutes.
The limits come from builder.yaml's `http:`; the tests set short ones and count attempts rather
than timing them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.config.settings import HttpSettings, load_settings
from builder.errors import IncompleteAnswer, UpstreamError
from builder.plumbing.http import HttpClient, HttpStatusError, make_session
from tests.fakes.files import Files
from tests.fakes.files import serve as serve_files
from tests.fakes.github import Failure, FakeGitHub, checksum_file, serve
from tests.helpers import edit, line_of, run_cli

ASSET = b"0123456789abcdef" * 32  # 512 bytes
RELEASES = "/repos/acme/scan/releases?per_page=100"


class Clock:
    """A monotonic clock that moves only when the client sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as running:
        running.release("acme/scan", "v1.0.0", {"scan-amd64": ASSET})
        yield running


def asset_url(fake: FakeGitHub) -> str:
    return f"{fake.download_url}/download/acme/scan/v1.0.0/scan-amd64"


def attempts(fake: FakeGitHub, path: str) -> int:
    return sum(1 for r in fake.requests if r.path == path)


def test_an_upstream_that_stalls_mid_answer_is_given_up_after_its_retries(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    path = "/download/acme/scan/v1.0.0/scan-amd64"
    fake.fail(path, *[Failure.stalled(100, 1.0)] * 5)
    sleeps: list[float] = []
    http = HttpClient(make_session(), limits=HttpSettings(read_timeout=0.2, retries=2), sleep=sleeps.append)
    with pytest.raises(IncompleteAnswer) as caught:
        http.download(asset_url(fake), tmp_path / "scan")
    assert str(caught.value) == (
        f"GET {asset_url(fake)}: the upstream stopped answering after 100 of 512 bytes; gave up after 3 attempts"
    )
    assert (caught.value.received, caught.value.expected, caught.value.stalled) == (100, 512, True)
    assert attempts(fake, path) == 3 and len(sleeps) == 2


def test_a_trickling_download_is_cut_at_the_download_timeout(tmp_path: Path) -> None:
    with serve_files(Files()) as files:
        url = files.add("/dl/slow.tar.gz", b"x" * 64 * 200)  # 200 pieces, 0.05 s apart: 10 s in all
        files.paces["/dl/slow.tar.gz"] = 0.05
        http = HttpClient(
            make_session(), limits=HttpSettings(read_timeout=2, download_timeout=0.5, retries=3)
        )
        with pytest.raises(UpstreamError) as caught:
            http.download(url, tmp_path / "slow.tar.gz")
    assert str(caught.value) == f"GET {url}: not done within 0.5 s (http.download_timeout in builder.yaml)"
    assert files.requests == ["/dl/slow.tar.gz"]  # a deadline is not retried: it bounds the retries too


def test_backoff_stops_at_the_request_timeout(fake: FakeGitHub) -> None:
    fake.fail(RELEASES, *[Failure(503)] * 20)
    clock = Clock()
    http = HttpClient(make_session(), limits=HttpSettings(request_timeout=3, retries=10), sleep=clock.sleep,
                      timer=clock)  # fmt: skip
    with pytest.raises(HttpStatusError) as caught:
        http.get_json(fake.url + RELEASES)
    assert caught.value.status == 503
    # Backoff 0.5 s, then 1 s (each plus up to 0.5 s of jitter); the next 2 s would pass the deadline.
    assert attempts(fake, RELEASES) == 3 and len(clock.sleeps) == 2 and sum(clock.sleeps) < 3


def test_the_run_timeout_bounds_every_later_request(fake: FakeGitHub) -> None:
    clock = Clock()
    http = HttpClient(make_session(), limits=HttpSettings(run_timeout=600), timer=clock)
    assert http.get_json(fake.url + RELEASES)[0]["tag_name"] == "v1.0.0"
    clock.now += 601
    with pytest.raises(UpstreamError) as caught:
        http.get_json(fake.url + RELEASES, conditional=False)
    assert (
        str(caught.value)
        == f"GET {fake.url}{RELEASES}: not done within 600 s (http.run_timeout in builder.yaml)"
    )
    assert attempts(fake, RELEASES) == 1


TOOLS = """\
tools:
  scan:
    source: github
    repository: acme/scan
    checksums: checksums.txt
    install: binary
    assets: {linux/amd64: scan-amd64}
    check: {command: [scan], pattern: '(\\S+)'}
"""


def project(root: Path, fake: FakeGitHub, http: str) -> Path:
    (root / "images/tools").mkdir(parents=True)
    (root / "images/tools/image.yaml").write_text(
        "base: {external: debian}\ntools: [scan]\nplatforms: [linux/amd64]\n"
    )
    (root / "tools.yaml").write_text(TOOLS)
    (root / "builder.yaml").write_text(
        f"base_images: {{debian: {{ref: 'x:1'}}}}\nupstreams: {{github_api: '{fake.url}', github_downloads: '{fake.download_url}'}}\nhttp: {http}\n"
    )
    return root


def test_lock_reports_a_stalled_upstream_after_the_attempts_builder_yaml_allows(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    fake.reset()
    fake.release(
        "acme/scan", "v1.0.0", {"scan-amd64": ASSET, "checksums.txt": checksum_file({"scan-amd64": ASSET})}
    )
    fake.fail(RELEASES, *[Failure.slow(1.0)] * 10)
    root = project(tmp_path / "project", fake, "{read_timeout: 0.2, retries: 1}")
    result = run_cli(root, "lock")
    assert result.exit_code == 1, result.output
    assert (
        f"error: scan: scan: cannot read the releases of acme/scan on GitHub: GET {fake.url}{RELEASES}: "
        "127.0.0.1 stopped answering (read timeout); gave up after 2 attempts"
    ) in result.output
    assert attempts(fake, RELEASES) == 2
    assert not (root / "builder.lock").exists()


def test_http_settings_are_read_from_builder_yaml(tmp_path: Path, fake: FakeGitHub) -> None:
    root = project(
        tmp_path, fake, "{connect_timeout: 2, read_timeout: 1.5, download_timeout: 900, retries: 0}"
    )
    assert load_settings(root).http == HttpSettings(
        connect_timeout=2, read_timeout=1.5, download_timeout=900, retries=0
    )
    assert load_settings(project(tmp_path / "default", fake, "{}")).http == HttpSettings()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "{read_timeout: -1}",
            "http.read_timeout: '-1' is not a number of seconds (expected more than 0, at most 86400)",
        ),
        ("{request_timeout: '60'}", "http.request_timeout: '60' is not a number of seconds"),
        ("{run_timeout: true}", "http.run_timeout: 'True' is not a number of seconds"),
        ("{retries: 11}", "http.retries: 11 is out of range (expected 0 to 10)"),
        ("{retries: 1.5}", "http.retries: expected an integer, found"),
        ("{read_timout: 1}", "unknown key 'read_timout' (did you mean 'read_timeout'?)"),
        ("[1, 2]", "http: expected a mapping"),
    ],
)
def test_bad_http_settings_name_file_and_line(repo_project: Path, value: str, message: str) -> None:
    path = repo_project / "builder.yaml"
    edit(
        path,
        "registry: builder",
        f"registry: builder\nhttp:\n  {value}"
        if value.startswith("{")
        else f"registry: builder\nhttp: {value}",
    )
    result = run_cli(repo_project, "render")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: builder.yaml:{line_of(path, value)}: "), result.output
    assert message in result.output and "\n" not in result.output.strip()
