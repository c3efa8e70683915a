"""A tool whose install produced no entry point fails its build, naming the tool and the entry point.

Real BuildKit builds of one image's npm stages: this machine's node and npm (packed as a Node-style
release archive) run a real `npm ci` against a fake registry on 127.0.0.1. The package `scanjs`
has the bin `scanjs`; the tool `badjs` installs the same package but expects a `badjs` command,
which npm never links. The archive kind's missing entry point is in test_e2e_build.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.building.engine import DockerClient, find_client
from builder.building.render import render_project
from builder.config.platforms import Platform
from builder.config.project import load_project
from builder.config.settings import Settings
from builder.kinds.npm_package import NpmTree
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.lockfile import LockedTool, Lockfile, load_lockfile, write_lockfile
from builder.plumbing.http import HttpClient, make_session
from builder.sources.base import Release, SourceDeps
from builder.sources.npm import NpmSource
from tests.conftest import REPO
from tests.fakes.evidence import TESTED
from tests.fakes.npm_registry import NpmRegistry, make_tarball, serve
from tests.helpers import remove_images

pytestmark = pytest.mark.docker
AMD64 = Platform("linux", "amd64")
TOOLS = """\
tools:
  runtime:
    source: nodejs
    install: archive
    strip_components: 1
    assets: {linux/amd64: "node-v{version}-linux-x64.tar.gz"}
    entry_points: {node: bin/node, npm: bin/npm}
    check: {command: [node, --version], pattern: 'v(\\S+)'}
  scanjs:
    source: npm
    package: scanjs
    requires: [runtime]
    install: npm-package
    check: {command: [scanjs], pattern: '(\\S+)$'}
  badjs:
    source: npm
    package: scanjs
    requires: [runtime]
    install: npm-package
    check: {command: [badjs], pattern: '(\\S+)$'}
"""


@pytest.fixture(scope="module")
def node_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """This machine's node and npm, laid out as Node's linux-x64 release archive."""
    node = shutil.which("node")
    assert node, "node is not installed on this machine"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    npm = Path(node).resolve().parent.parent / "lib/node_modules/npm"
    assert (npm / "bin/npm-cli.js").is_file(), f"npm is not beside {node}"
    top = f"node-{version}-linux-x64"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        archive.add(node, f"{top}/bin/node")
        archive.add(npm, f"{top}/lib/node_modules/npm")
        link = tarfile.TarInfo(f"{top}/bin/npm")
        link.type, link.linkname = tarfile.SYMTYPE, "../lib/node_modules/npm/bin/npm-cli.js"
        archive.addfile(link)
    return version.removeprefix("v"), buffer.getvalue()


@pytest.fixture(scope="module")
def registry() -> Iterator[NpmRegistry]:
    with serve(NpmRegistry()) as running:
        running.publish(make_tarball("scanjs", "1.1.0"))
        yield running


def locked_npm(root: Path, registry: NpmRegistry) -> LockedTool:
    """What `builder lock` pins for scanjs 1.1.0: real npm resolves the tree against the registry."""
    http = HttpClient(make_session(retries=1, backoff=0.01), cache_dir=root / "etags")
    ctx = SourceDeps(http, Settings(), {"npm": registry.url}, REPO / "builder/data/keys", root / "work",
                        env={"HOME": os.environ["HOME"], "PATH": os.environ["PATH"]})  # fmt: skip
    tool = load_project(root).tools["scanjs"]
    return NpmSource(ctx, npm_options=("--fetch-retries=0",)).lock(tool, Release("1.1.0"), [AMD64])


def make_project(root: Path, base_image: str, node: tuple[str, bytes], registry: NpmRegistry) -> Path:
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "images/tools").mkdir(parents=True)
    (root / "images/tools/image.yaml").write_text(
        "base: {external: debian}\ntools: [runtime, scanjs, badjs]\n"
    )
    (root / "tools.yaml").write_text(TOOLS)
    (root / "builder.yaml").write_text(
        f"registry: builder-entry-{secrets.token_hex(3)}\nplatforms: [linux/amd64]\n"
        f"base_images: {{debian: {{ref: '{base_image}'}}}}\n"
    )
    version, data = node
    file = f"node-v{version}-linux-x64.tar.gz"
    scanjs = locked_npm(root, registry)
    write_lockfile(root, Lockfile({
        "runtime": LockedTool("runtime", version, Artifacts({AMD64: Artifact(
            file, f"https://example.test/{file}", hashlib.sha256(data).hexdigest(), len(data), evidence=TESTED)})),
        "scanjs": scanjs,
        "badjs": LockedTool("badjs", scanjs.version, NpmTree(scanjs.payload.packages, TESTED)),
    }))  # fmt: skip
    context = root / "context"
    for path, rendered in render_project(load_project(root), load_lockfile(root)).items():
        target = context / path.removeprefix("buildspecs/tools/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rendered)
    (context / "artifacts/runtime").mkdir(parents=True)
    (context / "artifacts/runtime" / file).write_bytes(data)
    (root / "npmrc").write_text(f"registry={registry.url}/\n")
    return root


@pytest.fixture
def client() -> Iterator[DockerClient]:
    found = find_client(None, os.environ)
    yield found
    remove_images(found, "builder-entry-")


def build_stage(client: DockerClient, root: Path, tool: str) -> subprocess.CompletedProcess[str]:
    tag = f"{load_project(root).settings.registry}/tools:{tool}"
    argv = [*client.build_argv(), "--progress=plain", "--platform", "linux/amd64", "--network", "host",
            "--secret", f"id=npmrc,src={root / 'npmrc'}", "--target", f"tool-{tool}", "--tag", tag,
            str(root / "context")]  # fmt: skip
    return subprocess.run(argv, env=client.build_env(os.environ), capture_output=True, text=True, check=False)


def test_an_npm_tool_whose_entry_point_npm_ci_never_made_fails_its_build(
    tmp_path: Path,
    base_image: str,
    node_release: tuple[str, bytes],
    registry: NpmRegistry,
    client: DockerClient,
) -> None:
    root = make_project(tmp_path / "project", base_image, node_release, registry)
    good = build_stage(client, root, "scanjs")  # the check passes an entry point npm did link
    assert good.returncode == 0, good.stderr[-3000:]
    bad = build_stage(client, root, "badjs")
    assert bad.returncode != 0
    assert "badjs: entry point badjs (node_modules/.bin/badjs) missing after npm ci" in bad.stderr
