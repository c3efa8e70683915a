"""terraform 1.15.8 locked from a fake HashiCorp, with 1.15.9 published signed by another key.

Shared by the tests of what a bump signed by an unexpected key does: refused when that key is
not trusted (lock), refused as a provenance change when it is (continuity), taken when the
catalogue says any key of the keyring may sign.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.hashicorp import HashiCorpReleases
from tests.fakes.pgp import KeySet, switchboard
from tests.helpers import run_cli

_TOOLS = (
    "tools:\n  terraform:\n    source: hashicorp\n    product: terraform\n    install: archive\n"
    "    assets: {linux/amd64: 'terraform_{version}_linux_amd64.zip', "
    "linux/arm64: 'terraform_{version}_linux_arm64.zip'}\n"
    "    check: {command: [terraform, version], pattern: 'v(\\S+)'}\n"
)


@dataclass(frozen=True)
class Bump:
    root: Path
    locked: bytes  # builder.lock holding 1.15.8, signed by keys.release
    fake: HashiCorpReleases


@contextmanager
def stranger_signed_bump(
    tmp_path: Path, keys: KeySet, env: pytest.MonkeyPatch, trust_stranger: bool, provenance: str = ""
) -> Iterator[Bump]:
    """``trust_stranger``: the keyring also pins the key that signed 1.15.9."""
    trusted = keys.keys_dir
    if trust_stranger:
        trusted = tmp_path / "keys"
        trusted.mkdir()
        (trusted / "hashicorp.asc").write_bytes(keys.release.armored() + keys.stranger.armored())
    env.setenv("BUILDER_KEYS_DIR", str(trusted))
    root = tmp_path / "project"
    (root / "images").mkdir(parents=True)
    (root / "tools.yaml").write_text(_TOOLS + provenance)
    with switchboard() as board:
        fake = board.plug(HashiCorpReleases(keys, current="1.15.8", current_date=1_700_000_000))
        fake.publish("1.15.8")
        (root / "builder.yaml").write_text(
            f"upstreams: {{hashicorp_releases: '{fake.url}', hashicorp_checkpoint: '{fake.url}'}}\n"
        )
        first = run_cli(root, "lock")
        assert first.exit_code == 0, first.output
        fake.publish("1.15.9")
        fake.current, fake.signature = "1.15.9", "stranger"
        yield Bump(root, (root / "builder.lock").read_bytes(), fake)
