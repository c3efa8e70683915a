"""OpenPGP signatures over checksum files (the checksum files themselves: ``checksums.py``).

Where Debian's ``gpgv`` is on PATH a signature is checked by it against a throwaway binary
keyring made from the committed armored keys (``gpg --import`` then ``gpg --export``), so no
user keyring or trust database is ever consulted; its status lines say which key signed.
Where it is not (the updater Lambda's runtime has no gnupg), Sequoia-PGP does the same check
in-process (``pysequoia``) against the same committed keys.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

from builder.errors import SignatureError

_INSTALL = {"gpg": "install Debian's gpg", "gpgv": "install Debian's gpgv"}
_REASONS = {
    "BADSIG": "bad signature (the file was altered, or signed by another key)",
    "EXPKEYSIG": "the signing key has expired",
    "REVKEYSIG": "the signing key was revoked",
    "NODATA": "no signature found",
}


def verify_detached(
    data: bytes,
    signature: bytes,
    keys: Sequence[Path],
    work_dir: Path,
    expected_fingerprints: Collection[str] | None = None,
    subject: str = "data",
) -> str:
    """The primary-key fingerprint that signed ``data``; SignatureError unless one of ``keys`` did."""
    if shutil.which("gpgv") is None:
        primary = _sequoia_verify(data, signature, keys, subject)
        return _expected(primary, keys, subject, expected_fingerprints)
    with _scratch(work_dir) as tmp:
        (tmp / "data").write_bytes(data)
        (tmp / "data.sig").write_bytes(signature)
        status = _gpgv(tmp, keys, subject, ["data.sig", "data"])
    return _signer(status, keys, subject, expected_fingerprints)


def key_fingerprints(key: Path, work_dir: Path) -> list[str]:
    """The primary-key fingerprints an armored key file holds (no network, no user keyring)."""
    if shutil.which("gpg") is None:
        return [cert.fingerprint.upper() for cert in _certs([key])]
    with _scratch(work_dir) as tmp:
        gpg = [_binary("gpg"), "--homedir", str(tmp), "--batch", "--no-autostart", "--with-colons"]
        out = _run([*gpg, "--import-options", "show-only", "--import", str(key.resolve())], str(key))
    lines = out.decode().splitlines()
    return [b.split(":")[9] for a, b in pairwise(lines) if a.startswith("pub:")]


def spaced(fingerprint: str) -> str:
    """'C874011F...' as 'C874 011F ...', the way fingerprints are printed for people."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


@contextmanager
def _scratch(work_dir: Path) -> Iterator[Path]:
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="gpg-") as tmp:  # mode 0700, as gpg wants
        yield Path(tmp)


def _gpgv(tmp: Path, keys: Sequence[Path], subject: str, args: list[str]) -> str:
    keyring = _keyring(tmp, keys)
    argv = [_binary("gpgv"), "--homedir", str(tmp), "--status-fd", "1", "--keyring", str(keyring), *args]
    done = subprocess.run(argv, cwd=tmp, capture_output=True, text=True, check=False)
    if done.returncode != 0 or "VALIDSIG" not in done.stdout:
        reason = _reason(done.stdout, done.stderr)
        raise SignatureError(f"{subject}: signature does not verify against {_label(keys)}: {reason}")
    return done.stdout


def _keyring(tmp: Path, keys: Sequence[Path]) -> Path:
    if not keys:
        raise SignatureError("no public keys to verify against (is the keys folder empty?)")
    home = tmp / "home"
    home.mkdir(mode=0o700)
    gpg = [_binary("gpg"), "--homedir", str(home), "--batch", "--quiet", "--no-autostart"]
    _run([*gpg, "--import", *(str(k.resolve()) for k in keys)], _label(keys))
    keyring = (tmp / "keyring.gpg").resolve()  # gpgv wants a path with a slash
    keyring.write_bytes(_run([*gpg, "--export"], _label(keys)))
    return keyring


def _run(argv: list[str], label: str) -> bytes:
    done = subprocess.run(argv, capture_output=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        reason = (lines or ["no output"])[-1].removeprefix("gpg: ")
        raise SignatureError(f"cannot read the public keys {label}: {reason}")
    return done.stdout


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SignatureError(f"cannot check signatures: '{name}' is not on PATH ({_INSTALL[name]})")
    return found


def _signer(status: str, keys: Sequence[Path], subject: str, expected: Collection[str] | None) -> str:
    fields = next(line.split()[2:] for line in status.splitlines() if line.startswith("[GNUPG:] VALIDSIG"))
    primary = fields[9] if len(fields) > 9 else fields[0]
    return _expected(primary, keys, subject, expected)


def _expected(primary: str, keys: Sequence[Path], subject: str, expected: Collection[str] | None) -> str:
    wanted = {f.replace(" ", "").upper() for f in expected} if expected is not None else None
    if wanted is not None and primary.upper() not in wanted:
        allowed = ", ".join(spaced(f) for f in sorted(wanted)) or "none"
        raise SignatureError(
            f"{subject}: signed by {spaced(primary)} from {_label(keys)}, not by the expected key ({allowed})"
        )
    return primary.upper()


def _reason(status: str, stderr: str) -> str:
    for line in status.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in _REASONS:
            return _REASONS[parts[1]]
        if len(parts) >= 3 and parts[1] == "NO_PUBKEY":
            return f"signed by key {parts[2]}, which is not in the keyring"
    lines = [line.removeprefix("gpgv: ") for line in stderr.splitlines() if line.strip()] or ["no output"]
    return lines[-1]


def _label(keys: Sequence[Path]) -> str:
    if len(keys) == 1:
        return str(keys[0])
    folders = sorted({str(k.parent) for k in keys})
    return f"{len(keys)} keys in {', '.join(folders)}"


def _certs(keys: Sequence[Path]) -> list[Any]:
    import pysequoia  # imported late: only machines without gpgv need it

    if not keys:
        raise SignatureError("no public keys to verify against (is the keys folder empty?)")
    try:
        return [cert for key in keys for cert in pysequoia.Cert.split_bytes(key.read_bytes())]
    except Exception as e:  # pysequoia raises plain errors with a Rust backtrace attached
        raise SignatureError(
            f"cannot read the public keys {_label(keys)}: {str(e).splitlines()[0]}"
        ) from None


def _sequoia_verify(data: bytes, signature: bytes, keys: Sequence[Path], subject: str) -> str:
    import pysequoia

    certs = _certs(keys)
    failed = f"{subject}: signature does not verify against {_label(keys)}"
    try:
        sig = pysequoia.Sig.from_bytes(signature)
    except Exception:
        raise SignatureError(f"{failed}: no signature found") from None
    try:
        result = pysequoia.verify(bytes=data, store=lambda key_ids: certs, signature=sig)
    except Exception:
        raise SignatureError(f"{failed}: {_REASONS['BADSIG']}") from None
    return str(result.valid_sigs[0].certificate).upper()
