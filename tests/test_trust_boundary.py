"""A reviewed file is hostile until checked: names that become paths or shell words, YAML that
expands, templates that point outside the project, store files whose bytes changed under their name."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from builder.building.build_context import assemble, context_dir
from builder.building.fetch import fetch
from builder.config.document import MAX_DEPTH
from builder.config.platforms import Platform
from builder.config.project import load_project
from builder.errors import UpstreamError, UserError
from builder.locking.lockfile import load_lockfile
from builder.plumbing.http import HttpClient, make_session
from builder.plumbing.progress import Progress
from builder.stores.base import ArtifactRef, ArtifactStore
from builder.stores.local import LocalStore
from tests.fakes.files import Files, serve
from tests.helpers import edit, line_of, run_cli
from tests.test_store_and_fetch import ref_for

AMD64 = Platform("linux", "amd64")


def config_error(project: Path, where: str, *args: str) -> str:
    result = run_cli(project, *args or ("render",))
    message = result.output.strip()
    assert result.exit_code == 2, message
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(f"error: {where}"), message
    return message


# ----- names that become paths or reach a shell, refused where they are written ----------------

HOSTILE = [
    "../../../../tmp/escaped",
    "a/../../b",
    "$(touch /tmp/pwned)",
    "`id`",
    "x;id",
    "x y",
    "-rf",
    ".hidden",
    "x\nRUN id",
    "x'y",
    'x"y',
    "x|y",
    "x\\y",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_locked_file_name_is_refused_at_load(minimal_project: Path, name: str) -> None:
    lock = minimal_project / "builder.lock"
    edit(lock, "file: hello_1.2.3_linux_amd64.tar.gz", f"file: {_yaml(name)}")
    line = line_of(lock, "hello/1.2.3/hello_1.2.3_linux_amd64") - 1
    message = config_error(minimal_project, f"builder.lock:{line}: ", "fetch", "--platform", "linux/amd64")
    assert "bad file name" in message or "line break" in message


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_asset_name_is_refused_at_load(minimal_project: Path, name: str) -> None:
    tools = minimal_project / "tools.yaml"
    edit(tools, "linux/amd64: solo-linux-amd64", f"linux/amd64: {_yaml(name)}")
    line = line_of(tools, "linux/arm64: solo-linux-arm64") - 1
    message = config_error(minimal_project, f"tools.yaml:{line}: ")
    assert "bad file name" in message or "line break" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("entry_points: {hello: bin/hello}", "entry_points: {hello: ../../../bin/sh}", "bad path"),
        ("entry_points: {hello: bin/hello}", "entry_points: {hello: /bin/sh}", "bad path"),
        ("entry_points: {hello: bin/hello}", "entry_points: {'$(id)': bin/hello}", "bad command name"),
        ("entry_points: {hello: bin/hello}", "entry_points: {'..': bin/hello}", "bad command name"),
        ("entry_points: {hello: bin/hello}", "entry_points: ['x;id']", "bad command name"),
        ("repository: example/hello", "repository: example/../../orgs/x", "bad repository"),
        ("product: zippy", "product: ../zippy", "bad product"),
        ("arm64: hello_{version}_linux_arm64.tar.gz", "arm64: hello_{version.__class__}.tar.gz", "bad file"),
        ("checksums: hello_{version}_checksums.txt", "checksums: ../sums", "bad file name"),
        ('env: {ZIPPY_QUIET: "1"}', 'env: {"A\\nRUN id": "1"}', "bad environment variable"),
        ('env: {ZIPPY_QUIET: "1"}', 'env: {ZIPPY_QUIET: "1\\nRUN id"}', "line break"),
        ("strip_components: 1", "strip_components: -1", "0 to 16"),
        ("  hello:\n", "  ../hello:\n", "bad tool name"),
    ],
)
def test_a_hostile_catalogue_value_is_refused_at_load(
    minimal_project: Path, old: str, new: str, expected: str
) -> None:
    tools = minimal_project / "tools.yaml"
    edit(tools, old, new)
    line = line_of(tools, new.strip().splitlines()[0][:20])
    assert expected in config_error(minimal_project, f"tools.yaml:{line}: ")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("workdir: /work", "workdir: /work;id", "bad workdir"),
        ("workdir: /work", "workdir: ../work", "bad workdir"),
        ("workdir: /work", 'workdir: "/work\\nUSER root"', "line break"),
        ("base: {external: debian}", 'base: {external: "debian\\nRUN id"}', "line break"),
    ],
)
def test_a_hostile_image_value_is_refused_at_load(
    minimal_project: Path, old: str, new: str, expected: str
) -> None:
    image = minimal_project / "images/base/image.yaml"
    edit(image, old, new)
    line = line_of(image, new.split(":", 1)[0] if "external" not in new else "external")
    assert expected in config_error(minimal_project, f"images/base/image.yaml:{line}: ")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  hello:\n    version: 1.2.3", "  hello:\n    version: 1.2.3/../x", "bad version"),
        (
            "url: https://example.test/hello/1.2.3/hello_1.2.3_linux_amd64.tar.gz",
            "url: file:///etc/passwd",
            "bad URL",
        ),
        ("resolver: npm ci", 'resolver: "npm ci\\nRUN id"', "line break"),
        ("- kind: npm-integrity", "- kind: trust-me", "unknown evidence kind 'trust-me'"),
        ("file: checksums.txt", "file: ../checksums.txt", "bad file name"),
        ("sha256: " + "c" * 64, "sha256: " + "C" * 64, "malformed sha256"),
        ("size: 100", "size: -5", "negative size -5"),
        ("node_modules/left:", "node_modules/../../left:", "bad npm package path"),
        ("jstool: cli.js", "jstool: ../../../etc/passwd", "bad bin target"),
        ("- name: dep", "- name: 'dep; id'", "bad Python package name"),
        ("- file: pyapp-0.3.1-py3-none-any.whl", "- file: ../pyapp.whl", "bad file name"),
    ],
)
def test_a_hostile_lock_value_is_refused_at_load(
    minimal_project: Path, old: str, new: str, expected: str
) -> None:
    lock = minimal_project / "builder.lock"
    edit(lock, old, new)
    line = line_of(lock, new.splitlines()[-1].strip()[:24])
    assert expected in config_error(minimal_project, f"builder.lock:{line}: ")


class _EveryArtifact:
    """A store that holds every artifact (bytes are not the point here: where they go is)."""

    name = "test"

    def has(self, ref: ArtifactRef) -> bool:
        return True

    def copy_to(self, ref: ArtifactRef, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"artifact")


@pytest.mark.parametrize("link", ["npm", "artifacts", "artifacts/hello"])
def test_a_context_folder_that_escapes_by_symlink_is_not_written_through(
    minimal_project: Path, tmp_path: Path, link: str
) -> None:
    """Defence in depth: even valid names are written only where they resolve inside the folder."""
    outside = tmp_path / "outside"
    outside.mkdir()
    context = tmp_path / "context"
    (context / link).parent.mkdir(parents=True)
    (context / link).symlink_to(outside, target_is_directory=True)
    project = load_project(minimal_project)
    store = cast(ArtifactStore, _EveryArtifact())
    with pytest.raises(UserError, match=r"refusing to write .*outside"):
        assemble(project, load_lockfile(minimal_project), "scanners", AMD64, store, context)
    assert list(outside.iterdir()) == []


def _yaml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ----- YAML that expands, nests or overflows ----------------------------------------------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("bcdefgh", "cdefghi", strict=True)
)


@pytest.mark.parametrize("file", ["builder.yaml", "tools.yaml", "images/base/image.yaml", "builder.lock"])
def test_alias_bombs_are_refused_with_file_and_line_in_every_file(minimal_project: Path, file: str) -> None:
    path = minimal_project / file
    path.write_text(path.read_text() + "\nbomb:\n" + "".join(f"  {line}\n" for line in BOMB.splitlines()))
    bomb_line = line_of(path, "b: &b")
    message = config_error(minimal_project, f"{file}:{bomb_line}: ")
    assert "YAML aliases (*name) are not allowed" in message


def test_an_alias_bomb_costs_no_memory(tmp_path: Path) -> None:
    """In a child process whose address space is capped at 512 MiB: on fbe8fab it died with
    MemoryError (exit 3); now it answers exit 2 within the cap."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "builder.yaml").write_text("store: {kind: local}\n" + "bomb:\n" + "".join(
        f"  {line}\n" for line in BOMB.splitlines()))  # fmt: skip
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20));"
        "from builder.cli.main import main; sys.argv = ['builder', '--project', sys.argv[1], 'render']; main()"
    )
    done = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "builder.yaml:4: " in done.stderr and "aliases" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n", "nested more than"),
        ("a: " + "[" * 20000 + "]" * 20000 + "\n", "invalid YAML"),
        ("a: " + "9" * 6000 + "\n", "unreadable value"),
        ("a: &x {b: 1}\nc:\n  <<: *x\n", "merge keys"),
        ("? [a, b]\n: c\n", "keys must be strings"),
        (
            "a: !!python/object/apply:os.system [id]\n",
            "tag 'tag:yaml.org,2002:python/object/apply:os.system'",
        ),
        ("a: !!python/name:os.system\n", "invalid YAML"),
        ("\ufeffa: 1\n\x00", "invalid YAML"),
    ],
)
def test_hostile_yaml_is_one_line_of_error(tmp_path: Path, text: str, expected: str) -> None:
    project = tmp_path / "p"
    (project / "images").mkdir(parents=True)
    (project / "builder.yaml").write_text(text)
    assert expected in config_error(project, "builder.yaml")


def test_a_huge_or_special_file_is_refused(minimal_project: Path) -> None:
    tools = minimal_project / "tools.yaml"
    with tools.open("a") as handle:
        handle.write("#" + "x" * (33 << 20) + "\n")
    assert "over 32 MiB" in config_error(minimal_project, "tools.yaml: ")
    tools.unlink()
    os.mkfifo(tools)  # a FIFO would block a plain read() forever
    assert "not a regular file" in config_error(minimal_project, "tools.yaml: ")


# ----- templates and image files that resolve outside the project -------------------------------


def test_a_template_symlinked_outside_the_project_is_refused(minimal_project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:secret\n")
    (minimal_project / "images/scanners/Dockerfile.j2").symlink_to(secret)
    message = config_error(minimal_project, "images/scanners/Dockerfile.j2: ")
    assert "outside the project" in message
    rendered = [p.read_text() for p in (minimal_project / "buildspecs").rglob("*") if p.is_file()]
    assert not any("root:x:0:0" in text for text in rendered)


def test_a_partial_symlinked_outside_the_project_is_refused(minimal_project: Path, tmp_path: Path) -> None:
    partial = minimal_project / "templates/partials/binary.j2"
    outside = tmp_path / "binary.j2"
    outside.write_text(partial.read_text())
    partial.unlink()
    partial.symlink_to(outside)
    assert "outside the project" in config_error(minimal_project, "templates/partials/binary.j2: ")


def test_a_symlink_inside_the_project_is_fine(minimal_project: Path) -> None:
    shared = minimal_project / "templates/shared.j2"
    shared.write_text((minimal_project / "templates/Dockerfile.j2").read_text())
    (minimal_project / "images/scanners/Dockerfile.j2").symlink_to(shared)
    assert run_cli(minimal_project, "render").exit_code == 0


def test_an_image_file_symlinked_outside_the_project_is_refused(
    minimal_project: Path, tmp_path: Path
) -> None:
    image = minimal_project / "images/scanners/image.yaml"
    outside = tmp_path / "image.yaml"
    outside.write_text(image.read_text())
    image.unlink()
    image.symlink_to(outside)
    assert "outside the project" in config_error(minimal_project, "images/scanners/image.yaml: ")


# ----- the local store proves bytes, not names --------------------------------------------------


def _flip_one_byte(path: Path) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_not_cached_and_is_moved_aside(tmp_path: Path) -> None:
    warnings: list[str] = []
    store = LocalStore(tmp_path / "store", warn=warnings.append)
    data = b"payload " * 4000
    with serve(Files()) as files:
        ref = ref_for(data, "a.tar.gz", files.add("/dl/a.tar.gz", data))
        fetch([ref], store, Progress(1, io.StringIO()), make_session())
        _flip_one_byte(store.path_of(ref.sha256))
        again = fetch([ref], store, Progress(1, io.StringIO()), make_session())
    assert again.cached == [] and again.downloaded == [ref]
    assert store.path_of(ref.sha256).read_bytes() == data
    aside = list((tmp_path / "store/corrupt").iterdir())
    assert len(aside) == 1 and aside[0].read_bytes() != data
    assert len(warnings) == 1 and "corrupt" in warnings[0] and str(aside[0]) in warnings[0]
    assert "builder fetch" in warnings[0]


def test_a_changed_file_with_its_mtime_put_back_is_still_caught(tmp_path: Path) -> None:
    """The stamp holds ctime too, which no one can set back; size and mtime alone could be forged."""
    store = LocalStore(tmp_path / "store", warn=lambda message: None)
    data = b"x" * 10_000
    ref = ref_for(data)
    (tmp_path / "in").write_bytes(data)
    store.put(ref, tmp_path / "in")
    path = store.path_of(ref.sha256)
    before = path.stat()
    _flip_one_byte(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert not store.has(ref)


def test_store_verify_hashes_every_file(minimal_project: Path, tmp_path: Path) -> None:
    store_root = tmp_path / "cache/builder/artifacts"
    store = LocalStore(store_root)
    files = {}
    for name in ("hello_1.2.3_linux_amd64.tar.gz", "hello_1.2.3_linux_arm64.tar.gz"):
        data = name.encode() * 10
        files[name] = data
    lock = minimal_project / "builder.lock"
    text = lock.read_text()
    for name, data in files.items():
        old = next(line for line in text.split(name, 1)[1].splitlines() if "sha256:" in line).split()[-1]
        text = text.replace(old, hashlib.sha256(data).hexdigest())
        text = text.replace(f"file: {name}\n        url: https://example.test/hello/1.2.3/{name}\n"
                            "        size: 100", f"file: {name}\n        url: https://example.test/hello"
                            f"/1.2.3/{name}\n        size: {len(data)}")  # fmt: skip
    lock.write_text(text)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        store.put(ref_for(data, name), tmp_path / name)
    _flip_one_byte(store.path_of(hashlib.sha256(files["hello_1.2.3_linux_arm64.tar.gz"]).hexdigest()))
    settings = minimal_project / "builder.yaml"
    edit(settings, "  kind: codeartifact\n", f"  kind: local\n  path: {store_root}\n")
    result = run_cli(minimal_project, "store", "verify")
    assert result.exit_code == 1, result.output
    assert "hello 1.2.3 (linux/arm64)" in result.output and "differs" in result.output
    assert "moved aside" in result.output
    assert "store verify: 1 of 8 locked artifacts" in result.output.splitlines()[-1]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    ref: example.test/debian:bookworm-slim", "    ref: 'debian AS evil'", "image reference"),
        ("    ref: example.test/debian:bookworm-slim", "    ref: '$(id)/debian'", "image reference"),
        ("  debian:\n", '  "deb ian":\n', "bad label"),
        ("registry: 111122223333.dkr.ecr.eu-west-1.amazonaws.com/scanners", "registry: 'a b'", "not valid"),
    ],
)
def test_a_hostile_setting_is_refused_at_load(
    minimal_project: Path, old: str, new: str, expected: str
) -> None:
    settings = minimal_project / "builder.yaml"
    edit(settings, old, new)
    line = line_of(settings, new.strip().splitlines()[0][:8])
    assert expected in config_error(minimal_project, f"builder.yaml:{line}: ")


# ----- upstream answers that grow without bound ------------------------------------------------


def test_a_gzip_bomb_answer_is_refused_before_it_fills_memory(tmp_path: Path) -> None:
    """200 KB on the wire that would inflate to 200 MiB of JSON in memory."""
    bomb = gzip.compress(b"[" + b" " * (200 << 20) + b"]", compresslevel=9)
    with serve(Files()) as files:
        url = files.add("/releases.json", bomb)
        files.gzipped.add("/releases.json")
        with pytest.raises(UpstreamError, match=r"the answer is over 64 MiB: refused"):
            HttpClient(make_session()).get_json(url)


@pytest.mark.parametrize("name", ["tools.yaml", "builder.yaml", "builder.lock"])
def test_a_project_file_linked_outside_the_project_is_refused_unread(
    minimal_project: Path, tmp_path: Path, name: str
) -> None:
    """Its lines would otherwise be quoted in the error (``unknown key 'root:x:0:0:...'``)."""
    outside = tmp_path / "shadow"
    outside.write_text("root:x:0:0:secret-line\n")
    (minimal_project / name).unlink()
    (minimal_project / name).symlink_to(outside)
    message = config_error(minimal_project, f"{name}: ")
    assert "outside the project" in message and "secret-line" not in message


def test_a_build_context_folder_linked_outside_the_project_is_refused(
    minimal_project: Path, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (minimal_project / ".builder").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UserError, match="refusing to write"):
        context_dir(load_project(minimal_project), "scanners", AMD64)
