"""Continuity: a bump whose signer vanished or changed fails that tool, naming both signers, and
leaves builder.lock byte-identical, until `--accept-provenance-change TOOL` takes it; the pull
request then says so in bold. Both fronts of `update` take the same option."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.config.platforms import Platform
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.continuity import compare, provenance_text
from builder.locking.evidence import OpenPGPSignature
from builder.locking.lockfile import LockedTool, load_lockfile
from builder.updating.lambda_handler import UpdateFailed, handler
from tests.fakes.evidence import ISSUER, TESTED, Keyless, attesting
from tests.fakes.github import FakeGitHub
from tests.fakes.github_pulls import FakeRepo
from tests.fakes.pgp import KeySet
from tests.helpers import run_cli
from tests.terraform_bump import stranger_signed_bump
from tests.test_http_credentials import release, world

AMD64 = Platform("linux", "amd64")
WORKFLOW = "https://github.com/acme/scan/.github/workflows/release.yml@refs/tags/v{}"
OLD = Keyless(WORKFLOW.format("1.0.0"))
BOLD = "**provenance changed: accepted by --accept-provenance-change**"

# What 1.1.0 is signed with, and how the old and new signers read in the refusal.
WEAKER = {
    "signer disappeared": (None, "1.1.0: no signature"),
    "identity changed": (
        Keyless("https://github.com/acme/scan/.github/workflows/other.yml@refs/tags/v1.1.0"),
        "1.1.0: signed by `https://github.com/acme/scan/.github/workflows/other.yml@refs/tags/v1.1.0` "
        f"(sigstore, issuer `{ISSUER}`)",
    ),
    "issuer changed": (
        Keyless(WORKFLOW.format("1.1.0"), "https://issuer.other.test"),
        f"1.1.0: signed by `{WORKFLOW.format('1.1.0')}` (sigstore, issuer `https://issuer.other.test`)",
    ),
}
OLD_TEXT = f"1.0.0: signed by `{OLD.identity}` (sigstore, issuer `{OLD.issuer}`)"


@pytest.fixture
def signed(monkeypatch: pytest.MonkeyPatch) -> dict[str, Keyless]:
    table = {"1.0.0": OLD}
    attesting(monkeypatch, table)
    return table


@pytest.fixture
def scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signed: dict[str, Keyless]
) -> Iterator[tuple[FakeRepo, FakeGitHub, Path]]:
    """scan 1.0.0 locked, signed by its release workflow; 1.1.0 published."""
    with world(tmp_path, monkeypatch) as found:
        yield found


@pytest.mark.parametrize("case", sorted(WEAKER))
def test_a_weaker_bump_fails_naming_both_signers_and_leaves_the_lock_byte_identical(
    scan: tuple[FakeRepo, FakeGitHub, Path], signed: dict[str, Keyless], case: str
) -> None:
    _, _, root = scan
    record, new_text = WEAKER[case]
    if record:
        signed["1.1.0"] = record
    before = (root / "builder.lock").read_bytes()
    result = run_cli(root, "lock", "--upgrade")
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("error: scan:")]
    assert f"provenance changed from 1.0.0 to 1.1.0 ({OLD_TEXT}; {new_text})" in line
    assert "`builder lock --upgrade --accept-provenance-change scan`" in line
    assert (root / "builder.lock").read_bytes() == before

    result = run_cli(root, "lock", "--upgrade", "--accept-provenance-change", "scan")
    assert result.exit_code == 0, result.output
    assert load_lockfile(root).tools["scan"].version == "1.1.0"
    assert f"provenance changed: accepted by --accept-provenance-change (was {OLD_TEXT[7:]})" in result.output


def test_the_same_workflow_signing_the_next_tag_is_unchanged_and_a_signer_added_passes(
    scan: tuple[FakeRepo, FakeGitHub, Path], signed: dict[str, Keyless]
) -> None:
    _, releases, root = scan
    signed["1.1.0"] = Keyless(WORKFLOW.format("1.1.0"))
    result = run_cli(root, "lock", "--upgrade")
    assert result.exit_code == 0, result.output
    assert f"provenance: signed by `{WORKFLOW.format('1.1.0')}` (sigstore, issuer " in result.output
    assert "; signer unchanged" in result.output
    # Re-read unsigned, the same version loses its signer: refused too, unless accepted.
    del signed["1.0.0"], signed["1.1.0"]
    assert run_cli(root, "lock", "--repin", "scan").exit_code == 1
    assert run_cli(root, "lock", "--repin", "scan", "--accept-provenance-change", "scan").exit_code == 0
    # An unsigned entry that becomes signed only gets stronger.
    release(releases, "1.2.0")
    signed["1.2.0"] = Keyless(WORKFLOW.format("1.2.0"))
    result = run_cli(root, "lock", "--upgrade")
    assert result.exit_code == 0, result.output
    assert "; signer added" in result.output


def test_an_unknown_tool_to_accept_is_a_usage_error(scan: tuple[FakeRepo, FakeGitHub, Path]) -> None:
    result = run_cli(scan[2], "lock", "--upgrade", "--accept-provenance-change", "sacn")
    assert result.exit_code == 2
    assert "no tool named 'sacn' (did you mean 'scan'?)" in result.output


def test_a_new_openpgp_signer_fails_although_both_keys_are_trusted(
    tmp_path: Path, keys: KeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stranger_signed_bump(tmp_path, keys, monkeypatch, trust_stranger=True) as tf:
        refused = run_cli(tf.root, "lock", "--upgrade")
        after_refusal = (tf.root / "builder.lock").read_bytes()
        accepted = run_cli(tf.root, "lock", "--upgrade", "--accept-provenance-change", "terraform")
    old, new = keys.release.fingerprint.upper(), keys.stranger.fingerprint.upper()
    assert refused.exit_code == 1, refused.output
    assert (
        f"error: terraform: provenance changed from 1.15.8 to 1.15.9 (1.15.8: OpenPGP `{old}`; "
        f"1.15.9: OpenPGP `{new}`)" in refused.output
    )
    assert after_refusal == tf.locked
    assert accepted.exit_code == 0, accepted.output
    assert load_lockfile(tf.root).tools["terraform"].version == "1.15.9"
    assert f"provenance: OpenPGP `{new}`; provenance changed: accepted" in accepted.output


def test_signers_keyring_takes_any_key_of_the_pinned_keyring_and_says_it_changed(
    tmp_path: Path, keys: KeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Node.js: release managers take turns signing; each key is pinned, so none is a stranger."""
    keyring = "    provenance: {kind: openpgp, signers: keyring}\n"
    with stranger_signed_bump(tmp_path, keys, monkeypatch, True, keyring) as tf:
        bumped = run_cli(tf.root, "lock", "--upgrade")
    assert bumped.exit_code == 0, bumped.output
    assert load_lockfile(tf.root).tools["terraform"].version == "1.15.9"
    new = keys.stranger.fingerprint.upper()
    assert f"provenance: OpenPGP `{new}`; another key of the pinned keyring signed" in bumped.output


def test_a_declared_openpgp_signature_the_source_does_not_give_fails_the_tool(
    scan: tuple[FakeRepo, FakeGitHub, Path],
) -> None:
    _, _, root = scan
    catalogue = root / "tools.yaml"
    catalogue.write_text(catalogue.read_text() + "    provenance: {kind: openpgp}\n")
    before = (root / "builder.lock").read_bytes()
    result = run_cli(root, "lock", "--upgrade")
    assert result.exit_code == 1, result.output
    assert "has no OpenPGP signature, which tools.yaml (tools.yaml:" in result.output
    assert (root / "builder.lock").read_bytes() == before


def _cli(repo: FakeRepo, root: Path, env: pytest.MonkeyPatch, accept: bool) -> int:
    env.setenv("GITHUB_TOKEN", repo.token)
    args = ["update", "--open-pr", "--repository", f"{repo.owner}/{repo.name}"]
    return run_cli(root, *args, *(["--accept-provenance-change", "scan"] if accept else [])).exit_code


def _lambda(repo: FakeRepo, root: Path, env: pytest.MonkeyPatch, accept: bool) -> int:
    env.setenv("BUILDER_GITHUB_REPOSITORY", f"{repo.owner}/{repo.name}")
    env.setenv("BUILDER_GITHUB_TOKEN", repo.token)
    env.setenv("BUILDER_GITHUB_API", repo.url)
    try:
        handler({"accept_provenance_change": ["scan"]} if accept else {}, None, io.StringIO())
    except UpdateFailed:
        return 1
    return 0


@pytest.mark.parametrize("front", [_cli, _lambda], ids=["cli", "lambda"])
def test_update_refuses_a_changed_signer_and_proposes_it_in_bold_once_accepted(
    scan: tuple[FakeRepo, FakeGitHub, Path], signed: dict[str, Keyless], front: object
) -> None:
    repo, _, root = scan
    signed["1.1.0"] = Keyless("https://github.com/acme/scan/.github/workflows/other.yml@refs/tags/v1.1.0")
    assert callable(front)
    with pytest.MonkeyPatch.context() as env:
        assert front(repo, root, env, False) == 1
        assert repo.open_pulls() == []
        assert front(repo, root, env, True) == 0
    (pull,) = repo.open_pulls()
    row = next(line for line in pull["body"].splitlines() if line.startswith("| scan |"))
    assert "signed by `https://github.com/acme/scan/.github/workflows/other.yml@refs/tags/v1.1.0`" in row
    assert f"{BOLD} (was signed by `{OLD.identity}`" in row
    assert "**Provenance changed, accepted by `--accept-provenance-change`: scan.**" in pull["body"]


def test_the_lambda_refuses_an_event_whose_accept_list_is_not_names(
    scan: tuple[FakeRepo, FakeGitHub, Path],
) -> None:
    repo = scan[0]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BUILDER_GITHUB_REPOSITORY", f"{repo.owner}/{repo.name}")
        env.setenv("BUILDER_GITHUB_TOKEN", repo.token)
        out = io.StringIO()
        with pytest.raises(UpdateFailed):
            handler({"accept_provenance_change": "scan"}, None, out)
    assert "the event's 'accept_provenance_change' must be a list of tool names" in out.getvalue()
    assert repo.open_pulls() == []


def _entry(version: str, *records: Keyless | OpenPGPSignature) -> LockedTool:
    artifact = Artifact("scan", "https://example.test/scan", "a" * 64, 1, evidence=(*TESTED, *records))
    return LockedTool("scan", version, Artifacts({AMD64: artifact}))


KEY_A, KEY_B = OpenPGPSignature("SUMS", "A" * 40), OpenPGPSignature("SUMS", "B" * 40)


@pytest.mark.parametrize(
    ("old", "new", "weaker", "change"),
    [
        ((KEY_A,), (KEY_A, KEY_B), True, "provenance changed: refused"),  # a second key, new
        ((KEY_A,), (KEY_A, OLD), False, "signer added"),  # a keyless signature beside the key
        ((), (KEY_A,), False, "signer added"),
        ((), (), False, "unsigned, as before"),
        ((Keyless(WORKFLOW.format("1.0.0")),), (Keyless(WORKFLOW.format("1.1.0")),), False, "signer unchanged"),
        # Only the release's own tag is the version: a branch ref, or another tag, is a change.
        ((Keyless("w@refs/heads/main"),), (Keyless("w@refs/heads/dev"),), True, "provenance changed: refused"),
        ((Keyless(WORKFLOW.format("1.0.0")),), (Keyless(WORKFLOW.format("1.0.9")),), True,
         "provenance changed: refused"),
    ],
)  # fmt: skip
def test_what_counts_as_weaker(
    old: tuple[Keyless | OpenPGPSignature, ...],
    new: tuple[Keyless | OpenPGPSignature, ...],
    weaker: bool,
    change: str,
) -> None:
    found = compare(_entry("1.0.0", *old), _entry("1.1.0", *new))
    assert (found.weaker, found.change()) == (weaker, change)
    assert compare(None, _entry("1.1.0", *new)).change() == "newly locked"


def test_an_identity_cannot_break_out_of_its_code_span() -> None:
    hostile = Keyless("w`@refs/heads/main`\n| **merged** |", "https://i`ssuer\n| x |")
    text = provenance_text(compare(None, _entry("1.1.0", hostile)))
    # The backtick cannot end the span and the line break is shown, not taken.
    assert text == (
        "signed by `w'@refs/heads/main'\\n| **merged** |` (sigstore, issuer `https://i'ssuer\\n| x |`); "
        "newly locked"
    )
