"""A TUF repository on 127.0.0.1 serving one target, ``trusted_root.json``, as Sigstore's CDN does.

Real TUF metadata made with python-tuf's Metadata API and signed with throwaway ECDSA keys, one
per top-level role: ``N.root.json`` for each root version, ``timestamp.json``, ``snapshot.json``,
``targets.json`` (no consistent snapshots) and ``targets/trusted_root.json``. It can rotate its
root key, expire its timestamp, serve other bytes than the signed target, or have its targets
signed by a key the root does not name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp

from tests.fakes.files import Files
from tests.fakes.files import serve as serve_files

TARGET = "trusted_root.json"
_ROLES = ("root", "timestamp", "snapshot", "targets")


def _expiry(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


@dataclass
class FakeTuf(Files):
    target: bytes = b"{}"  # what trusted_root.json holds, as signed

    def __post_init__(self) -> None:
        self.keys = {role: CryptoSigner.generate_ecdsa() for role in _ROLES}
        root = Root(expires=_expiry(365), consistent_snapshot=False)
        for role in _ROLES:
            root.add_key(self.keys[role].public_key, role)
        self.root = Metadata(root)
        self.root.sign(self.keys["root"])
        self.routes["/1.root.json"] = self.root.to_bytes()
        self.publish()

    @property
    def first_root(self) -> bytes:
        """The root a client pins to start from."""
        return self.routes["/1.root.json"]

    def publish(self, timestamp_days: int = 1, targets_signer: CryptoSigner | None = None) -> None:
        targets = Metadata(Targets(expires=_expiry(30)))
        targets.signed.targets[TARGET] = TargetFile.from_data(TARGET, self.target)
        targets.sign(targets_signer or self.keys["targets"])
        snapshot = Metadata(Snapshot(expires=_expiry(7)))
        snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
        snapshot.sign(self.keys["snapshot"])
        timestamp = Metadata(Timestamp(expires=_expiry(timestamp_days)))
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
        timestamp.sign(self.keys["timestamp"])
        self.routes.update({"/targets.json": targets.to_bytes(), "/snapshot.json": snapshot.to_bytes(),
                            "/timestamp.json": timestamp.to_bytes(), f"/targets/{TARGET}": self.target})  # fmt: skip

    def rotate_root(self) -> bytes:
        """Root version 2 with a new root key, signed by the old key and the new; returns it."""
        old, new = self.keys["root"], CryptoSigner.generate_ecdsa()
        signed = self.root.signed
        signed.revoke_key(old.public_key.keyid, "root")
        signed.add_key(new.public_key, "root")
        signed.version += 1
        self.root.sign(old)
        self.root.sign(new, append=True)
        self.keys["root"] = new
        self.routes[f"/{signed.version}.root.json"] = data = self.root.to_bytes()
        return data

    def stranger(self) -> CryptoSigner:
        return CryptoSigner.generate_ecdsa()


@contextmanager
def serve(fake: FakeTuf) -> Iterator[FakeTuf]:
    with serve_files(fake):
        yield fake
