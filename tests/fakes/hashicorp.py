"""releases.hashicorp.com and checkpoint-api.hashicorp.com on 127.0.0.1, serving real signed releases.

Layout as hc-install reads it: ``/<product>/index.json``, ``/<product>/<v>/index.json`` and the
files beside it; checkpoint at ``/v1/check/<product>``. Index URLs are absolute, pointing here.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field

from tests.fakes.pgp import SignedUpstream

ARCHES = ("amd64", "arm64")


def make_zip(product: str, version: str, arch: str) -> bytes:
    """A real zip holding a tiny 'binary', as HashiCorp ships them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(product, f"#!/bin/sh\necho '{product} v{version} linux_{arch}'\n")
    return out.getvalue()


@dataclass
class HashiCorpReleases(SignedUpstream):
    product: str = "terraform"
    archives: dict[str, dict[str, bytes]] = field(default_factory=dict)  # version -> file name -> bytes
    current: str = ""
    current_date: int = 0
    date_field: str = "current_release_date"  # or "current_release": FACTS 3 says both are seen
    key_id_signature: bool = True  # also publish ``_SHA256SUMS.<key id>.sig``, as HashiCorp does

    def publish(self, version: str) -> None:
        self.archives[version] = {
            f"{self.product}_{version}_linux_{arch}.zip": make_zip(self.product, version, arch)
            for arch in ARCHES
        }

    def body(self, path: str) -> bytes | None:
        if path == f"/v1/check/{self.product}":
            return self._checkpoint()
        if path == f"/{self.product}/index.json":
            versions = {v: self._version(v) for v in self.archives}
            return json.dumps({"name": self.product, "versions": versions}).encode()
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != self.product or parts[1] not in self.archives:
            return None
        return self._file(parts[1], parts[2])

    def _file(self, version: str, name: str) -> bytes | None:
        sums_name = f"{self.product}_{version}_SHA256SUMS"
        files = self.archives[version]
        if name == "index.json":
            return json.dumps(self._version(version)).encode()
        if name == sums_name:
            return self.sums(self.archives[version])
        if name in self._signature_names(version):
            return self.sign(self.sums(self.archives[version]))
        return self.served(name, files[name]) if name in files else None

    def _signature_names(self, version: str) -> list[str]:
        sums_name = f"{self.product}_{version}_SHA256SUMS"
        key_id = self.keys.release.fingerprint[-8:]
        return [f"{sums_name}.{key_id}.sig", f"{sums_name}.sig"][0 if self.key_id_signature else 1 :]

    def _version(self, version: str) -> dict[str, object]:
        base = f"{self.url}/{self.product}/{version}"
        builds = [{"name": self.product, "version": version, "os": "linux", "arch": arch,
                   "filename": f"{self.product}_{version}_linux_{arch}.zip",
                   "url": f"{base}/{self.product}_{version}_linux_{arch}.zip"} for arch in ARCHES]  # fmt: skip
        signatures = self._signature_names(version)
        return {"name": self.product, "version": version, "shasums": f"{self.product}_{version}_SHA256SUMS",
                "shasums_signature": signatures[-1], "shasums_signatures": signatures, "builds": builds}  # fmt: skip

    def _checkpoint(self) -> bytes:
        return json.dumps({
            "product": self.product, "current_version": self.current, self.date_field: self.current_date,
            "current_download_url": f"{self.url}/{self.product}/{self.current}/", "outdated": False, "alerts": [],
        }).encode()  # fmt: skip
