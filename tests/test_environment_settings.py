"""CodeBuild projects and the Lambda name CodeArtifact in the environment; builder.yaml fills the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.config.project import load_project, with_environment
from builder.config.settings import CodeArtifact
from builder.errors import ConfigError
from tests.helpers import run_cli

CODEBUILD = {  # what terraform/modules/codebuild sets on every project
    "BUILDER_CODEARTIFACT_DOMAIN": "security-tools-domain",
    "BUILDER_CODEARTIFACT_DOMAIN_OWNER": "123456789012",
    "BUILDER_CODEARTIFACT_REGION": "eu-west-1",
    "BUILDER_GENERIC_REPOSITORY": "generic-store",
    "BUILDER_PIP_REPOSITORY": "internal-store",
    "BUILDER_NPM_REPOSITORY": "internal-store",
}


def test_without_the_domain_variable_builder_yaml_stands(repo_project: Path) -> None:
    project = load_project(repo_project)
    assert with_environment(project, {"BUILDER_PIP_REPOSITORY": "x"}) is project
    assert project.settings.store.kind == "local"


def test_the_codebuild_variables_make_the_store_codeartifact(repo_project: Path) -> None:
    store = with_environment(load_project(repo_project), CODEBUILD).settings.store
    assert store.kind == "codeartifact"
    assert store.codeartifact == CodeArtifact(
        "security-tools-domain",
        "123456789012",
        "eu-west-1",
        "generic-store",
        "internal-store",
        "internal-store",
    )


def test_variables_override_builder_yaml_field_by_field(minimal_project: Path) -> None:
    configured = load_project(minimal_project).settings.store.codeartifact
    assert configured is not None
    env = {"BUILDER_CODEARTIFACT_DOMAIN": "other-domain", "BUILDER_PIP_REPOSITORY": "internal-store"}
    store = with_environment(load_project(minimal_project), env).settings.store.codeartifact
    assert store is not None
    assert (store.domain, store.pypi_repository) == ("other-domain", "internal-store")
    assert (store.domain_owner, store.region, store.token_duration) == (
        configured.domain_owner, configured.region, configured.token_duration
    )  # fmt: skip


def test_a_missing_owner_names_the_variable_and_the_key(repo_project: Path) -> None:
    env = {"BUILDER_CODEARTIFACT_DOMAIN": "d1", "BUILDER_CODEARTIFACT_REGION": "eu-west-1"}
    with pytest.raises(ConfigError) as caught:
        with_environment(load_project(repo_project), env)
    assert str(caught.value) == (
        "BUILDER_CODEARTIFACT_DOMAIN_OWNER: not set in the environment, "
        "nor store.codeartifact.domain_owner in builder.yaml"
    )


def test_the_cli_reads_them_too(repo_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILDER_CODEARTIFACT_DOMAIN", "d1")
    result = run_cli(repo_project, "render", "--check")
    assert result.exit_code == 2
    assert result.output.startswith("error: BUILDER_CODEARTIFACT_DOMAIN_OWNER: not set")
