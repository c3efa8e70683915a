"""A broken AWS configuration is one line and exit 1, never "internal error": botocore raises
plain OSError for a credential_process that does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli


@pytest.fixture
def broken_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "aws-config"
    config.write_text("[default]\ncredential_process = /nonexistent/credential-helper\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("BUILDER_CODEARTIFACT_ENDPOINT", "http://127.0.0.1:9")
    return config


@pytest.mark.parametrize("args", [("doctor",), ("store", "verify"), ("store", "init")])
def test_a_missing_credential_process_is_one_line(
    minimal_project: Path, broken_aws: Path, args: tuple[str, ...]
) -> None:
    result = run_cli(minimal_project, *args)
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if "credential-helper" in line]
    assert lines, result.output
    assert all(line.startswith(("error: ", "FAIL")) for line in lines), lines
