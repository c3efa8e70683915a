"""Every way a project can be wrong: exit 2, one line naming file:line and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import edit, line_of, run_cli


def assert_config_error(project: Path, expected: str, *args: str) -> str:
    result = run_cli(project, *args or ("render",))
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "\n" not in message, f"expected one line, got:\n{message}"
    assert "Traceback" not in message
    assert expected in message, message
    return message


def test_bad_yaml_names_file_and_line(repo_project: Path) -> None:
    path = repo_project / "images/container-scanners/image.yaml"
    path.write_text("base:\n  image: base\ntools: [trivy, grype\n")
    message = assert_config_error(repo_project, "images/container-scanners/image.yaml:")
    assert "invalid YAML" in message


def test_unknown_key_suggests_and_lists_choices(repo_project: Path) -> None:
    path = repo_project / "images/iac-scanners/image.yaml"
    edit(path, "tools:", "tool:")
    line = line_of(path, "tool:")
    message = assert_config_error(repo_project, f"images/iac-scanners/image.yaml:{line}: ")
    assert "unknown key 'tool' (did you mean 'tools'?)" in message
    assert "expected one of: base, description" in message


def test_unknown_tool_in_image(repo_project: Path) -> None:
    path = repo_project / "images/container-scanners/image.yaml"
    edit(path, "tools: [grype, trivy]", "tools: [grype,\n  trivyy]")
    message = assert_config_error(repo_project, "images/container-scanners/image.yaml:5: ")
    assert "unknown tool 'trivyy' (did you mean 'trivy'?)" in message


def test_unknown_source(repo_project: Path) -> None:
    path = repo_project / "tools.yaml"
    edit(
        path,
        "    source: github\n    repository: anchore/grype",
        "    source: gitlab\n    repository: anchore/grype",
    )
    line = line_of(path, "source: gitlab")
    assert_config_error(
        repo_project,
        f"tools.yaml:{line}: tools.grype.source: unknown source 'gitlab' (did you mean 'github'?) "
        "(expected one of: github, hashicorp, nodejs, npm, pypi)",
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('version: ">=0.116,<1"', 'version: ">=banana"', "bad version range '>=banana'"),
        ('version: ">=1.8,<2"', 'version: "~=x"', "'~=x' is not a PEP 440 specifier"),
        ("cooldown: 3d\n    install: archive\n    assets:\n      linux/amd64: grype",
         "cooldown: soon\n    install: archive\n    assets:\n      linux/amd64: grype", "bad cooldown 'soon'"),
    ],
)  # fmt: skip
def test_bad_constraint(repo_project: Path, old: str, new: str, expected: str) -> None:
    path = repo_project / "tools.yaml"
    edit(path, old, new)
    line = line_of(path, new.splitlines()[0])
    message = assert_config_error(repo_project, f"tools.yaml:{line}: ")
    assert expected in message


def test_version_that_yaml_reads_as_a_number(repo_project: Path) -> None:
    edit(repo_project / "tools.yaml", 'version: "^24"', "version: 24.10")
    assert_config_error(repo_project, "expected a string, found the number 24.1 (quote it)")


def test_missing_lock_entry(repo_project: Path) -> None:
    lock = (repo_project / "builder.lock").read_text()
    start = lock.index("\n  grype:\n")
    end = lock.index("\n\n  node:\n")
    (repo_project / "builder.lock").write_text(lock[:start] + lock[end:])
    line = line_of(repo_project / "images/container-scanners/image.yaml", "tools:")
    assert_config_error(
        repo_project,
        f"images/container-scanners/image.yaml:{line}: tool 'grype' is missing from builder.lock: "
        "run `builder lock grype`",
    )


def test_lock_without_a_platform(repo_project: Path) -> None:
    path = repo_project / "builder.lock"
    lock = path.read_text()
    start = lock.index("      linux/arm64:\n        file: trivy_")
    end = lock.find("\n\n", start) % (len(lock) + 1)
    path.write_text(lock[:start] + lock[end:].lstrip("\n"))
    message = assert_config_error(repo_project, "builder.lock:")
    assert "trivy: no artifact for linux/arm64: run `builder lock trivy`" in message


def test_template_syntax_error_names_template_and_line(repo_project: Path) -> None:
    path = repo_project / "templates/partials/archive.j2"
    edit(path, "ARG TARGETARCH", "ARG TARGETARCH\n{% if %}")
    line = line_of(path, "{% if %}")
    assert_config_error(repo_project, f"templates/partials/archive.j2:{line}: ")


def test_undefined_template_variable_names_template_and_line(repo_project: Path) -> None:
    path = repo_project / "templates/Dockerfile.j2"
    edit(path, "FROM base\n", "FROM base\n# {{ image.colour }}\n")
    line = line_of(path, "image.colour")
    message = assert_config_error(repo_project, f"templates/Dockerfile.j2:{line}: ")
    assert "colour" in message


def test_cycle_in_image_graph(repo_project: Path) -> None:
    edit(
        repo_project / "images/base/image.yaml",
        "base:\n  external: debian",
        "base:\n  image: security-tools",
    )
    edit(
        repo_project / "images/security-tools/image.yaml",
        "image: base",
        "image: container-scanners",
    )
    message = assert_config_error(repo_project, "cycle in the image graph: ")
    assert "base -> security-tools -> container-scanners -> base" in message


def test_unknown_base_image(repo_project: Path) -> None:
    edit(repo_project / "images/container-scanners/image.yaml", "image: base", "image: bsae")
    assert_config_error(
        repo_project,
        "images/container-scanners/image.yaml:3: base image 'bsae' is not an image of this repository",
    )


def test_unknown_external_base(repo_project: Path) -> None:
    edit(repo_project / "images/base/image.yaml", "external: debian", "external: debain")
    assert_config_error(
        repo_project, "'debain' is not in base_images of builder.yaml (did you mean 'debian'?)"
    )


def test_duplicate_key(repo_project: Path) -> None:
    edit(repo_project / "builder.yaml", "registry: builder", "registry: builder\nregistry: other")
    line = line_of(repo_project / "builder.yaml", "registry: other")
    assert_config_error(repo_project, f"builder.yaml:{line}: duplicate key 'registry'")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("store:\n  kind: local", "store:\n  kind: s3", "unknown store kind 's3' (expected one of: codeartifact, local)"),
        ("store:\n  kind: local", "store:\n  kind: codeartifact", "store kind 'codeartifact' needs a 'codeartifact' section"),
        ("store:\n  kind: local", 'store:\n  kind: codeartifact\n  codeartifact: {domain: D, domain_owner: "1", region: x}',
         "'D' is not valid"),
        ("store:\n  kind: local",
         'store:\n  kind: codeartifact\n  codeartifact: {domain: d1, domain_owner: "123456789012", region: us-east-1, '
         "token_duration: 60}", "60 is out of range"),
        ("  - linux/arm64", "  - linux/s390x", "unsupported platform 'linux/s390x'"),
        ("  pip: null", "  pip: https://aws:secret@example.test/simple/", "credentials do not belong here"),
    ],
)  # fmt: skip
def test_bad_settings(repo_project: Path, old: str, new: str, expected: str) -> None:
    edit(repo_project / "builder.yaml", old, new)
    message = assert_config_error(repo_project, "builder.yaml:")
    assert expected in message
    assert "secret" not in message


def test_tool_needing_a_tool_the_image_lacks(repo_project: Path) -> None:
    edit(repo_project / "images/code-scanners/image.yaml", "tools: [node, ", "tools: [")
    assert_config_error(repo_project, "tool 'retire' needs 'node' listed before it (or in a base image)")


def test_unknown_image_on_the_command_line(repo_project: Path) -> None:
    assert_config_error(repo_project, "no image named 'container-scaners' (did you mean 'container-scanners'?)",
                        "render", "container-scaners")  # fmt: skip


def test_no_project_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from builder.cli.main import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["render"])
    assert result.exit_code == 2
    assert "no builder.yaml here or in any parent folder" in result.output


def test_debug_shows_the_traceback(repo_project: Path) -> None:
    edit(repo_project / "builder.yaml", "registry: builder", "registry: [x]")
    from click.testing import CliRunner

    from builder.cli.main import main

    result = CliRunner().invoke(main, ["--project", str(repo_project), "--debug", "render"])
    assert result.exit_code == 2
    assert "Traceback" in result.output


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    install: python-app\n    entry_points: [bandit]", "    install: archive\n    entry_points: [bandit]",
         "install kind 'archive' does not fit this source (expected one of: python-app)"),
        ("    install: python-app\n    entry_points: [bandit]", "    install: wheel\n    entry_points: [bandit]",
         "unknown install kind 'wheel'"),
        ("    entry_points: [bandit]", "    entry_points: [bandit]\n    assets: {linux/amd64: b.whl}",
         "'python-app' tools take no assets"),
        ("      pattern: '^bandit (\\S+)'", "      pattern: '^bandit \\S+'", "the pattern needs one group"),
        ("      pattern: '^bandit (\\S+)'", "      pattern: '^bandit ((\\S+)'", "bad regular expression"),
        ("    entry_points: [bandit]", "    entry_points: {bandit: ../../bin/sh}", "a relative path inside the tool's payload"),
        ("    entry_points: [bandit]", "    entry_points: ['rm -rf']", "bad command name 'rm -rf'"),
        ("    package: bandit\n", "", "missing required key 'package'"),
        ("    entry_points: {tflint: tflint}", "    entry_points: {tflint: tflint}\n    strip_components: one",
         "expected an integer"),
        ("    requires: [node]", "    requires: [nodejs]", "requires unknown tool 'nodejs' (did you mean 'node'?)"),
    ],
)  # fmt: skip
def test_bad_catalogue_entries(repo_project: Path, old: str, new: str, expected: str) -> None:
    edit(repo_project / "tools.yaml", old, new)
    message = assert_config_error(repo_project, "tools.yaml:")
    assert expected in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("base:\n  external: debian", "base:\n  external: debian\n  image: x", "expected exactly one of 'image'"),
        ("  uid: 10001", "  uid: 0", "uid 0 is out of range"),
        ("  name: scanner", "  name: Root User", "bad user name 'Root User'"),
        ("    output: '^scanner$'", "    output: '^(scanner$'", "bad regular expression"),
        ("workdir: /work", "workdir: /work\ntemplate: Missing.j2", "template 'Missing.j2' not found beside image.yaml"),
        ("workdir: /work", "workdir: /work\nplatforms: [windows/amd64]", "unsupported platform 'windows/amd64'"),
    ],
)  # fmt: skip
def test_bad_image_definitions(repo_project: Path, old: str, new: str, expected: str) -> None:
    edit(repo_project / "images/base/image.yaml", old, new)
    message = assert_config_error(repo_project, "images/base/image.yaml:")
    assert expected in message


def test_child_cannot_build_for_a_platform_its_parent_lacks(repo_project: Path) -> None:
    edit(
        repo_project / "images/base/image.yaml", "workdir: /work", "workdir: /work\nplatforms: [linux/amd64]"
    )
    edit(
        repo_project / "images/iac-scanners/image.yaml",
        "image: base",
        "image: base\nplatforms: [linux/arm64]",
    )
    assert_config_error(repo_project, "platforms: base image 'base' is not built for all of them")


def test_image_template_override(repo_project: Path) -> None:
    folder = repo_project / "images/container-scanners"
    (folder / "Custom.j2").write_text("{% extends 'Dockerfile.j2' %}\n")
    edit(folder / "image.yaml", "tools:", "template: Custom.j2\ntools:")
    (folder / "partials").mkdir()
    archive = (repo_project / "templates/partials/archive.j2").read_text()
    (folder / "partials/archive.j2").write_text(
        archive.replace("USER 0", "USER 0\n# overridden for this image")
    )
    result = run_cli(repo_project, "render", "container-scanners")
    assert result.exit_code == 0, result.output
    dockerfile = (repo_project / "buildspecs/container-scanners/Dockerfile").read_text()
    assert dockerfile.count("# overridden for this image") == 2
    assert "overridden" not in (repo_project / "buildspecs/iac-scanners/Dockerfile").read_text()


def test_lock_entry_that_does_not_match_the_catalogue(repo_project: Path) -> None:
    edit(
        repo_project / "tools.yaml",
        "linux/amd64: grype_{version}_linux_amd64.tar.gz",
        "linux/amd64: grype_{version}_linux_x86_64.tar.gz",
    )
    message = assert_config_error(repo_project, "builder.lock:")
    assert (
        "grype: locked file 'grype_0.117.0_linux_amd64.tar.gz' is not the catalogue's 'grype_0.117.0_linux_x86_64.tar.gz'"
        in message
    )


def test_prereleases_must_be_true_or_false(repo_project: Path) -> None:
    tools = repo_project / "tools.yaml"
    edit(
        tools, "repository: aquasecurity/trivy", "repository: aquasecurity/trivy\n    prereleases: sometimes"
    )
    line = line_of(tools, "prereleases:")
    assert_config_error(repo_project, f"tools.yaml:{line}: tools.trivy.prereleases: expected true or false")
