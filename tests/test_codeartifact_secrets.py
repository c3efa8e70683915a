"""Build secrets from CodeArtifact: boto3 against a small local double speaking rest-json."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from builder.building.secrets import codeartifact_secrets, private_folder, user_secrets
from builder.config.settings import CodeArtifact, Settings
from builder.errors import UserError
from builder.plumbing.redact import redact
from builder.stores.codeartifact import CodeArtifactStore
from tests.fakes.codeartifact import CodeArtifactState, codeartifact_double
from tests.fakes.server import StateServer, running

TOKEN = "eyJ2ZXIiOjEsImlzdSI6MTcwMDAwMDAwMH0.local-double-token"


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        self.server.state.append((url.path, parse_qs(url.query)))
        assert url.path == "/v1/authorization-token"
        self._reply({"authorizationToken": TOKEN, "expiration": 1700000000})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.server.state.append((url.path, query))
        assert url.path == "/v1/repository/endpoint"
        fmt, repo = query["format"][0], query["repository"][0]
        self._reply(
            {
                "repositoryEndpoint": f"https://d-111122223333.d.codeartifact.eu-west-1.amazonaws.com/{fmt}/{repo}/"
            }
        )


@pytest.fixture
def double() -> Iterator[tuple[str, list[tuple[str, dict[str, list[str]]]]]]:
    calls: list[tuple[str, dict[str, list[str]]]] = []
    with running(_Handler, calls) as url:
        yield url, calls


def test_token_reaches_only_private_secret_files(
    double: tuple[str, list[tuple[str, dict[str, list[str]]]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, calls = double
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("codeartifact", region_name="eu-west-1", endpoint_url=url)
    ca = CodeArtifact(
        "security-tools",
        "111122223333",
        "eu-west-1",
        pypi_repository="pip-store",
        npm_repository="npm-store",
        token_duration=1800,
    )
    with private_folder() as folder:
        secrets = codeartifact_secrets(CodeArtifactStore(client, ca), folder)
        index = secrets.files["pip-index-url"].read_text()
        npmrc = secrets.files["npmrc"].read_text()
        modes = {stat.S_IMODE(p.stat().st_mode) for p in secrets.files.values()}
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not Path(folder).exists()
    assert (
        index
        == f"https://aws:{TOKEN}@d-111122223333.d.codeartifact.eu-west-1.amazonaws.com/pypi/pip-store/simple/"
    )
    assert npmrc.splitlines() == [
        "registry=https://d-111122223333.d.codeartifact.eu-west-1.amazonaws.com/npm/npm-store/",
        f"//d-111122223333.d.codeartifact.eu-west-1.amazonaws.com/npm/npm-store/:_authToken={TOKEN}",
    ]
    assert modes == {0o600}
    assert secrets.values == (TOKEN,)
    assert TOKEN not in redact(f"pip said: {index}", secrets.values)
    token_call = next(q for path, q in calls if path == "/v1/authorization-token")
    assert token_call == {
        "domain": ["security-tools"],
        "domain-owner": ["111122223333"],
        "duration": ["1800"],
    }


def test_the_users_own_npm_and_pip_configuration_become_the_build_secrets(tmp_path: Path) -> None:
    npmrc = tmp_path / "npmrc"
    npmrc.write_text("//npm.corp.example/:_authToken=${NPM_TOKEN}\nfund=false\n")
    env = {"NPM_CONFIG_USERCONFIG": str(npmrc), "NPM_TOKEN": "npm-secret-9f8e7d", "HOME": str(tmp_path),
           "PIP_INDEX_URL": "https://me:pip-secret-1a2b@pypi.corp.example/simple/"}  # fmt: skip
    settings = Settings(npm_registry="https://npm.corp.example/")
    folder = tmp_path / "secrets"
    folder.mkdir()
    found = user_secrets(settings, env, folder)
    # The token written out (NPM_TOKEN does not exist inside the build), then the registry
    # builder.yaml names, after the user's own lines (npm takes the last one).
    assert found.files["npmrc"].read_text().splitlines() == [
        "fund=false", "//npm.corp.example/:_authToken=npm-secret-9f8e7d", "registry=https://npm.corp.example/"
    ]  # fmt: skip
    assert found.files["pip-index-url"].read_text() == env["PIP_INDEX_URL"]
    assert {oct(p.stat().st_mode & 0o777) for p in found.files.values()} == {"0o600"}
    # Both credentials are known to the build-log redaction.
    assert {"npm-secret-9f8e7d", "pip-secret-1a2b"} <= set(found.values)


def test_expired_credentials_while_making_build_secrets_get_the_store_s_advice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """secrets.py asks the store for the token: a 403 is the store's one line of advice, not a traceback."""
    state = CodeArtifactState()
    state.fail("GetAuthorizationToken", "expired")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with codeartifact_double(state) as (url, _):
        client = boto3.client("codeartifact", region_name="eu-west-1", endpoint_url=url)
        store = CodeArtifactStore(client, CodeArtifact("security-tools", "111122223333", "eu-west-1"))
        with private_folder() as folder, pytest.raises(UserError) as caught:
            codeartifact_secrets(store, folder)
    assert "get_authorization_token for security-tools failed: the AWS credentials were rejected" in str(
        caught.value
    )
    assert "refresh your AWS credentials" in str(caught.value)
