"""Python apps resolved for real by uv, npm trees read the way npm writes them."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from builder.config.platforms import Platform
from builder.errors import UserError
from builder.plumbing import pipconf
from builder.sources import npm, pypi
from tests.fakes.pypi import SimpleIndex, serve
from tests.fakes.wheels import make_wheel

TARGET = pypi.PythonTarget("3.11", "2.36")


def test_resolve_app_pins_every_dependency_with_its_hash() -> None:
    index = SimpleIndex()
    wheels = [make_wheel("scanapp", "1.0.0", ("helper>=2",)), make_wheel("scanapp", "1.1.0", ("helper>=2",)),
              make_wheel("helper", "2.0.0"), make_wheel("helper", "2.1.0"), make_wheel("scanapp", "2.0.0")]  # fmt: skip
    for name, data in wheels:
        index.add(name, data)
    with serve(index):
        reqs = pypi.resolve_app("scanapp>=1,<2", TARGET, Platform("linux", "arm64"), index.url)
    assert [(r.name, r.version) for r in reqs] == [("helper", "2.1.0"), ("scanapp", "1.1.0")]
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in wheels}
    for req in reqs:
        (file,) = req.files
        assert file.sha256 == digests[file.file]
        assert "://" not in file.file


def test_resolve_app_failure_is_one_line_without_credentials() -> None:
    index = SimpleIndex(password="s3cr3t-token")
    with serve(index):
        url = index.url.replace("http://", "http://aws:s3cr3t-token@")
        with pytest.raises(UserError) as caught:
            pypi.resolve_app("nothing-here", TARGET, Platform("linux", "amd64"), url)
    message = str(caught.value)
    assert message.startswith("cannot resolve 'nothing-here' for linux/amd64:")
    assert "s3cr3t-token" not in message


def test_pip_index_url_prefers_settings_then_environment() -> None:
    assert (
        pipconf.pip_index_url("https://mirror.example.test/simple/", {})
        == "https://mirror.example.test/simple/"
    )
    env = {"PIP_INDEX_URL": "https://env.example.test/simple/"}
    assert pipconf.pip_index_url(None, env) == "https://env.example.test/simple/"
    assert pipconf.pip_index_url(None, {"PATH": os.environ["PATH"], "PIP_CONFIG_FILE": os.devnull}) is None


def test_npm_tree_drops_urls_and_keeps_integrity() -> None:
    lock = {
        "packages": {
            "": {"name": "x"},
            "node_modules/a": {"version": "1.0.0", "resolved": "https://registry.example.test/a.tgz",
                               "integrity": "sha512-" + "A" * 86 + "==", "bin": {"a": "cli.js"}, "license": "MIT"},
        }
    }  # fmt: skip
    (package,) = npm.packages_from_lock(lock)
    assert package.path == "node_modules/a"
    assert package.extra == {"bin": {"a": "cli.js"}}
    del lock["packages"]["node_modules/a"]["integrity"]
    with pytest.raises(UserError, match="has no integrity"):
        npm.packages_from_lock(lock)


def test_npm_failure_is_its_error_line_and_options_reach_npm() -> None:
    asked: list[list[str]] = []

    def failing(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        asked.append(argv)
        stderr = ("npm ERR! code E404\nnpm ERR! 404 Not Found - GET http://127.0.0.1:9/x - Not found\n"
                  "npm ERR! A complete log of this run can be found in: /tmp/log\n")  # fmt: skip
        return subprocess.CompletedProcess(argv, 1, "", stderr)

    with pytest.raises(UserError) as caught:
        npm.resolve_tree("x", "1.0.0", "http://127.0.0.1:9/", failing, options=("--fetch-retries=0",))
    assert (
        str(caught.value) == "npm install failed: 404 Not Found - GET http://127.0.0.1:9/x - Not found (E404)"
    )
    assert "--fetch-retries=0" in asked[0]
    assert "--no-update-notifier" in asked[0]


def test_no_python3_on_path_means_no_pip_configuration() -> None:
    def missing(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    assert pipconf.pip_index_url(None, {}, missing) is None


def test_npm_missing_from_the_machine_is_one_line() -> None:
    def missing(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(2, "No such file or directory", "npm")

    with pytest.raises(UserError) as caught:
        npm.latest_version("x", "^1", "http://127.0.0.1:9/", missing)
    assert str(caught.value) == "npm is not installed here (builder runs `npm view` for npm tools)"
