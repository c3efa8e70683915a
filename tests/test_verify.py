"""Signatures checked by the real gpgv against throwaway keys; the committed keys read offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builder.errors import SignatureError, UpstreamError
from builder.locking import checksums
from builder.locking import openpgp as verify
from builder.sources.hashicorp import FINGERPRINT
from tests.fakes.pgp import KeySet

REPO_KEYS = Path(__file__).resolve().parent.parent / "builder" / "data" / "keys"
DATA = b"0123abcd  terraform_1.15.8_linux_amd64.zip\n"


@pytest.fixture
def keyring(keys: KeySet) -> list[Path]:
    return [keys.keys_dir / "hashicorp.asc"]


def _refusal(keyring: list[Path], reason: str) -> str:
    return f"SHA256SUMS: signature does not verify against {keyring[0]}: {reason}"


def test_good_signature_returns_the_primary_fingerprint(
    keys: KeySet, keyring: list[Path], tmp_path: Path
) -> None:
    signature = keys.release.sign(DATA)
    found = verify.verify_detached(
        DATA, signature, keyring, tmp_path, [verify.spaced(keys.release.fingerprint)]
    )
    assert found == keys.release.fingerprint
    assert list(tmp_path.iterdir()) == []  # the scratch keyring is gone


def test_tampered_data_is_refused(keys: KeySet, keyring: list[Path], tmp_path: Path) -> None:
    with pytest.raises(SignatureError) as caught:
        verify.verify_detached(DATA + b"x", keys.release.sign(DATA), keyring, tmp_path, subject="SHA256SUMS")
    assert str(caught.value) == _refusal(
        keyring, "bad signature (the file was altered, or signed by another key)"
    )


def test_signature_by_a_key_outside_the_keyring_is_refused(
    keys: KeySet, keyring: list[Path], tmp_path: Path
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify.verify_detached(DATA, keys.stranger.sign(DATA), keyring, tmp_path, subject="SHA256SUMS")
    key_id = keys.stranger.fingerprint[-16:]
    assert str(caught.value) == _refusal(keyring, f"signed by key {key_id}, which is not in the keyring")


def test_garbage_signature_is_refused(keyring: list[Path], tmp_path: Path) -> None:
    with pytest.raises(SignatureError) as caught:
        verify.verify_detached(DATA, b"not a signature\n", keyring, tmp_path, subject="SHA256SUMS")
    assert str(caught.value) == _refusal(keyring, "no signature found")


def test_a_valid_signature_by_an_unexpected_key_is_refused(
    keys: KeySet, keyring: list[Path], tmp_path: Path
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify.verify_detached(DATA, keys.release.sign(DATA), keyring, tmp_path, [FINGERPRINT], "SHA256SUMS")
    assert str(caught.value) == (
        f"SHA256SUMS: signed by {verify.spaced(keys.release.fingerprint)} from {keyring[0]}, "
        "not by the expected key (C874 011F 0AB4 0511 0D02 1055 3436 5D94 72D7 468F)"
    )


def without_gnupg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine like the Lambda runtime: no gpg, no gpgv on PATH."""
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert shutil.which("gpgv") is None and shutil.which("gpg") is None


def test_without_gnupg_sequoia_checks_the_same_signatures(
    keys: KeySet, keyring: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, stranger = keys.release.sign(DATA), keys.stranger.sign(DATA)  # signed while gpg is there
    without_gnupg(tmp_path, monkeypatch)
    assert verify.verify_detached(DATA, good, keyring, tmp_path) == keys.release.fingerprint.upper()
    with pytest.raises(SignatureError) as caught:
        verify.verify_detached(DATA + b"x", good, keyring, tmp_path, subject="SHA256SUMS")
    assert str(caught.value) == _refusal(
        keyring, "bad signature (the file was altered, or signed by another key)"
    )
    with pytest.raises(SignatureError, match="bad signature"):
        verify.verify_detached(DATA, stranger, keyring, tmp_path)
    with pytest.raises(SignatureError, match="no signature found"):
        verify.verify_detached(DATA, b"not a signature", keyring, tmp_path)
    with pytest.raises(SignatureError, match="not by the expected key"):
        verify.verify_detached(DATA, good, keyring, tmp_path, expected_fingerprints=[FINGERPRINT])


def test_without_gnupg_the_committed_key_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_gnupg(tmp_path, monkeypatch)
    assert verify.key_fingerprints(REPO_KEYS / "hashicorp.asc", tmp_path) == [FINGERPRINT]


def test_no_keys_and_unreadable_keys_are_refused(keys: KeySet, tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match=r"^no public keys to verify against"):
        verify.verify_detached(DATA, keys.release.sign(DATA), [], tmp_path)
    bogus = tmp_path / "bogus.asc"
    bogus.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnope\n-----END PGP PUBLIC KEY BLOCK-----\n")
    with pytest.raises(SignatureError, match=rf"^cannot read the public keys {bogus}: "):
        verify.verify_detached(DATA, keys.release.sign(DATA), [bogus], tmp_path)


def test_committed_hashicorp_key_has_the_published_fingerprint(tmp_path: Path) -> None:
    assert verify.key_fingerprints(REPO_KEYS / "hashicorp.asc", tmp_path) == [FINGERPRINT]


def test_committed_nodejs_keys_are_named_after_their_fingerprints(tmp_path: Path) -> None:
    files = sorted((REPO_KEYS / "nodejs").glob("*.asc"))
    assert files
    for path in files:
        assert path.stem in verify.key_fingerprints(path, tmp_path), path.name


def test_parse_sums_reads_both_separators_and_lowercases() -> None:
    text = f"{'AB' * 32}  a.zip\n\n{'cd' * 32} *b file.tar.gz\n"
    assert checksums.parse_sums(text) == {"a.zip": "ab" * 32, "b file.tar.gz": "cd" * 32}
    with pytest.raises(UpstreamError) as caught:
        checksums.parse_sums(f"{'ab' * 32}  a.zip\nnot a line\n", "SHA256SUMS")
    assert str(caught.value) == "SHA256SUMS:2: not a '<sha256>  <file>' line: 'not a line'"
