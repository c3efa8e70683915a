"""Lockfile schema 2: tags from what is locked, schema 1 migrated in one reviewable diff, evidence as data."""

from __future__ import annotations

import dataclasses
import difflib
import shutil
from pathlib import Path

import yaml

from builder.building.render import plan_images
from builder.config.project import load_project
from builder.locking.evidence import OpenPGPSignature, Recorded
from builder.locking.lockfile import SCHEMA, load_lockfile, loads
from builder.locking.resolver import Change, LockOutcome
from builder.updating.updater import pr_body
from tests.conftest import FIXTURES
from tests.helpers import run_cli

AMD64_TOOL = "solo"


def tags(project: Path) -> dict[str, str]:
    return {
        name: plan.digest for name, plan in plan_images(load_project(project), load_lockfile(project)).items()
    }


def test_a_reformatted_lockfile_gives_the_same_tags(minimal_project: Path) -> None:
    before = tags(minimal_project)
    path = minimal_project / "builder.lock"
    data = yaml.safe_load(path.read_text())
    # Same content, other text: keys reversed, flow style, other indentation, a comment.
    reordered = {"tools": {n: dict(reversed(list(t.items()))) for n, t in reversed(list(data["tools"].items()))},
                 "schema": data["schema"]}  # fmt: skip
    path.write_text(
        "# reformatted by hand\n" + yaml.safe_dump(reordered, default_flow_style=True, width=60, indent=4)
    )
    assert path.read_text() != load_lockfile(minimal_project).dumps()
    assert tags(minimal_project) == before


def test_evidence_and_urls_do_not_change_a_tag_but_a_digest_does(minimal_project: Path) -> None:
    before = tags(minimal_project)
    lock = load_lockfile(minimal_project)
    solo = lock.tools[AMD64_TOOL]
    files = {p: dataclasses.replace(a, url=a.url + "?mirror", evidence=(*a.evidence, Recorded("also seen")))
             for p, a in solo.payload.files.items()}  # fmt: skip
    (minimal_project / "builder.lock").write_text(
        lock.with_tool(
            dataclasses.replace(solo, payload=dataclasses.replace(solo.payload, files=files))
        ).dumps()
    )
    assert tags(minimal_project) == before
    first = next(iter(files))
    files[first] = dataclasses.replace(files[first], sha256="f" * 64)
    (minimal_project / "builder.lock").write_text(
        lock.with_tool(
            dataclasses.replace(solo, payload=dataclasses.replace(solo.payload, files=files))
        ).dumps()
    )
    changed = tags(minimal_project)
    assert changed["scanners"] != before["scanners"]  # the image that holds solo
    assert changed["base"] == before["base"]  # and only that one


def test_builder_lock_migrates_schema_1_in_one_reviewable_diff(minimal_project: Path) -> None:
    shutil.copy(FIXTURES / "schema1.lock", minimal_project / "builder.lock")
    old = (minimal_project / "builder.lock").read_text()
    before = tags(minimal_project)
    check = run_cli(minimal_project, "lock", "--check")
    assert check.exit_code == 1
    assert "builder.lock is schema 1: run `builder lock` to migrate it to schema 2" in check.output
    result = run_cli(minimal_project, "lock")
    assert result.exit_code == 0, result.output
    assert "migrated from schema 1 to 2" in result.output
    new = (minimal_project / "builder.lock").read_text()
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0))
    removed = [line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---")]
    # Only the schema number and the free-text origins go; every digest line stays as it was.
    assert removed and all(line == "schema: 1" or line.startswith("origin:") for line in removed)
    assert loads(new).schema == SCHEMA
    assert tags(minimal_project) == before  # a migration re-tags nothing
    assert run_cli(minimal_project, "lock", "--check").exit_code == 0


def test_schema_1_origins_become_typed_records_where_their_words_fix_every_field() -> None:
    text = (FIXTURES / "schema1.lock").read_text()
    signed = "HashiCorp release 2.1.0; zippy_2.1.0_SHA256SUMS signed by C874 011F 0AB4 0511 0D02  1055 3436 5D94 72D7 468F"
    lock = loads(text.replace("origin: fixture", f"origin: {signed}", 1))
    first = next(iter(lock.tools.values()))
    records = {r for _, r in first.payload.evidence()}
    assert records == {OpenPGPSignature("zippy_2.1.0_SHA256SUMS", "C874011F0AB405110D02105534365D9472D7468F")}
    assert {r for _, r in lock.tools["solo"].payload.evidence()} == {Recorded("fixture")}


def test_the_pull_request_says_verified_from_the_records_not_from_words(minimal_project: Path) -> None:
    project = load_project(minimal_project)
    lock = load_lockfile(minimal_project)
    solo = lock.tools[AMD64_TOOL]
    fingerprint = "A" * 40
    signed = {p: dataclasses.replace(a, evidence=(OpenPGPSignature("SHA256SUMS", fingerprint),))
              for p, a in solo.payload.files.items()}  # fmt: skip
    # A text that merely says "signed by" is not a signature (schema 1's PR column believed it).
    words = {p: dataclasses.replace(a, evidence=(Recorded("signed by nobody; matched nothing"),))
             for p, a in solo.payload.files.items()}  # fmt: skip
    for files, expected in ((signed, f"SHA256SUMS signed by OpenPGP key {fingerprint}"),
                            (words, "recorded before schema 2: signed by nobody; matched nothing")):  # fmt: skip
        new = dataclasses.replace(
            solo, version="9.9.9", payload=dataclasses.replace(solo.payload, files=files)
        )
        outcome = LockOutcome(lock.with_tool(new), [Change(AMD64_TOOL, solo.version, "9.9.9", "")])
        row = next(
            line for line in pr_body(project, lock, outcome).splitlines() if line.startswith("| solo |")
        )
        assert row.rstrip(" |").endswith(expected), row


def test_a_lock_entry_without_evidence_is_refused_naming_its_line(minimal_project: Path) -> None:
    path = minimal_project / "builder.lock"
    text = path.read_text()
    start = text.index("        evidence:\n")
    end = text.index("      linux/arm64:", start)
    path.write_text(text[:start] + text[end:])
    result = run_cli(minimal_project, "render")
    assert result.exit_code == 2
    assert "builder.lock:" in result.output and "evidence" in result.output
