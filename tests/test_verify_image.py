"""verify-image on images really built: passes on what `builder build` made and signed, fails on a tampered one.

A project with one tool-less image on the local Debian base, built with real BuildKit; its
provenance is signed by moto's KMS; a "tampered" image is the same one with a file changed by a
later layer and retagged under the same name.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from moto import mock_aws

from builder.attesting.image_files import read_files
from builder.building.engine import DockerClient
from tests.conftest import REPO
from tests.helpers import remove_images, run_cli
from tests.registry import Registry

pytestmark = pytest.mark.docker
REGISTRY = "builder-test-verify"
ALIAS = "alias/builder-provenance"


def make_project(root: Path, registry: str, base_image: str) -> Path:
    """One tool-less image on the local Debian base, signed with ALIAS."""
    (root / "images" / "base").mkdir(parents=True)
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "builder.yaml").write_text(
        f"registry: {registry}\nplatforms: [linux/amd64]\nbase_images:\n  debian: {{ref: {json.dumps(base_image)}}}\n"
        f"provenance: {{kms_key: {ALIAS}}}\nstore: {{kind: local, path: {json.dumps(str(root / 'store'))}}}\n"
    )
    (root / "tools.yaml").write_text("tools: {}\n")
    (root / "images" / "base" / "image.yaml").write_text(
        "base: {external: debian}\nuser: {name: scanner, uid: 10001}\n"
    )
    return root


@pytest.fixture
def project(tmp_path: Path, base_image: str, client: DockerClient) -> Iterator[Path]:
    yield make_project(tmp_path / "project", REGISTRY, base_image)
    remove_images(client, f"{REGISTRY}/")


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        found = boto3.client("kms", region_name="eu-west-1")
        key = found.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        found.create_alias(AliasName=ALIAS, TargetKeyId=key)
        yield found


def built_ref(project: Path, registry: str = REGISTRY) -> str:
    result = run_cli(project, "build", "base", "--platform", "linux/amd64")
    assert result.exit_code == 0, result.output
    return next(word for word in result.output.split() if word.startswith(f"{registry}/base:"))


def docker(client: DockerClient, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([client.path, *args], input=stdin, capture_output=True, text=True, check=True,
                          env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    return done.stdout


def test_verify_image_passes_on_a_built_image_and_fails_on_a_tampered_one(
    project: Path, kms: Any, client: DockerClient, tmp_path: Path
) -> None:
    ref = built_ref(project)
    labels = json.loads(docker(client, "image", "inspect", "--format", "{{json .Config.Labels}}", ref))
    assert len(labels["org.builder.sbom.sha256"]) == 64
    envelope = tmp_path / "base.dsse.json"
    signed = run_cli(project, "provenance", "base", "--platform", "linux/amd64", "--out", str(envelope))
    assert signed.exit_code == 0, signed.output

    ok = run_cli(project, "verify-image", ref, "--provenance", str(envelope))  # public half from KMS
    assert ok.exit_code == 0, ok.output
    assert f"ok: {ref}" in ok.output

    # Offline: the key's PEM instead of KMS.
    der = kms.get_public_key(KeyId=ALIAS)["PublicKey"]
    pem = tmp_path / "key.pem"
    pem.write_bytes(serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    assert (
        run_cli(
            project, "verify-image", ref, "--provenance", str(envelope), "--public-key", str(pem)
        ).exit_code
        == 0
    )

    # The full SBOM adds the base image's Debian packages, read from the built image.
    out = tmp_path / "full.cdx.json"
    assert run_cli(project, "sbom", "base", "--image", ref, "--out", str(out)).exit_code == 0
    purls = [c["purl"] for c in json.loads(out.read_text())["components"]]
    assert any(p.startswith("pkg:deb/debian/libc6@") and "distro=debian-12" in p for p in purls)

    # Tampered: a later layer changes a file; the same tag now names other bytes.
    context = tmp_path / "tamper"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {ref}\nUSER 0\nRUN echo evil > /usr/local/bin/trivy\n")
    docker(client, "build", "--quiet", "--tag", ref, str(context))
    refused = run_cli(project, "verify-image", ref, "--provenance", str(envelope))
    assert refused.exit_code == 1
    assert "the image was changed or is another one" in refused.output

    # An SBOM swapped for another, and that image signed: the signature is good, the label is not.
    (context / "Dockerfile").write_text(
        f"FROM {ref}\nUSER 0\nRUN echo '{{}}' > /usr/share/builder/sbom.cdx.json\n"
    )
    docker(client, "build", "--quiet", "--tag", ref, str(context))
    resigned = run_cli(project, "provenance", "base", "--platform", "linux/amd64", "--out", str(envelope))
    assert resigned.exit_code == 0, resigned.output
    refused = run_cli(project, "verify-image", ref, "--provenance", str(envelope))
    assert refused.exit_code == 1
    assert "its label org.builder.sbom.sha256 says" in refused.output


def test_the_provenance_is_stored_beside_the_tag_and_found_there(
    tmp_path: Path, base_image: str, kms: Any, client: DockerClient, registry: Registry
) -> None:
    root = make_project(tmp_path / "project", f"{registry.host}/verify", base_image)
    ref = built_ref(root, f"{registry.host}/verify")
    docker(
        client, "push", ref
    )  # as `builder build --push` does: the subject then names the registry digest too
    pushed = run_cli(
        root, "provenance", "base", "--platform", "linux/amd64", "--push", "--out", str(tmp_path / "p.json")
    )
    assert pushed.exit_code == 0, pushed.output
    tag = ref.rsplit(":", 1)[1]
    assert f"{tag}.provenance" in registry.tags("verify/base")
    docker(client, "image", "rm", f"{ref}.provenance")  # verify-image pulls it from beside the tag
    ok = run_cli(root, "verify-image", ref)
    assert ok.exit_code == 0, ok.output
    # Beside it too: the whole SBOM, the Debian packages of the built image included.
    found = read_files(client, f"{ref}.provenance", ("/sbom.cdx.json",))["/sbom.cdx.json"]
    assert any(c["purl"].startswith("pkg:deb/debian/") for c in json.loads(found)["components"])
    body = json.loads(base64.b64decode(json.loads((tmp_path / "p.json").read_text())["payload"]))
    digest = registry.manifest_digest("verify/base", tag).removeprefix("sha256:")
    assert {"name": f"{registry.host}/verify/base", "digest": {"sha256": digest}} in body["subject"]
