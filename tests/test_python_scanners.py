"""The shipped python-scanners image, built for real, smoke-tested, and used as the quick start uses it.

Its four apps' locked wheels (semgrep, bandit, pip-audit, checkov, linux/amd64) are downloaded once
from the configured pip index, checked by the lock's hashes, and served from a local index that
demands basic auth ``aws:<token>``, as CodeArtifact does; the build gets that index as a secret.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from builder.building.engine import DockerClient
from builder.building.render import plan_images
from builder.config.platforms import Platform
from builder.config.project import load_project
from builder.locking.lockfile import load_lockfile
from tests.conftest import REPO, copy_project
from tests.fakes.pypi import SimpleIndex
from tests.fakes.pypi import serve as serve_index
from tests.helpers import run_cli

pytestmark = pytest.mark.docker
AMD64 = Platform("linux", "amd64")
APPS = ("bandit", "pip-audit", "semgrep", "checkov")
TOKEN = "eyJ2ZXIiOjEs" + secrets.token_hex(24)
# pip takes no tag older than the one given: name every glibc down to manylinux1 (FACTS.md 9).
TAGS = [f"manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)]
TAGS += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]


def download(requirements: Path, folder: Path, env: dict[str, str]) -> None:
    platforms = [arg for tag in TAGS for arg in ("--platform", tag)]
    done = subprocess.run(
        ["python3", "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes", "--only-binary", ":all:",
         *platforms, "--python-version", "3.11", "-d", str(folder), "-r", str(requirements)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"cannot fetch {requirements.name} from the configured pip index:\n{done.stderr}"
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Module fixtures run before the per-test home: give them their own."""
    folder = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(folder))
        patch.setenv("XDG_CACHE_HOME", str(folder / ".cache"))
        yield folder


@pytest.fixture(scope="module")
def index(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleIndex]:
    folder = tmp_path_factory.mktemp("wheels")
    requirements = [REPO / f"buildspecs/python-scanners/requirements/{app}-amd64.txt" for app in APPS]
    with ThreadPoolExecutor(max_workers=len(APPS)) as pool:
        list(pool.map(lambda path: download(path, folder, dict(os.environ)), requirements))
    served = SimpleIndex(password=TOKEN)
    for path in folder.iterdir():
        served.add(path.name, path.read_bytes())
    with serve_index(served):
        yield served


@pytest.fixture(scope="module")
def built(
    index: SimpleIndex, base_image: str, client: DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    root = copy_project(REPO, tmp_path_factory.mktemp("scanners") / "project")
    registry = f"builder-pyscan-{secrets.token_hex(3)}"
    (root / "builder.yaml").write_text(
        f"registry: {registry}\nplatforms: [linux/amd64]\nstore: {{kind: local, path: '{root / 'cache'}'}}\n"
        f"base_images: {{debian: {{ref: '{base_image}'}}}}\ndocker: {{network: host}}\n"
    )
    assert run_cli(root, "render").exit_code == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIP_INDEX_URL", index.url.replace("http://", f"http://aws:{TOKEN}@"))
        # --no-cache: a cached pip step would never ask the index, and this build must prove it can.
        result = run_cli(root, "build", "python-scanners", "--platform", "linux/amd64", "--no-cache")
    assert result.exit_code == 0, result.output[-4000:]
    assert TOKEN not in result.output
    assert {f"/files/{name}" for name in index.files} <= set(index.requests)  # every wheel came from it
    project = load_project(root)
    tag = (
        f"{registry}/python-scanners:{plan_images(project, load_lockfile(root))['python-scanners'].tag}-amd64"
    )
    assert re.search(rf"^{re.escape(tag)}\s+\d+\.\d MiB\s+built\s", result.output, re.M), result.output
    yield root, tag
    listed = subprocess.run([client.path, "images", "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True)  # fmt: skip
    mine = [i for i in listed.stdout.split() if i.startswith(registry + "/")]
    if mine:
        subprocess.run([client.path, "image", "rm", "-f", *mine], capture_output=True, check=False)


def test_python_scanners_smoke_test_passes_with_every_locked_version(built: tuple[Path, str]) -> None:
    root, _ = built
    result = run_cli(root, "smoke", "python-scanners", "--platform", "linux/amd64")
    assert result.exit_code == 0, result.output
    lock = load_lockfile(root)
    for app in APPS:
        version = re.escape(lock.tools[app].version)
        assert re.search(rf"{app} version\s+{version}\s+{version}\s+ok", result.output), result.output
        count = len(lock.tools[app].payload.platforms[AMD64])
        assert re.search(
            rf"{app} venv\s+the {count} locked distributions\s+exactly those\s+ok", result.output
        )
    assert "checkov lists its frameworks" in result.output


def scan(tag: str, source: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "scripts/scan"), "--image", tag, "--source", str(source)],
                          capture_output=True, text=True, check=False, env=dict(os.environ))  # fmt: skip


PLANTED_PY = """\
import subprocess


def run(command):
    assert command
    return subprocess.call(command, shell=True)
"""
PLANTED_TF = """\
resource "aws_s3_bucket" "open" {
  bucket = "planted"
}

resource "aws_security_group" "wide" {
  name = "wide"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""


def test_scan_reports_findings_by_severity_and_exit_status_and_still_succeeds(
    built: tuple[Path, str], tmp_path: Path
) -> None:
    _, tag = built
    source = tmp_path / "source"
    for path, text in {"builder/tool.py": PLANTED_PY, "terraform/main.tf": PLANTED_TF}.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text)
    source.chmod(0o700)  # a checkout private to its owner: the image's user (uid 10001) could not read it
    done = scan(tag, source)
    assert done.returncode == 0, done.stderr  # findings are the expected outcome, not a failure
    bandit, checkov = done.stdout.splitlines()
    # B602 (shell=True) is high, B404 (import subprocess) and B101 (assert) low.
    assert re.match(
        r"bandit   builder/    3 findings \(high 1, medium 0, low 2\) in 4 lines, exit 1, ", bandit
    )
    found = re.match(
        r"checkov  terraform/  (\d+) failed \(by severity: unrated (\d+)\), (\d+) passed", checkov
    )
    assert found and int(found[1]) == int(found[2]) > 0, checkov
    assert ", exit 1, " in checkov and "in 2 resources" in checkov


def test_scan_of_this_project_runs_read_only_as_the_images_user(built: tuple[Path, str]) -> None:
    _, tag = built
    done = scan(tag, REPO)
    assert done.returncode == 0, done.stderr
    bandit, checkov = done.stdout.splitlines()
    assert re.match(
        r"bandit   builder/    \d+ findings \(high \d+, medium \d+, low \d+\) in \d+ lines, exit [01], ",
        bandit,
    )
    assert re.match(
        r"checkov  terraform/  \d+ failed \(by severity: [^)]*\), \d+ passed, \d+ skipped, in \d+ resources",
        checkov,
    )
    assert "read-only, as the image's user, no network" in done.stderr
