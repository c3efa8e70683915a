"""nodejs.org/dist on 127.0.0.1: ``/dist/index.json`` and, per release, real tarballs with a signed
SHASUMS256.txt (detached ``.sig`` and clearsigned ``.asc``, as nodejs.org publishes both)."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field

from tests.fakes.pgp import SignedUpstream

ARCHES = ("x64", "arm64")


def make_tarball(version: str, arch: str) -> bytes:
    """A real tar.gz laid out like Node's: ``node-v<v>-linux-<arch>/bin/node``."""
    out = io.BytesIO()
    script = f"#!/bin/sh\necho v{version}\n".encode()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo(f"node-v{version}-linux-{arch}/bin/node")
        info.size, info.mode = len(script), 0o755
        archive.addfile(info, io.BytesIO(script))
    return out.getvalue()


@dataclass
class NodeDist(SignedUpstream):
    archives: dict[str, dict[str, bytes]] = field(default_factory=dict)  # version -> file name -> bytes
    releases: list[dict[str, object]] = field(default_factory=list)  # newest first, as nodejs.org lists

    def publish(self, version: str, date: str, lts: str | bool = False) -> None:
        self.archives[version] = {
            f"node-v{version}-linux-{a}.tar.gz": make_tarball(version, a) for a in ARCHES
        }
        files = [f"linux-{a}" for a in ARCHES]
        entry: dict[str, object] = {
            "version": f"v{version}",
            "date": date,
            "files": files,
            "npm": "11.0.0",
            "lts": lts,
        }
        self.releases.insert(0, entry)

    def body(self, path: str) -> bytes | None:
        if path == "/dist/index.json":
            return json.dumps(self.releases).encode()
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "dist" or parts[1].removeprefix("v") not in self.archives:
            return None
        version, name = parts[1].removeprefix("v"), parts[2]
        files = {"SHASUMS256.txt": self.sums(self.archives[version]), **self.archives[version]}
        if name == "SHASUMS256.txt.sig":
            return self.sign(self.sums(self.archives[version]))
        if name == "SHASUMS256.txt.asc":
            return self.keys.release.clearsign(self.sums(self.archives[version]))
        return self.served(name, files[name]) if name in files else None
