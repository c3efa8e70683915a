"""SLSA v1 provenance of a built image, as an in-toto v1 statement signed in a DSSE envelope, and its check.

The statement's subject is the image (its image id, and its registry digest once pushed); its
resolved dependencies are every locked file (as the SBOM lists them), the base image, the
rendered Dockerfile, builder itself and the lock digest. Checking an image asks four things
agree: the signature (with the key's public half), the subject and the image, the SBOM in the
image and its label, and the lock digest of the label, the SBOM and the statement.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cyclonedx.model import HashType

from builder.attesting import LOCK_LABEL, SBOM_LABEL, SBOM_PATH
from builder.attesting.dsse import PAYLOAD_TYPE, Envelope, load_public_key, verified
from builder.attesting.sbom import LOCK_DIGEST, SbomSubject, tool_components
from builder.errors import UserError

_STATEMENT = "https://in-toto.io/Statement/v1"
_PREDICATE = "https://slsa.dev/provenance/v1"
_BUILD_TYPE = "urn:builder:image-build:v1"  # what externalParameters mean: one image, one platform


@dataclass(frozen=True)
class BuiltImage:
    """An image as the engine records it."""

    ref: str
    image_id: str  # "sha256:..." (the config digest: the same in every registry)
    repo_digests: tuple[str, ...]  # "repo@sha256:...", once pushed or pulled
    labels: Mapping[str, str]

    def digests(self) -> set[str]:
        return {self.image_id.removeprefix("sha256:")} | {
            d.rsplit("@sha256:", 1)[-1] for d in self.repo_digests
        }


def built_image(record: Mapping[str, object], ref: str) -> BuiltImage:
    """From `docker image inspect`'s record."""
    config = record.get("Config")
    labels = config.get("Labels") if isinstance(config, dict) else None
    repo = record.get("RepoDigests")
    return BuiltImage(
        ref,
        str(record.get("Id", "")),
        tuple(str(d) for d in repo) if isinstance(repo, list) else (),
        {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )


@dataclass(frozen=True)
class BuildFacts:
    """What a build was made from, beside its locked tools."""

    dockerfile: bytes  # the rendered Dockerfile
    base_ref: str  # the FROM image
    base_digest: str  # its digest (64 hex), "" when not known
    builder_version: str
    builder_id: str  # who ran the build: the CodeBuild build ARN, or "urn:builder:local"


def statement(image: BuiltImage, subject: SbomSubject, facts: BuildFacts) -> bytes:
    """The in-toto statement, as the bytes the envelope signs."""
    components = [
        c for tool, locked in subject.tools for c in tool_components(tool, locked, subject.platforms)
    ]
    dependencies = [_dependency(c.bom_ref.value or "", c.purl.to_string() if c.purl else "", c.hashes)
                    for c in components]  # fmt: skip
    dependencies += [
        {"name": "Dockerfile", "digest": {"sha256": hashlib.sha256(facts.dockerfile).hexdigest()}},
        {"name": "builder.lock", "digest": {"sha256": subject.lock_digest}},
        {"name": "builder", "uri": f"pkg:generic/builder@{facts.builder_version}"},
    ]
    if facts.base_ref:
        base: dict[str, object] = {"name": "base image", "uri": facts.base_ref}
        dependencies.append({**base, "digest": {"sha256": facts.base_digest}} if facts.base_digest else base)
    subjects = [{"name": image.ref, "digest": {"sha256": image.image_id.removeprefix("sha256:")}}]
    subjects += [
        {"name": d.split("@", 1)[0], "digest": {"sha256": d.rsplit("@sha256:", 1)[-1]}}
        for d in sorted(image.repo_digests)
    ]
    predicate = {
        "buildDefinition": {
            "buildType": _BUILD_TYPE,
            "externalParameters": {"image": subject.image, "platforms": [str(p) for p in subject.platforms]},
            "internalParameters": {"lockDigest": f"sha256:{subject.lock_digest}", "tag": subject.tag},
            "resolvedDependencies": dependencies,
        },
        "runDetails": {"builder": {"id": facts.builder_id, "version": {"builder": facts.builder_version}}},
    }
    body = {"_type": _STATEMENT, "subject": subjects, "predicateType": _PREDICATE, "predicate": predicate}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _dependency(name: str, uri: str, hashes: Iterable[HashType]) -> dict[str, object]:
    digest = {h.alg.value.lower().replace("-", ""): h.content for h in hashes}  # "SHA-256" -> "sha256"
    return {"name": name, "uri": uri, "digest": digest}


@dataclass(frozen=True)
class Verified:
    """What a passed check established, for people."""

    ref: str
    lock_digest: str
    key: str


def verify_image(
    envelope: Envelope, key: bytes, key_name: str, image: BuiltImage, sbom: bytes | None
) -> Verified:
    """Check the signature, then that the image, its SBOM label and lock digest agree (else UserError)."""
    if envelope.payload_type != PAYLOAD_TYPE:
        raise UserError(
            f"the provenance of {image.ref} is a {envelope.payload_type!r}, not an in-toto statement"
        )
    if not verified(envelope, load_public_key(key, key_name)):
        raise UserError(f"the provenance of {image.ref} is not signed by {key_name} "
                        "(another key signed it, or it was altered)")  # fmt: skip
    body = _statement(envelope.payload, image.ref)
    _same_image(body, image)
    sbom_lock = _sbom_lock_digest(image, sbom)
    said = {"the image's label": image.labels.get(LOCK_LABEL, "(none)"), "its SBOM": sbom_lock,
            "its provenance": _lock_digest(body)}  # fmt: skip
    if len(set(said.values())) != 1:
        raise UserError(
            f"{image.ref}: the lock digests disagree: " + ", ".join(f"{k} {v}" for k, v in said.items())
        )
    return Verified(image.ref, sbom_lock, key_name)


def _statement(payload: bytes, ref: str) -> dict[str, object]:
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    if (
        not isinstance(body, dict)
        or body.get("_type") != _STATEMENT
        or body.get("predicateType") != _PREDICATE
    ):
        raise UserError(f"the provenance of {ref} is not an in-toto v1 statement of SLSA v1 provenance")
    return body


def _same_image(body: dict[str, object], image: BuiltImage) -> None:
    subjects = body.get("subject")
    named = (
        {str(s.get("digest", {}).get("sha256")) for s in subjects if isinstance(s, dict)}
        if isinstance(subjects, list)
        else set()
    )
    if not named & image.digests():
        names = ", ".join(sorted(named)) or "no image"
        raise UserError(f"the provenance is not of {image.ref} ({image.image_id}): it names {names}; "
                        "the image was changed or is another one")  # fmt: skip


def _lock_digest(body: dict[str, object]) -> str:
    predicate = body.get("predicate")
    definition = predicate.get("buildDefinition") if isinstance(predicate, dict) else None
    internal = definition.get("internalParameters") if isinstance(definition, dict) else None
    return str(internal.get("lockDigest")) if isinstance(internal, dict) else "(none)"


def _sbom_lock_digest(image: BuiltImage, sbom: bytes | None) -> str:
    label = image.labels.get(SBOM_LABEL)
    if not label or sbom is None:
        raise UserError(
            f"{image.ref} has no SBOM at {SBOM_PATH} or no {SBOM_LABEL} label: not built by `builder build`"
        )
    actual = hashlib.sha256(sbom).hexdigest()
    if actual != label:
        raise UserError(
            f"{image.ref}: the SBOM at {SBOM_PATH} has sha256 {actual}, its label {SBOM_LABEL} says {label}"
        )
    try:
        facts = {p["name"]: p["value"] for p in json.loads(sbom)["metadata"]["properties"]}
    except (ValueError, KeyError, TypeError):
        facts = {}
    return str(facts.get(LOCK_DIGEST, "(none)"))
