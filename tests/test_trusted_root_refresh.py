"""The Sigstore trusted root is replaced only through TUF: a real python-tuf walk from the pinned
TUF root over a fake repository on 127.0.0.1, each refusal leaving both pinned files byte-identical."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from builder.cli.main import main
from builder.errors import SignatureError
from builder.signatures.trust import load_trusted_root, refresh
from tests.fakes.sigstore import FakeSigstore
from tests.fakes.tuf import TARGET, FakeTuf, serve

PINNED_TARGET = b'{"previous": "root"}'


@pytest.fixture
def repository() -> Iterator[FakeTuf]:
    with serve(FakeTuf(target=FakeSigstore().trusted_root_json().encode())) as fake:
        yield fake


@pytest.fixture
def keys(tmp_path: Path, repository: FakeTuf) -> Path:
    folder = tmp_path / "keys"
    (folder / "sigstore").mkdir(parents=True)
    (folder / "sigstore/tuf_root.json").write_bytes(repository.first_root)
    (folder / "sigstore/trusted_root.json").write_bytes(PINNED_TARGET)
    return folder


def _pinned(keys: Path) -> tuple[bytes, bytes]:
    return (keys / "sigstore/tuf_root.json").read_bytes(), (keys / "sigstore/trusted_root.json").read_bytes()


def test_a_refresh_writes_the_signed_target_and_a_second_changes_nothing(
    repository: FakeTuf, keys: Path
) -> None:
    assert refresh(repository.url, keys) == [keys / "sigstore/trusted_root.json"]
    assert _pinned(keys)[1] == repository.target
    load_trusted_root(keys / "sigstore/trusted_root.json")  # sigstore takes it
    assert refresh(repository.url, keys) == []
    assert {"/timestamp.json", "/snapshot.json", "/targets.json", f"/targets/{TARGET}"} <= set(
        repository.requests
    )


def test_a_root_rotation_is_followed_and_the_newest_root_pinned(repository: FakeTuf, keys: Path) -> None:
    rotated = repository.rotate_root()
    repository.publish()
    changed = refresh(repository.url, keys)
    assert set(changed) == {keys / "sigstore/tuf_root.json", keys / "sigstore/trusted_root.json"}
    assert _pinned(keys) == (rotated, repository.target)


def _tampered(fake: FakeTuf) -> None:
    fake.routes[f"/targets/{TARGET}"] = fake.target.replace(b"a", b"b", 1)  # same length, other bytes


def _expired(fake: FakeTuf) -> None:
    fake.publish(timestamp_days=-1)


def _stranger_signed(fake: FakeTuf) -> None:
    fake.publish(targets_signer=fake.stranger())


def _root_signed_by_the_new_key_alone(fake: FakeTuf) -> None:
    fake.rotate_root()
    signed = fake.root
    signed.signatures.clear()
    signed.sign(fake.keys["root"])
    fake.routes["/2.root.json"] = signed.to_bytes()


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (_tampered, "LengthOrHashMismatchError|hash"),
        (_expired, "ExpiredMetadataError"),
        (_stranger_signed, "UnsignedMetadataError"),
        (_root_signed_by_the_new_key_alone, "UnsignedMetadataError"),
    ],
    ids=[
        "target-bytes-altered",
        "timestamp-expired",
        "targets-by-a-stranger",
        "rotation-not-signed-by-old-root",
    ],
)
def test_a_refused_walk_leaves_the_pinned_files_byte_identical(
    repository: FakeTuf, keys: Path, attack: object, reason: str
) -> None:
    before = _pinned(keys)
    attack(repository)  # type: ignore[operator]
    with pytest.raises(SignatureError, match=f"the TUF repository {repository.url} refused: .*({reason})"):
        refresh(repository.url, keys)
    assert _pinned(keys) == before


def test_the_command_says_what_it_wrote_and_refuses_in_one_line(repository: FakeTuf, keys: Path) -> None:
    args = ["refresh-trusted-root", "--from", repository.url, "--keys-dir", str(keys)]
    good = CliRunner().invoke(main, args)
    assert (good.exit_code, good.output.strip()) == (0, f"wrote {keys / 'sigstore/trusted_root.json'}")
    again = CliRunner().invoke(main, args)
    assert (again.exit_code, again.output.strip()) == (
        0,
        f"the trusted root is current with {repository.url}",
    )
    _expired(repository)
    bad = CliRunner().invoke(main, args)
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1, bad.output
    assert bad.output.startswith(f"error: the TUF repository {repository.url} refused: ExpiredMetadataError")


def test_the_shipped_tuf_root_is_the_one_sigstore_ships_for_public_good() -> None:
    import sigstore

    shipped = Path(sigstore.__file__).parent / "_store/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev/root.json"
    ours = Path(__file__).parent.parent / "builder/data/keys/sigstore/tuf_root.json"
    assert ours.read_bytes() == shipped.read_bytes()
