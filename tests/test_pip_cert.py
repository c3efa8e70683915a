"""The CA bundle of the user's pip configuration reaches the in-build pip (a TLS-inspecting proxy's CA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.building.secrets import user_secrets
from builder.config.settings import load_settings
from builder.errors import UserError
from tests.conftest import REPO


def env_with(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **extra}


def test_pip_cert_from_the_environment_is_a_build_secret(tmp_path: Path) -> None:
    bundle = tmp_path / "proxy-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    env = env_with(tmp_path, PIP_CERT=str(bundle), PIP_CONFIG_FILE=os.devnull)
    found = user_secrets(load_settings(REPO), env, tmp_path)
    assert found.files["pip-cert"].read_text() == bundle.read_text()
    assert (
        found.files["pip-cert"].parent == tmp_path and found.files["pip-cert"].stat().st_mode & 0o777 == 0o600
    )


def test_pip_cert_from_pip_config_is_a_build_secret(tmp_path: Path) -> None:
    bundle = tmp_path / "corporate.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\ncert = {bundle}\n")
    folder = tmp_path / "secrets"
    folder.mkdir()
    found = user_secrets(load_settings(REPO), env_with(tmp_path, PIP_CONFIG_FILE=str(config)), folder)
    assert found.files["pip-cert"].read_text() == bundle.read_text()


def test_a_pip_cert_that_is_not_a_file_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    env = env_with(tmp_path, PIP_CERT=str(tmp_path / "missing.pem"), PIP_CONFIG_FILE=os.devnull)
    with pytest.raises(
        UserError,
        match=r"^pip's cert setting \(PIP_CERT or pip config global.cert\) names .*missing.pem: not a file$",
    ):
        user_secrets(load_settings(REPO), env, tmp_path)


def test_the_python_app_install_mounts_the_cert_and_trusts_it_only_when_given() -> None:
    text = (REPO / "buildspecs/python-scanners/Dockerfile").read_text()
    assert text.count("RUN --mount=type=secret,id=pip-index-url --mount=type=secret,id=pip-cert") == 4
    assert (
        text.count(
            "if [ -s /run/secrets/pip-cert ]; then PIP_CERT=/run/secrets/pip-cert; export PIP_CERT; fi"
        )
        == 4
    )
