"""PEP 740 attestations of a Python app's own files, from the fake index's Integrity API, at lock time."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.config.provenance import Requirement
from builder.errors import SignatureError, UpstreamError
from builder.locking.evidence import IndexHash, NonePublished, Pep740Attestation
from builder.sources.base import Release
from builder.sources.pypi import PyPISource
from tests.fakes.pypi import SimpleIndex, serve
from tests.fakes.sigstore import FakeSigstore, pep740_provenance
from tests.test_source_pypi import AMD64, app, context, fill

WHEEL = "scanapp-1.1.0-py3-none-any.whl"
RULE = Requirement(
    "pep740",
    "tools.yaml:9",
    identity_regex=r"https://github\.com/acme/scanapp/\.github/workflows/release\.yml@.+",
)


@pytest.fixture
def sigstore(tmp_path: Path) -> FakeSigstore:
    fake = FakeSigstore()
    (tmp_path / "keys/sigstore").mkdir(parents=True)
    (tmp_path / "keys/sigstore/trusted_root.json").write_text(fake.trusted_root_json())
    return fake


@pytest.fixture
def index() -> Iterator[SimpleIndex]:
    with serve(fill(SimpleIndex())) as running:
        yield running


def _lock(tmp_path: Path, index: SimpleIndex, rule: Requirement) -> object:
    ctx = dataclasses.replace(context(tmp_path, {"pypi": index.url}), keys_dir=tmp_path / "keys")
    tool = dataclasses.replace(app(), provenance=rule)
    return PyPISource(ctx).lock(tool, Release("1.1.0"), [AMD64])


def test_the_app_s_own_wheel_carries_its_pep740_record(
    tmp_path: Path, index: SimpleIndex, sigstore: FakeSigstore
) -> None:
    digest = hashlib.sha256(index.files[WHEEL]).hexdigest()
    index.provenance[WHEEL] = pep740_provenance(sigstore, WHEEL, digest, "acme/scanapp", "release.yml")
    locked = _lock(tmp_path, index, RULE)
    proof = locked.payload.proof  # type: ignore[attr-defined]
    assert isinstance(proof[0], IndexHash)
    (record,) = proof[1:]
    assert isinstance(record, Pep740Attestation) and record.signed == WHEEL
    assert record.identity == "https://github.com/acme/scanapp/.github/workflows/release.yml@refs/tags/v1"
    assert index.requests.count(f"/integrity/scanapp/1.1.0/{WHEEL}/provenance") == 1  # only the app's files


@pytest.mark.parametrize(
    ("publish", "reason"),
    [
        ("none", f"{WHEEL} has no PEP 740 provenance, which tools.yaml (tools.yaml:9) requires (a mirror"),
        ("other-publisher", "refused: signed by https://github.com/evil/scanapp/"),
        ("other-bytes", "is signed but its subject is not sha256"),
    ],
)
def test_a_missing_or_wrong_attestation_fails_the_lock(
    tmp_path: Path, index: SimpleIndex, sigstore: FakeSigstore, publish: str, reason: str
) -> None:
    digest = hashlib.sha256(index.files[WHEEL]).hexdigest()
    if publish == "other-publisher":
        index.provenance[WHEEL] = pep740_provenance(sigstore, WHEEL, digest, "evil/scanapp", "release.yml")
    elif publish == "other-bytes":
        index.provenance[WHEEL] = pep740_provenance(sigstore, WHEEL, "0" * 64, "acme/scanapp", "release.yml")
    with pytest.raises(SignatureError, match=re.escape(reason)):
        _lock(tmp_path, index, RULE)


def test_an_app_declaring_none_published_records_it(
    tmp_path: Path, index: SimpleIndex, sigstore: FakeSigstore
) -> None:
    locked = _lock(tmp_path, index, Requirement("none", "tools.yaml:9"))
    assert locked.payload.proof[1:] == (NonePublished("scanapp on the index"),)  # type: ignore[attr-defined]
    assert not [r for r in index.requests if r.startswith("/integrity/")]  # nothing asked, nothing failed


def test_the_integrity_api_may_be_another_host_than_the_index(
    tmp_path: Path, index: SimpleIndex, sigstore: FakeSigstore
) -> None:
    """A mirror (CodeArtifact) serves the files, PyPI's Integrity API their provenance."""
    digest = hashlib.sha256(index.files[WHEEL]).hexdigest()
    with serve(SimpleIndex()) as integrity:
        integrity.provenance[WHEEL] = pep740_provenance(
            sigstore, WHEEL, digest, "acme/scanapp", "release.yml"
        )
        base = integrity.url.removesuffix("/simple/")
        ctx = dataclasses.replace(
            context(tmp_path, {"pypi": index.url, "pypi_integrity": base}), keys_dir=tmp_path / "keys"
        )
        locked = PyPISource(ctx).lock(dataclasses.replace(app(), provenance=RULE), Release("1.1.0"), [AMD64])
    assert isinstance(locked.payload.proof[1], Pep740Attestation)  # type: ignore[attr-defined]
    assert not [r for r in index.requests if r.startswith("/integrity/")]


def _attested(index: SimpleIndex, sigstore: FakeSigstore, link: str | None) -> None:
    """An index at API 1.3 that links the wheel's provenance from its project page (PEP 740)."""
    digest = hashlib.sha256(index.files[WHEEL]).hexdigest()
    index.provenance[WHEEL] = pep740_provenance(sigstore, WHEEL, digest, "acme/scanapp", "release.yml")
    index.api_version, index.provenance_links[WHEEL] = "1.3", link


@pytest.mark.parametrize("html_only", [False, True], ids=["pep691-json", "pep503-html"])
def test_a_provenance_link_on_the_project_page_is_followed(
    tmp_path: Path, index: SimpleIndex, sigstore: FakeSigstore, html_only: bool
) -> None:
    _attested(index, sigstore, f"/attested/{WHEEL}")
    index.html_only = html_only
    locked = _lock(tmp_path, index, RULE)
    assert isinstance(locked.payload.proof[1], Pep740Attestation)  # type: ignore[attr-defined]
    assert f"/attested/{WHEEL}" in index.requests
    assert not [r for r in index.requests if r.startswith("/integrity/")]  # the link is the index's word


def test_a_null_provenance_link_means_none_published_and_a_declared_check_fails(
    tmp_path: Path, index: SimpleIndex, sigstore: FakeSigstore
) -> None:
    _attested(index, sigstore, None)
    with pytest.raises(SignatureError, match=re.escape(f"{WHEEL} has no PEP 740 provenance")):
        _lock(tmp_path, index, RULE)
    assert not [r for r in index.requests if r.startswith(("/integrity/", "/attested/"))]


def test_a_provenance_link_to_another_host_is_refused_without_asking_it(
    tmp_path: Path, index: SimpleIndex, sigstore: FakeSigstore
) -> None:
    with serve(SimpleIndex()) as elsewhere:  # same address, another port: another origin
        _attested(index, sigstore, elsewhere.url.replace("/simple/", f"/attested/{WHEEL}"))
        elsewhere.provenance[WHEEL] = index.provenance[WHEEL]
        with pytest.raises(UpstreamError, match="outside the index and the Integrity API: refused"):
            _lock(tmp_path, index, RULE)
    assert elsewhere.requests == []


def test_a_provenance_link_is_fetched_with_the_index_s_credentials_never_its_own(
    tmp_path: Path, sigstore: FakeSigstore
) -> None:
    with serve(fill(SimpleIndex(password="s3cret"))) as index:
        host = index.url.split("//")[1].split("/")[0]
        _attested(index, sigstore, f"http://intruder:guess@{host}/attested/{WHEEL}")
        url = index.url.replace("//", "//aws:s3cret@")
        ctx = dataclasses.replace(context(tmp_path, {"pypi": url}), keys_dir=tmp_path / "keys")
        locked = PyPISource(ctx).lock(dataclasses.replace(app(), provenance=RULE), Release("1.1.0"), [AMD64])
    assert isinstance(locked.payload.proof[1], Pep740Attestation)  # type: ignore[attr-defined]
    assert (f"/attested/{WHEEL}", 200) in index.answered
