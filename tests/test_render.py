"""Rendering: golden output, determinism, --check, atomicity, and what the output must never hold."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from builder.building.render import render_project
from builder.config.project import load_project
from builder.locking.lockfile import load_lockfile
from builder.plumbing.fsutil import write_all
from tests.buildspec_schema import validate_batch, validate_buildspec
from tests.conftest import REPO
from tests.helpers import edit, run_cli

GOLDEN = Path(__file__).parent / "golden" / "minimal"


def rendered(project: Path) -> dict[str, bytes]:
    return render_project(load_project(project), load_lockfile(project))


def test_golden_output(minimal_project: Path) -> None:
    files = rendered(minimal_project)
    if os.environ.get("BUILDER_UPDATE_GOLDEN"):
        for path, data in files.items():
            target = GOLDEN / Path(path).relative_to("buildspecs")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    golden = {f"buildspecs/{p.relative_to(GOLDEN)}": p.read_bytes() for p in GOLDEN.rglob("*") if p.is_file()}
    assert sorted(files) == sorted(golden)
    for path, data in files.items():
        assert data == golden[path], f"{path} differs from tests/golden (BUILDER_UPDATE_GOLDEN=1 rewrites it)"


def test_rendering_twice_gives_identical_bytes(repo_project: Path) -> None:
    assert rendered(repo_project) == rendered(repo_project)


def test_committed_output_is_current() -> None:
    result = run_cli(REPO, "render", "--check")
    assert result.exit_code == 0, result.output


def test_check_shows_a_diff_when_a_template_changes(repo_project: Path) -> None:
    edit(
        repo_project / "templates/partials/archive.j2",
        "sha256sum --check --strict",
        "sha256sum --check",
    )
    result = run_cli(repo_project, "render", "--check")
    assert result.exit_code == 1
    assert "--- a/buildspecs/container-scanners/Dockerfile" in result.output
    assert "-    sha256sum --check --strict /tmp/artifacts.sha256; \\" in result.output
    assert "+    sha256sum --check /tmp/artifacts.sha256; \\" in result.output
    assert "are stale: run `builder render`" in result.output


def test_check_reports_a_file_no_longer_generated(repo_project: Path) -> None:
    extra = repo_project / "buildspecs/container-scanners/requirements/old-amd64.txt"
    extra.parent.mkdir(parents=True)
    extra.write_text("old==1\n")
    assert run_cli(repo_project, "render", "--check").exit_code == 1
    result = run_cli(repo_project, "render")
    assert result.exit_code == 0
    assert not extra.exists()
    assert run_cli(repo_project, "render", "--check").exit_code == 0


def test_render_writes_only_what_changed(repo_project: Path) -> None:
    result = run_cli(repo_project, "render")
    assert result.exit_code == 0
    assert "(0 changed)" in result.output
    edit(repo_project / "images/container-scanners/image.yaml", "trivy and grype", "trivy + grype")
    result = run_cli(repo_project, "render", "container-scanners")
    assert "wrote buildspecs/container-scanners/Dockerfile" in result.output
    assert "buildspecs/base/" not in result.output


def test_a_failed_render_leaves_previous_output_whole(repo_project: Path) -> None:
    before = {p: p.read_bytes() for p in (repo_project / "buildspecs").rglob("*") if p.is_file()}
    edit(repo_project / "images/security-tools/image.yaml", "Every scanner", "All scanners")
    edit(repo_project / "templates/partials/npm-package.j2", "npm ci", "{{ missing_variable }}")
    result = run_cli(repo_project, "render")
    assert result.exit_code == 2
    after = {p: p.read_bytes() for p in (repo_project / "buildspecs").rglob("*") if p.is_file()}
    assert after == before


def test_atomic_write_keeps_the_old_file_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "Dockerfile"
    target.write_bytes(b"old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_all({target: b"new\n"})
    assert target.read_bytes() == b"old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_dockerfile_verifies_every_artifact_before_unpacking(minimal_project: Path) -> None:
    text = rendered(minimal_project)["buildspecs/scanners/Dockerfile"].decode()
    lock = load_lockfile(minimal_project)
    for name in ("hello", "zippy", "solo", "runtime"):
        stage = text.split(f"AS tool-{name}\n", 1)[1].split("\nFROM ", 1)[0]
        for artifact in lock.tools[name].payload.files.values():
            assert f"file={artifact.file}; sum={artifact.sha256}" in stage
        assert stage.index("sha256sum --check --strict") < stage.index("/out/opt/tools")


def test_final_stage_copies_only_payloads(minimal_project: Path) -> None:
    text = rendered(minimal_project)["buildspecs/scanners/Dockerfile"].decode()
    final = text.rsplit("\nFROM base\n", 1)[1]
    assert [line for line in final.splitlines() if line.startswith(("RUN", "COPY", "ADD"))] == [
        f"COPY --from=tool-{name} /out/ /"
        for name in ("solo", "zippy", "hello", "runtime", "pyapp", "jstool")
    ] + ["COPY sbom.cdx.json /usr/share/builder/sbom.cdx.json"]  # the SBOM the build writes beside them


def test_python_apps_install_with_hashes_from_a_secret_index(minimal_project: Path) -> None:
    files = rendered(minimal_project)
    text = files["buildspecs/scanners/Dockerfile"].decode()
    assert "RUN --mount=type=secret,id=pip-index-url" in text
    assert "--require-hashes --only-binary :all: --no-deps" in text
    requirements = files["buildspecs/scanners/requirements/pyapp-arm64.txt"].decode()
    assert "dep==2.0 \\\n    --hash=sha256:" in requirements
    locked = load_lockfile(minimal_project).tools["pyapp"].payload.platforms
    arm, amd = (
        next(r for r in reqs if r.name == "dep").files[0].sha256
        for reqs in (
            locked[next(p for p in locked if p.arch == "arm64")],
            locked[next(p for p in locked if p.arch == "amd64")],
        )
    )
    assert arm in requirements and amd not in requirements
    assert "://" not in requirements  # pinned by name, version and hash, never by URL


def test_npm_tools_get_a_lock_without_download_urls(minimal_project: Path) -> None:
    import json

    files = rendered(minimal_project)
    lock = json.loads(files["buildspecs/scanners/npm/jstool/package-lock.json"])
    assert lock["lockfileVersion"] == 3
    assert lock["packages"]["node_modules/left"]["integrity"].startswith("sha512-")
    assert all("resolved" not in entry for entry in lock["packages"].values())


def test_labels_carry_tool_versions_and_lock_digest(minimal_project: Path) -> None:
    text = rendered(minimal_project)["buildspecs/scanners/Dockerfile"].decode()
    assert (
        'builder.tools="solo=0.9.0 zippy=2.1.0 hello=1.2.3 runtime=24.1.0 pyapp=0.3.1 jstool=3.0.0"' in text
    )
    assert re.search(r'builder.lock-digest="sha256:[0-9a-f]{64}"', text)


def test_base_image_pinned_by_digest(minimal_project: Path) -> None:
    text = rendered(minimal_project)["buildspecs/base/Dockerfile"].decode()
    assert "FROM example.test/debian:bookworm-slim@sha256:" + "1" * 64 + " AS base" in text


def test_child_image_tag_follows_its_parent(minimal_project: Path) -> None:
    first = rendered(minimal_project)
    edit(minimal_project / "images/base/image.yaml", "minimal base", "minimal base, changed")
    second = rendered(minimal_project)
    parent_tag = re.compile(rb"FROM \S+/base:([0-9a-f]{12})-")
    assert parent_tag.search(first["buildspecs/scanners/Dockerfile"]) != parent_tag.search(
        second["buildspecs/scanners/Dockerfile"]
    )


def _stages(text: str) -> dict[str, str]:
    return {chunk.split("\n", 1)[0]: chunk for chunk in text.split("\nFROM ")}


def test_a_tool_bump_changes_only_that_tools_stage(minimal_project: Path) -> None:
    before = _stages(rendered(minimal_project)["buildspecs/scanners/Dockerfile"].decode())
    old = next(iter(load_lockfile(minimal_project).tools["zippy"].payload.files.values())).sha256
    edit(minimal_project / "builder.lock", f"sha256: {old}", "sha256: " + "e" * 64)
    after = _stages(rendered(minimal_project)["buildspecs/scanners/Dockerfile"].decode())
    assert before.keys() == after.keys()
    changed = {key for key in before if before[key] != after[key]}
    header = next(iter(before))  # carries the lock digest
    assert changed == {header, "base AS tool-zippy", "base"}


def test_buildspecs_use_only_keys_codebuild_accepts(repo_project: Path, minimal_project: Path) -> None:
    for project in (repo_project, minimal_project):
        for path, data in rendered(project).items():
            if path.endswith("batch.yml"):
                validate_batch(yaml.safe_load(data), path)
            elif path.endswith(("buildspec.yml", "manifest.yml")):
                validate_buildspec(yaml.safe_load(data), path)


def test_buildspec_leaves_the_token_to_builder_and_never_echoes(minimal_project: Path) -> None:
    spec = yaml.safe_load(rendered(minimal_project)["buildspecs/scanners/buildspec.yml"])
    every_command = [c for phase in spec["phases"].values() for c in phase.get("commands", [])]
    assert not any(re.search(r"\b(echo|set -x|printenv|env\b)", c) for c in every_command)
    # The token never passes through the shell: builder asks boto3 and writes a private secret file.
    assert not any("codeartifact" in c or "TOKEN" in c.upper() for c in every_command)
    build = spec["phases"]["build"]["commands"]
    assert build == [
        'builder build "$IMAGE_NAME" --platform "$PLATFORM" --push --strict --junit "reports/smoke-$IMAGE_NAME.xml"',
        # then, when Terraform named the key, the provenance of what this build made (nothing else)
        'if [ -n "${BUILDER_PROVENANCE_KMS_KEY:-}" ]; then builder provenance "$IMAGE_NAME" --platform "$PLATFORM"'
        ' --key "$BUILDER_PROVENANCE_KMS_KEY" --if-built --push --out "reports/provenance-$IMAGE_NAME.dsse.json"; fi',
        'builder sbom "$IMAGE_NAME" --platform "$PLATFORM" --out "reports/sbom-$IMAGE_NAME-${PLATFORM//\\//-}.cdx.json"',
        'if [ -n "${BUILDER_AWS_ACCOUNT_ID:-}" ]; then builder audit "$IMAGE_NAME" --security-hub; fi',
    ]
    assert spec["reports"]["smoke"] == {
        "files": ["smoke-*.xml"], "base-directory": "reports", "file-format": "JUNITXML"
    }  # fmt: skip
    pre_build = " ".join(spec["phases"]["pre_build"]["commands"])
    assert 'aws ecr get-login-password --region "eu-west-1"' in pre_build
    assert "post_build" not in spec["phases"]  # nothing is pushed that was not smoke-tested first
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11"}  # builder needs >= 3.11


def test_batch_edges_follow_the_image_graph(repo_project: Path) -> None:
    batch = yaml.safe_load(rendered(repo_project)["buildspecs/batch.yml"])
    graph = {entry["identifier"]: entry.get("depend-on", []) for entry in batch["batch"]["build-graph"]}
    project = load_project(repo_project)
    for name, image in project.images.items():
        nodes = [f"{name}_{platform.arch}".replace("-", "_") for platform in image.platforms]
        for node, platform in zip(nodes, image.platforms, strict=True):
            parent = image.base.image
            assert graph[node] == ([f"{parent}_{platform.arch}".replace("-", "_")] if parent else [])
        # The multi-platform tag is pushed once every platform's image is.
        assert graph[f"{name}_index".replace("-", "_")] == nodes
    # One build per image and platform plus one index per image: 6 x 3 (terraform/variables.tf images).
    assert len(graph) == sum(len(image.platforms) + 1 for image in project.images.values()) == 18
    order = list(graph)
    assert all(order.index(p) < order.index(n) for n, parents in graph.items() for p in parents)


_CREDENTIAL = re.compile(
    r"(aws:(?!%s)[^\s@\"']+@|_authToken=(?!%s)\S|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{20,}|"
    r"://[^/\s:@]+:(?!%s)[^@\s/]+@)"
)


def test_no_rendered_file_contains_a_credential(
    repo_project: Path, minimal_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.planted-token"
    monkeypatch.setenv("CODEARTIFACT_AUTH_TOKEN", token)
    monkeypatch.setenv("PIP_INDEX_URL", f"https://aws:{token}@example.test/pypi/pip-store/simple/")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "x" * 36)
    for project in (repo_project, minimal_project):
        for path, data in rendered(project).items():
            text = data.decode()
            assert token not in text, path
            assert not _CREDENTIAL.search(text), f"{path}: {_CREDENTIAL.search(text)}"
    assert _CREDENTIAL.search(f"PIP_INDEX_URL=https://aws:{token}@example.test/simple/")  # the scan can fire


def test_dockerfiles_hold_no_secret_in_arg_env_or_label(repo_project: Path) -> None:
    for path, data in rendered(repo_project).items():
        for line in data.decode().splitlines():
            if line.startswith(("ARG", "ENV", "LABEL")):
                assert not re.search(r"(?i)token|password|secret", line), f"{path}: {line}"


def test_no_syntax_line_and_no_frontend_features_the_builtin_frontend_lacks(
    repo_project: Path,
) -> None:
    for path, data in rendered(repo_project).items():
        if path.endswith("Dockerfile"):
            text = data.decode()
            assert "# syntax=" not in text
            assert "<<" not in text and "--link" not in text and ",env=" not in text
