"""The AWS side (terraform/), checked offline with the real terraform binary and checkov.

Every command runs in a copy of terraform/ under a temporary directory, so the checkout is never
written to. The AWS provider comes from the filesystem mirror on the machine (FACTS.md section 8):
`BUILDER_TF_PLUGIN_DIR` names it, else /opt/tf-plugins, else the first `terraform-provider-aws_*`
found on disk. A missing terraform, mirror or checkov fails the test; nothing here is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

TERRAFORM_DIR = Path(__file__).resolve().parent.parent / "terraform"
MIRROR_ENV = "BUILDER_TF_PLUGIN_DIR"
CHECKOV_ENV = "BUILDER_CHECKOV"
DEFAULT_MIRROR = Path("/opt/tf-plugins")
PROVIDER_DIR = Path("registry.terraform.io", "hashicorp", "aws")
COPY_IGNORE = shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*", "*.tfplan")

CLI_CONFIG = """\
provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["registry.terraform.io/hashicorp/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/*"]
  }}
}}
"""

# Arguments that carry an IAM-style policy document, and the resources whose `policy` is not one.
POLICY_ARGUMENT = re.compile(r"^\s*(policy|assume_role_policy|policy_document)\s*=\s*(.+?)\s*$", re.M)
NOT_IAM_POLICIES = {"aws_ecr_lifecycle_policy"}
RESOURCE_BLOCK = re.compile(r'^resource "(\w+)" "(\w+)" \{$(.*?)^\}$', re.M | re.S)
POLICIES_LOCAL = re.compile(r"^  policies = \{$(.*?)^  \}$", re.M | re.S)
LOCAL_REFERENCE = re.compile(r"local\.(\w+)(\[[^\]]+\])?")
CHECKOV_SKIP = re.compile(r"#checkov:skip=CKV2?_AWS_\d+:\S.{24,}")
# Ways to attach a policy that the tests could not see (mocked data sources, managed policies).
UNCHECKED_POLICY_SOURCES = re.compile(
    r'data "aws_iam_policy_document"|\bpolicy_arn\b|\bmanaged_policy_arns\b|\binline_policy\b'
)


@dataclass(frozen=True)
class Run:
    """One finished command and what it printed."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    def report(self) -> str:
        return f"$ {' '.join(self.command)} (exit {self.returncode})\n{self.stdout}{self.stderr}"


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> Run:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(command, result.returncode, result.stdout, result.stderr)


def mirror_root(path: Path) -> Path | None:
    """The folder holding registry.terraform.io above a provider file, if there is one."""
    for parent in path.parents:
        if parent.name == "registry.terraform.io":
            return parent.parent
    return None


def find_mirror() -> Path:
    override = os.environ.get(MIRROR_ENV)
    if override:
        if not (Path(override) / PROVIDER_DIR).is_dir():
            pytest.fail(f"{MIRROR_ENV}={override} has no {PROVIDER_DIR} folder (a mirror's root)")
        return Path(override)
    if (DEFAULT_MIRROR / PROVIDER_DIR).is_dir():
        return DEFAULT_MIRROR
    found = subprocess.run(
        ["find", "/", "-path", "/proc", "-prune", "-o", "-name", "terraform-provider-aws_*", "-print"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    ).stdout.split()
    roots = [root for root in map(mirror_root, map(Path, found)) if root is not None]
    if not roots:
        pytest.fail(
            "no hashicorp/aws provider mirror on this machine: set "
            f"{MIRROR_ENV} to the folder that holds registry.terraform.io"
        )
    return roots[0]


def find_checkov() -> str:
    candidates = [
        os.environ.get(CHECKOV_ENV),
        str(Path(sys.executable).parent / "checkov"),
        shutil.which("checkov"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(
        f"checkov not found ({CHECKOV_ENV}, next to {sys.executable}, or on PATH): "
        "scripts/test installs it into .venv-checkov and sets BUILDER_CHECKOV"
    )


def copy_terraform(destination: Path) -> Path:
    shutil.copytree(TERRAFORM_DIR, destination, ignore=COPY_IGNORE)
    return destination


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH (these tests need the real binary, 1.7 or later)")
    config = tmp_path_factory.mktemp("tf-cli") / "terraform.rc"
    config.write_text(CLI_CONFIG.format(mirror=find_mirror()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CLI_ARGS", "TF_DATA_DIR"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
    )
    return env


@pytest.fixture(scope="module")
def initialized(tf_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    workdir = copy_terraform(tmp_path_factory.mktemp("tf") / "terraform")
    init = run(
        ["terraform", "init", "-backend=false", "-no-color", "-lockfile=readonly"],
        workdir,
        tf_env,
    )
    return workdir, init


def initialized_dir(initialized: tuple[Path, Run]) -> Path:
    workdir, init = initialized
    if init.returncode != 0:
        pytest.fail(f"terraform init failed, so this cannot run:\n{init.report()}")
    return workdir


@pytest.mark.terraform
def test_fmt_is_clean(tf_env: dict[str, str], tmp_path: Path) -> None:
    workdir = copy_terraform(tmp_path / "terraform")
    fmt = run(["terraform", "fmt", "-check", "-diff", "-recursive", "-no-color"], workdir, tf_env)
    assert fmt.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{fmt.report()}"


@pytest.mark.terraform
def test_init_from_the_mirror_accepts_the_committed_lock_file(
    initialized: tuple[Path, Run],
) -> None:
    workdir, init = initialized
    assert init.returncode == 0, init.report()
    lock = ".terraform.lock.hcl"
    assert (workdir / lock).read_bytes() == (TERRAFORM_DIR / lock).read_bytes()


@pytest.mark.terraform
def test_validate(initialized: tuple[Path, Run], tf_env: dict[str, str]) -> None:
    validate = run(["terraform", "validate", "-no-color"], initialized_dir(initialized), tf_env)
    assert validate.returncode == 0, validate.report()


@pytest.mark.terraform
def test_terraform_test_with_mock_provider(initialized: tuple[Path, Run], tf_env: dict[str, str]) -> None:
    tests = run(["terraform", "test", "-no-color"], initialized_dir(initialized), tf_env)
    assert tests.returncode == 0, tests.report()
    summary = re.search(r"Success! (\d+) passed, 0 failed", tests.stdout)
    assert summary and int(summary.group(1)) > 0, tests.report()


@pytest.mark.terraform
def test_checkov_finds_nothing(tmp_path: Path) -> None:
    workdir = copy_terraform(tmp_path / "terraform")
    command = [find_checkov(), "-d", str(workdir), "--framework", "terraform"]
    command += ["--compact", "--quiet", "--skip-download", "-o", "json"]
    scan = run(command, tmp_path, {**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    try:
        reports = json.loads(scan.stdout)
    except ValueError:
        pytest.fail(f"checkov printed no JSON report:\n{scan.report()}")
    for report in reports if isinstance(reports, list) else [reports]:
        failed = [
            f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
            for c in report["results"].get("failed_checks", [])
        ]
        assert not failed, "checkov failed checks (fix, or skip inline with a reason):\n" + "\n".join(failed)
        assert report["summary"]["parsing_errors"] == 0, scan.report()
        assert report["summary"]["resource_count"] > 0, f"checkov saw no resources:\n{scan.report()}"


@pytest.mark.terraform
def test_every_checkov_skip_is_inline_with_a_reason() -> None:
    skips = [
        (path.relative_to(TERRAFORM_DIR), line.strip())
        for path in sorted(TERRAFORM_DIR.rglob("*.tf"))
        for line in path.read_text().splitlines()
        if "checkov:skip" in line
    ]
    unexplained = [f"{path}: {line}" for path, line in skips if not CHECKOV_SKIP.fullmatch(line)]
    assert not unexplained, "write #checkov:skip=CKV_..:<reason a reviewer accepts>:\n" + "\n".join(
        unexplained
    )


def policy_problems(module_dir: Path) -> list[str]:
    """Policy arguments in one module that do not come from a local listed in `policies`."""
    texts = {path: path.read_text() for path in sorted(module_dir.glob("*.tf"))}
    listed = {
        name
        for text in texts.values()
        for block in POLICIES_LOCAL.findall(text)
        for name, _ in LOCAL_REFERENCE.findall(block)
    }
    problems = []
    for path, text in texts.items():
        where = path.relative_to(TERRAFORM_DIR)
        problems += [f"{where}: {m.group(0)}" for m in UNCHECKED_POLICY_SOURCES.finditer(text)]
        for kind, name, body in RESOURCE_BLOCK.findall(text):
            if kind in NOT_IAM_POLICIES:
                continue
            for argument, value in POLICY_ARGUMENT.findall(body):
                reference = LOCAL_REFERENCE.fullmatch(value)
                if reference is None or reference.group(1) not in listed:
                    problems.append(f"{where}: {kind}.{name}.{argument} = {value}")
    return problems


@pytest.mark.terraform
def test_every_policy_document_is_checked_by_the_iam_tests() -> None:
    """tests/iam.tftest.hcl checks the `policies` locals; a policy from elsewhere would escape it."""
    module_dirs = [TERRAFORM_DIR, *sorted(p for p in (TERRAFORM_DIR / "modules").iterdir())]
    problems = [problem for module_dir in module_dirs for problem in policy_problems(module_dir)]
    assert not problems, (
        "policy documents must be locals listed in the module's `policies` local "
        "(and so in the iam_policy_documents output):\n" + "\n".join(problems)
    )


MUTATIONS = {  # a change a reviewer must never wave through: (file, text, replacement, test that objects)
    "npm-store loses its external connection": (
        "modules/codeartifact/main.tf", 'external_connection = "public:npmjs"', "external_connection = null",
        "codeartifact.tftest.hcl",
    ),
    "the updater may send any secretsmanager action": (
        "modules/updater/main.tf", 'Action   = "secretsmanager:GetSecretValue"', 'Action   = "secretsmanager:*"',
        "iam.tftest.hcl",
    ),
    "the updater's log statement becomes Action *": (
        "modules/updater/main.tf", 'Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]', 'Action   = "*"',
        "iam.tftest.hcl",
    ),
    "a cron schedule may set both day fields": (
        "variables.tf", '(f[2] == "?") != (f[4] == "?")', " true", "root.tftest.hcl",
    ),
    "rate(1 days) passes for a plural": (
        "variables.tf", "([2-9]|[1-9][0-9]+) (minutes|hours|days)", "[1-9][0-9]* (minutes|hours|days)",
        "root.tftest.hcl",
    ),
}  # fmt: skip


@pytest.mark.terraform
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_terraform_test_fails_when_the_guarded_thing_is_broken(
    mutation: str, initialized: tuple[Path, Run], tf_env: dict[str, str], tmp_path: Path
) -> None:
    file, text, replacement, guard = MUTATIONS[mutation]
    workdir = tmp_path / "terraform"
    shutil.copytree(initialized_dir(initialized), workdir, symlinks=True)
    target = workdir / file
    assert target.read_text().count(text) == 1, f"{text!r} is no longer in {file}: update this mutation"
    target.write_text(target.read_text().replace(text, replacement))
    tests = run(["terraform", "test", "-no-color", f"-filter=tests/{guard}"], workdir, tf_env)
    assert tests.returncode != 0, f"terraform test passed with: {mutation}\n{tests.report()}"
    assert re.search(r"\d+ passed, [1-9]\d* failed", tests.stdout), tests.report()
