"""Generated names in every place a name is written: each is refused at load (exit 2, file:line),
or it renders a Dockerfile that hadolint accepts and whose paths stay inside their stage and context."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, REPO, copy_project
from tests.helpers import edit, run_cli
from tests.test_hadolint import hadolint

# Mostly the characters a name is made of, with every character a shell or a path gives meaning to.
HOSTILE = [*"$`;|&<>(){}[]'\"\\ \n\t\r./-_+~*?!#%^=:,@", "\x00", "\u2028", "\u202e", "\u200b", "\ufeff", "é"]
PIECES = st.sampled_from(["a", "b", "x", "0", "9", "..", "../", "$(id)", *HOSTILE])
NAMES = st.lists(PIECES, max_size=12).map("".join)
INERT = re.compile(r"[A-Za-z0-9@][A-Za-z0-9._+~@/-]*")
REFUSED = re.compile(r"^error: (tools\.yaml|builder\.lock|images/.+/image\.yaml):\d+: ")


def q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def tool_name(root: Path, name: str) -> str:
    edit(root / "tools.yaml", "  hello:\n    source: github", f"  {q(name)}:\n    source: github")
    edit(root / "images/scanners/image.yaml", " hello,", f" {q(name)},")
    edit(root / "builder.lock", "  hello:\n    version: 1.2.3", f"  {q(name)}:\n    version: 1.2.3")
    return "scanners"


def asset_name(root: Path, name: str) -> str:
    edit(root / "tools.yaml", "linux/amd64: solo-linux-amd64", f"linux/amd64: {q(name)}")
    edit(root / "builder.lock", "file: solo-linux-amd64", f"file: {q(name)}")
    return "scanners"


def entry_point(root: Path, name: str) -> str:
    command, _, path = name.partition("=")
    edit(
        root / "tools.yaml",
        "entry_points: {hello: bin/hello}",
        f"entry_points: {{{q(command)}: {q(path or name)}}}",
    )
    return "scanners"


def image_name(root: Path, name: str) -> str:
    (root / "images/scanners").rename(root / "images" / name)
    return name


def npm_package(root: Path, name: str) -> str:
    edit(root / "tools.yaml", "package: jstool", f"package: {q(name)}")
    return "scanners"


def python_package(root: Path, name: str) -> str:
    edit(root / "tools.yaml", "package: pyapp", f"package: {q(name)}")
    edit(root / "builder.lock", "- name: pyapp", f"- name: {q(name)}")
    return "scanners"


def _check(place: Callable[[Path, str], str], name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_project(FIXTURES / "minimal", Path(tmp) / "p")
        shutil.copytree(REPO / "templates", root / "templates")
        image = place(root, name)
        result = run_cli(root, "render")
        if result.exit_code != 0:
            message = result.output.strip()
            assert result.exit_code == 2, message
            assert "\n" not in message and REFUSED.match(message), message
            return
        for part in name.split("="):  # what was accepted is inert as a path and as a shell word
            assert INERT.fullmatch(part) and ".." not in part.split("/"), f"accepted {name!r}"
        _assert_inside(root, image)


def _assert_inside(root: Path, image: str) -> None:
    written = [p for p in (root / "buildspecs").rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to((root / "buildspecs").resolve()) for p in written)
    dockerfile = root / "buildspecs" / image / "Dockerfile"
    done = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in dockerfile.read_text().replace("\\\n", " ").splitlines():
        words = _words(line)
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            for source in words[1:-1]:
                assert not posixpath.normpath(source).startswith(".."), line
        for word in words:
            for prefix in ("/out/", "/opt/tools/", "/tmp/artifacts/"):
                if word.startswith(prefix):
                    assert posixpath.normpath(word).startswith(prefix.rstrip("/")), line


def _words(line: str) -> list[str]:
    if line.lstrip().startswith("#"):
        return []
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote: hadolint would have said so already
        return line.split()


PLACES = [tool_name, asset_name, entry_point, image_name, npm_package, python_package]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(NAMES)
def test_tool_names(name: str) -> None:
    _check(tool_name, name)


@SETTINGS
@given(NAMES)
def test_asset_names(name: str) -> None:
    _check(asset_name, name)


@SETTINGS
@given(NAMES, NAMES)
def test_entry_points(command: str, path: str) -> None:
    _check(entry_point, f"{command}={path}")


@SETTINGS
@given(NAMES.filter(lambda n: n not in ("", ".", "..") and "/" not in n and "\x00" not in n))
def test_image_names(name: str) -> None:
    _check(image_name, name)


@SETTINGS
@given(NAMES)
def test_npm_package_names(name: str) -> None:
    _check(npm_package, name)


@SETTINGS
@given(NAMES)
def test_python_package_names(name: str) -> None:
    _check(python_package, name)


def test_the_safe_names_do_render() -> None:
    """The property is not vacuous: ordinary names pass load and render."""
    for place, name in [(tool_name, "hello2"), (asset_name, "solo_1.0-x.bin"), (entry_point, "hi=bin/hello"),
                        (image_name, "my-scanners"), (npm_package, "@acme/js.tool"), (python_package, "py_app")]:  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            root = copy_project(FIXTURES / "minimal", Path(tmp) / "p")
            shutil.copytree(REPO / "templates", root / "templates")
            image = place(root, name)
            result = run_cli(root, "render")
            assert result.exit_code == 0, (name, result.output)
            _assert_inside(root, image)
