"""Hostile names in the templates: every value reaches the shell as one quoted word, or is refused.

The catalogue and lockfile loaders refuse such names first; these tests build Tool and LockedTool
values directly, past that layer, to prove the templates hold on their own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.building.engine import DockerClient, find_client
from builder.building.render import render_project
from builder.config.images import User
from builder.config.platforms import Platform
from builder.config.project import Project, load_project
from builder.errors import TemplateError
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.lockfile import LockedTool, Lockfile
from tests.fakes.evidence import TESTED
from tests.helpers import remove_images

AMD64 = Platform("linux", "amd64")
TOOLS = """\
tools:
  solo:
    source: github
    repository: example/solo
    install: binary
    assets: {linux/amd64: solo-linux-amd64}
    check: {command: [solo], pattern: '(\\S+)'}
  packed:
    source: github
    repository: example/packed
    install: archive
    strip_components: 1
    assets: {linux/amd64: packed.tar.gz}
    check: {command: [packed], pattern: '(\\S+)'}
"""
HOSTILE = (
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
    "x; touch /tmp/pwned",
    "a b",
    'it\'s "quoted"',
    "$HOME${IFS}*",
    "a|b&c>d<e",
)
CONTROL = ("a\nRUN touch /tmp/pwned", "a\rb", "a\tb", "a\x00b", "a\u2028b", "a\u202eb")


def project(root: Path, base_image: str = "builder-debian:bookworm") -> Path:
    (root / "images/tools").mkdir(parents=True)
    (root / "images/tools/image.yaml").write_text("base: {external: debian}\ntools: [solo, packed]\n")
    (root / "tools.yaml").write_text(TOOLS)
    (root / "builder.yaml").write_text(
        f"registry: builder-quoting-{secrets.token_hex(3)}\nplatforms: [linux/amd64]\n"
        f"base_images: {{debian: {{ref: '{base_image}'}}}}\n"
    )
    shutil.copytree(Path(__file__).resolve().parent.parent / "templates", root / "templates")
    return root


def hostile(
    loaded: Project,
    file: str = "solo-linux-amd64",
    entry_points: dict[str, str] | None = None,
    **fields: object,
) -> tuple[Project, Lockfile]:
    """``solo`` with these values, made directly (as no loader would let them through)."""
    asset = file  # '{version}' is the only placeholder, filled by plain replacement
    tool = loaded.tools["solo"]
    install = dataclasses.replace(
        tool.install, assets={AMD64: asset}, entry_points=entry_points or {"solo": "solo"}
    )
    solo = dataclasses.replace(tool, install=install, **fields)
    tools = {**loaded.tools, "solo": solo}
    artifact = Artifact(file, "https://example.test/solo", "0" * 64, 1, evidence=TESTED)
    lock = Lockfile({
        "solo": LockedTool("solo", "0.9.0", Artifacts({AMD64: artifact})),
        "packed": LockedTool("packed", "1.0.0", Artifacts({AMD64: Artifact(
            "packed.tar.gz", "https://example.test/packed", "1" * 64, 1, evidence=TESTED)})),
    })  # fmt: skip
    return dataclasses.replace(loaded, tools=tools), lock


def dockerfile(loaded: Project, lock: Lockfile) -> str:
    return render_project(loaded, lock)["buildspecs/tools/Dockerfile"].decode()


def shell_text(text: str) -> str:
    """The rendered file without its comment lines (which may name a tool, never run it)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


@pytest.mark.parametrize("value", HOSTILE)
def test_every_hostile_value_reaches_the_shell_as_one_quoted_word(tmp_path: Path, value: str) -> None:
    loaded = load_project(project(tmp_path / "p"))
    text = shell_text(dockerfile(*hostile(loaded, file=value, entry_points={value: value})))
    quoted = shlex.quote(value)
    assert quoted != value
    assert f"file={quoted};" in text
    assert f'install -m 0755 "/tmp/artifacts/$file" /out/opt/tools/solo/{quoted};' in text
    assert f"ln -s /opt/tools/solo/{quoted} /out/usr/local/bin/{quoted};" in text
    assert value not in text.replace(quoted, "")  # nowhere unquoted
    # What the shell reads back from the assignment is the value itself, one word.
    line = next(line for line in text.splitlines() if "file=" in line)
    assert shlex.split(line.split("file=", 1)[1].split("; sum=", 1)[0]) == [value]


def test_the_other_shell_values_are_quoted_too(tmp_path: Path) -> None:
    loaded = load_project(project(tmp_path / "p"))
    image = dataclasses.replace(loaded.images["tools"], user=User("we b$(id)", 10001), workdir="/my work")
    loaded = dataclasses.replace(loaded, images={**loaded.images, "tools": image})
    packed = loaded.tools["packed"]
    packed = dataclasses.replace(
        packed, install=dataclasses.replace(packed.install, entry_points={"a;b": "bin/$(x)"})
    )
    loaded, lock = hostile(dataclasses.replace(loaded, tools={**loaded.tools, "packed": packed}))
    lock = lock.with_tool(dataclasses.replace(lock.tools["solo"], payload=Artifacts({AMD64: dataclasses.replace(
        lock.tools["solo"].payload.files[AMD64], sha256="$(touch /tmp/pwned)")})))  # fmt: skip
    text = dockerfile(loaded, lock)
    assert "sum='$(touch /tmp/pwned)' ;;" in text
    assert "--user-group --create-home --shell /bin/bash 'we b$(id)'" in text
    assert "install -d -o 'we b$(id)' -g 'we b$(id)' '/my work'" in text
    assert "/out/opt/tools/packed/'bin/$(x)';" in text
    assert "ln -s /opt/tools/packed/'bin/$(x)' /out/usr/local/bin/'a;b';" in text
    assert "USER 10001" in text


@pytest.mark.parametrize("value", CONTROL)
def test_a_control_character_is_refused_naming_the_template_line_and_key(tmp_path: Path, value: str) -> None:
    loaded = load_project(project(tmp_path / "p"))
    with pytest.raises(TemplateError) as caught:
        dockerfile(*hostile(loaded, file=value))
    message = str(caught.value)
    assert message.startswith("templates/partials/binary.j2:10: ")
    assert repr(value) in message and "control character" in message
    assert "{{ artifact.file | sh }}" in message


def test_a_new_line_in_a_non_shell_instruction_is_refused(tmp_path: Path) -> None:
    loaded = load_project(project(tmp_path / "p"))
    image = dataclasses.replace(loaded.images["tools"], workdir="/work\nRUN touch /tmp/pwned")
    with pytest.raises(TemplateError) as caught:
        dockerfile(*hostile(dataclasses.replace(loaded, images={**loaded.images, "tools": image})))
    assert str(caught.value).startswith("templates/Dockerfile.j2:")
    assert "{{ image.workdir }}" in str(caught.value)
    solo, lock = hostile(loaded, upstream={"repository": "x\nRUN touch /tmp/pwned"})
    with pytest.raises(TemplateError, match=r"^templates/partials/binary.j2:1: .*tool.about"):
        dockerfile(solo, lock)


@pytest.mark.parametrize("name", ["a b", "$(touch /tmp/pwned)", "x'y", "a\\b", "`id`"])
def test_a_tool_name_that_is_not_one_plain_word_is_refused_where_it_names_a_stage(
    tmp_path: Path, name: str
) -> None:
    loaded, lock = hostile(load_project(project(tmp_path / "p")))
    image = dataclasses.replace(loaded.images["tools"], tools=(name, "packed"), tool_lines={
        name: "images/tools/image.yaml:2", "packed": "images/tools/image.yaml:2"})  # fmt: skip
    tools = {name: dataclasses.replace(loaded.tools["solo"], name=name), "packed": loaded.tools["packed"]}
    loaded = dataclasses.replace(loaded, tools=tools, images={**loaded.images, "tools": image})
    lock = Lockfile(
        {name: dataclasses.replace(lock.tools["solo"], name=name), "packed": lock.tools["packed"]}
    )
    with pytest.raises(TemplateError) as caught:
        dockerfile(loaded, lock)
    assert str(caught.value).startswith("templates/partials/binary.j2:2: ")
    assert "is not one plain word" in str(caught.value) and "{{ tool.name | word }}" in str(caught.value)


# A real build of the tool's stage. Each payload, unquoted, would run a command in the stage (and,
# for the file name, find the decoy that the command substitution leaves): quoted, none does.
PAYLOAD_FILE = "solo`touch pwned-file`.bin"
PAYLOAD_ENTRY_POINTS = {"solo;touch pwned-command": "solo", "plain": "$(touch pwned-path)solo"}


@pytest.fixture
def client() -> Iterator[DockerClient]:
    found = find_client(None, os.environ)
    yield found
    remove_images(found, "builder-quoting-")


@pytest.mark.docker
def test_a_real_build_of_hostile_names_runs_none_of_them(
    tmp_path: Path, base_image: str, client: DockerClient
) -> None:
    root = project(tmp_path / "p", base_image)
    loaded = load_project(root)
    data = b"#!/bin/sh\necho 0.9.0\n"
    loaded, lock = hostile(loaded, file=PAYLOAD_FILE, entry_points=PAYLOAD_ENTRY_POINTS)
    lock = lock.with_tool(dataclasses.replace(lock.tools["solo"], payload=Artifacts({AMD64: Artifact(
        PAYLOAD_FILE, "https://example.test/solo", hashlib.sha256(data).hexdigest(), len(data), evidence=TESTED)})))  # fmt: skip
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile(loaded, lock))
    (context / "artifacts/solo").mkdir(parents=True)
    (context / "artifacts/solo" / PAYLOAD_FILE).write_bytes(data)
    (context / "artifacts/solo/solo.bin").write_bytes(data)  # the decoy: what `file` would be, unquoted
    tag = f"{loaded.settings.registry}/tools:stage"
    argv = [
        *client.build_argv(),
        "--platform",
        "linux/amd64",
        "--target",
        "tool-solo",
        "--tag",
        tag,
        str(context),
    ]
    done = subprocess.run(argv, env=client.build_env(os.environ), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert in_stage(client, tag, "find / -xdev -name 'pwned*' 2>/dev/null") == []  # no marker anywhere
    # The names were data: the files are named exactly so.
    assert in_stage(client, tag, "ls -A /out/opt/tools/solo") == ["$(touch pwned-path)solo", "solo"]
    assert in_stage(client, tag, "ls -A /out/usr/local/bin") == ["plain", "solo;touch pwned-command"]


def in_stage(client: DockerClient, tag: str, script: str) -> list[str]:
    argv = [client.path, "run", "--rm", "--network", "none", tag, "sh", "-c", script]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()
