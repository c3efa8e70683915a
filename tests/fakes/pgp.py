"""Throwaway OpenPGP keys made with the real gpg, and the HTTP side of an upstream with signed checksums.

Two ed25519 keys are made once per test session (``session_keys``): ``release`` signs what the
fakes publish and is laid out like ``builder/data/keys``; ``stranger`` signs what must be refused.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TypeVar

import pytest

from tests.fakes.server import StateServer, running

# gpg (and its agent) answer in well under a second; one that does not is an error, not a hang.
GPG_TIMEOUT = 120


@dataclass(frozen=True)
class SigningKey:
    home: Path  # the GNUPGHOME holding the secret key
    fingerprint: str

    def _gpg(self, *args: str, data: bytes = b"") -> bytes:
        argv = ["gpg", "--homedir", str(self.home), "--batch", "--yes", "--quiet", *args]
        return subprocess.run(argv, input=data, capture_output=True, check=True, timeout=GPG_TIMEOUT).stdout

    def armored(self) -> bytes:
        return self._gpg("--armor", "--export", self.fingerprint)

    def sign(self, data: bytes) -> bytes:
        """A detached binary signature, like HashiCorp's ``_SHA256SUMS.sig`` and Node's ``SHASUMS256.txt.sig``."""
        return self._gpg("--local-user", self.fingerprint, "--detach-sign", "--output", "-", data=data)

    def clearsign(self, data: bytes) -> bytes:
        return self._gpg("--local-user", self.fingerprint, "--clearsign", "--output", "-", data=data)


@dataclass(frozen=True)
class KeySet:
    release: SigningKey
    stranger: SigningKey
    keys_dir: Path  # laid out like builder/data/keys, holding only ``release``'s public key


def make_key(home: Path, email: str) -> SigningKey:
    uid = f"Test Release <{email}>"
    argv = ["gpg", "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key", uid,
            "ed25519", "sign", "never"]  # fmt: skip
    subprocess.run(argv, capture_output=True, check=True, timeout=GPG_TIMEOUT)
    listing = subprocess.run(["gpg", "--homedir", str(home), "--with-colons", "--list-secret-keys", email],
                             capture_output=True, text=True, check=True, timeout=GPG_TIMEOUT).stdout  # fmt: skip
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return SigningKey(home, fingerprint)


_KEYS = pytest.StashKey[KeySet]()


def session_keys(config: pytest.Config, factory: pytest.TempPathFactory) -> KeySet:
    """The session's keys, made on first use and kept in the pytest config's stash (no module globals)."""
    if _KEYS not in config.stash:
        home = factory.mktemp("gnupg")
        home.chmod(0o700)
        config.add_cleanup(lambda: _stop_agent(home))
        release = make_key(home, "release@example.test")
        keys_dir = factory.mktemp("keys")
        (keys_dir / "hashicorp.asc").write_bytes(release.armored())
        (keys_dir / "nodejs").mkdir()
        (keys_dir / "nodejs" / f"{release.fingerprint}.asc").write_bytes(release.armored())
        config.stash[_KEYS] = KeySet(release, make_key(home, "stranger@example.test"), keys_dir)
    return config.stash[_KEYS]


def _stop_agent(home: Path) -> None:
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
        capture_output=True,
        check=False,
        timeout=GPG_TIMEOUT,
    )


@dataclass
class SignedUpstream:
    """An upstream publishing files with a signed checksum list; it records requests and can be told to fail.

    ``signature``: "good", "stranger" (signed by a key not in the keyring), "flipped" (one byte
    changed) or "garbage". ``wrong_bytes``: files served with other bytes than the sums list;
    ``unlisted``: files the sums list leaves out.
    """

    keys: KeySet
    signature: str = "good"
    wrong_bytes: set[str] = field(default_factory=set)
    unlisted: set[str] = field(default_factory=set)  # files left out of the checksum list
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    delays: dict[str, float] = field(default_factory=dict)  # path -> seconds before answering
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status answered)
    url: str = ""

    def fail(self, path: str, status: int, times: int = 1) -> None:
        self.failures[path] = [status] * times

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def body(self, path: str) -> bytes | None:
        """The bytes at ``path``, or None; subclasses publish their layout here."""
        raise NotImplementedError

    def sign(self, data: bytes) -> bytes:
        if self.signature == "garbage":
            return b"not a signature\n"
        key = self.keys.stranger if self.signature == "stranger" else self.keys.release
        signed = key.sign(data)
        if self.signature == "flipped":
            middle = len(signed) // 2
            return signed[:middle] + bytes([signed[middle] ^ 0x01]) + signed[middle + 1 :]
        return signed

    def sums(self, files: dict[str, bytes]) -> bytes:
        """A SHA256SUMS file: ``<hex>  <name>`` lines, sorted by name."""
        listed = sorted((n, d) for n, d in files.items() if n not in self.unlisted)
        return "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in listed).encode()

    def served(self, name: str, data: bytes) -> bytes:
        return data + b"\0tampered" if name in self.wrong_bytes else data

    def answer(self, path: str, if_none_match: str | None) -> tuple[int, bytes, str | None]:
        time.sleep(self.delays.get(path, 0.0))
        pending = self.failures.get(path)
        status, body, etag = 200, b"", None
        if pending:
            status = pending.pop(0)
        elif (found := self.body(path)) is None:
            status = 404
        else:
            body, etag = found, f'"{hashlib.sha256(found).hexdigest()[:16]}"'
            status = 304 if if_none_match == etag else 200
        self.requests.append((path, status))
        return status, body if status == 200 else b"", etag


class _Handler(BaseHTTPRequestHandler):
    server: StateServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status, body, etag = self.server.state.answer(self.path, self.headers.get("If-None-Match"))
        self.send_response(status)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


SignedUpstreamT = TypeVar("SignedUpstreamT", bound=SignedUpstream)


@dataclass
class Switchboard:
    """One server for a whole test module (stopping a server takes half a second); each test plugs in a
    fresh fake, so no state leaks from one test to the next."""

    upstream: SignedUpstream | None = None
    url: str = ""

    def plug(self, upstream: SignedUpstreamT) -> SignedUpstreamT:
        upstream.url, self.upstream = self.url, upstream
        return upstream

    def answer(self, path: str, if_none_match: str | None) -> tuple[int, bytes, str | None]:
        assert self.upstream is not None, "no fake plugged in"
        return self.upstream.answer(path, if_none_match)


@contextmanager
def switchboard() -> Iterator[Switchboard]:
    board = Switchboard()
    with running(_Handler, board) as url:
        board.url = url
        yield board
