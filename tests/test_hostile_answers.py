"""Every field of GitHub's release answers, replaced by a value of another shape, dropped, or
pointed at a cloud's metadata address: each run ends locked or in one line of BuilderError,
never in a Python exception and never in a connection the answer chose."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import pytest

from builder.errors import BuilderError
from builder.plumbing import http
from tests.test_source_github import AMD64, RELEASE, TRIVY, GitHub, fake, github, publish, server  # noqa: F401

Path = tuple[object, ...]
METADATA = "http://169.254.169.254/latest/meta-data/"


def _paths(value: object, prefix: Path = ()) -> Iterator[Path]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from _paths(value[0], (*prefix, 0))


def _mutated(value: object, path: Path, how: str) -> object:
    value = copy.deepcopy(value)
    parent: object = value
    for step in path[:-1]:
        try:
            parent = parent[step]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return value
    last = path[-1]
    try:
        old = parent[last]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return value
    if how == "drop" and isinstance(parent, dict):
        del parent[last]
    elif how == "shape":
        parent[last] = 7 if isinstance(old, str) else "x"  # type: ignore[index]
    elif how == "container":
        parent[last] = [] if isinstance(old, dict) else {}  # type: ignore[index]
    elif how == "url" and isinstance(old, str):
        parent[last] = METADATA  # type: ignore[index]
    elif how == "line" and isinstance(old, str):
        parent[last] = old + "\r\nforged: line"  # type: ignore[index]
    return value


def _answers(monkeypatch: pytest.MonkeyPatch, run: Callable[[], object]) -> list[object]:
    seen: list[object] = []
    parse = http._json

    def recording(url: str, text: str) -> object:
        seen.append(parse(url, text))
        return seen[-1]

    monkeypatch.setattr(http, "_json", recording)
    run()
    monkeypatch.setattr(http, "_json", parse)
    return seen


@pytest.mark.parametrize("how", ["drop", "shape", "container", "url", "line"])
def test_every_field_of_a_release_answer_ends_locked_or_in_one_line(
    github: GitHub,  # noqa: F811 - the fixture of tests.test_source_github, imported above
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    publish(github.fake)

    def run() -> object:
        github.fake.requests.clear()
        releases = github.source.releases(TRIVY)
        return releases, github.source.lock(TRIVY, RELEASE, [AMD64])

    answers = _answers(monkeypatch, run)
    paths = sorted({p for answer in answers for p in _paths(answer)}, key=repr)
    assert len(paths) > 20  # the listing and the release, with their assets' fields
    parse, outcomes = http._json, set()
    for path in paths:
        monkeypatch.setattr(http, "_json", lambda url, text, path=path: _mutated(parse(url, text), path, how))
        try:
            run()
            outcomes.add("locked")
        except BuilderError as e:
            assert "\n" not in str(e) and "\r" not in str(e), (path, str(e))
            outcomes.add(type(e).__name__)
        # anything else (a KeyError, or the test network's refusal of 169.254.169.254) fails here
    assert "UpstreamError" in outcomes
