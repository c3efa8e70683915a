"""A CycloneDX 1.6 SBOM of one image, from the lockfile: no scanning, every component as locked.

Each binary release file, each Python distribution and each npm package becomes a component
with its purl, version, hashes, download URL (where the lock keeps one) and the evidence
records that established its digest, as properties. The base image's Debian packages are added
when its dpkg status is at hand (read from a built image). The document is deterministic: no
timestamp, bom-refs named after what they point at, and a serial number derived from the
content, so the same lock gives the same bytes. The build bakes in the document without evidence
and URLs (``SbomSubject.evidence``): only what the image's tag depends on, since a tag is immutable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from builder.attesting.dpkg import DebPackage
from builder.config.catalogue import Tool
from builder.config.platforms import Platform
from builder.kinds.npm_package import NpmPackage, NpmTree
from builder.kinds.python_app import PackageFile, Requirement, Requirements
from builder.kinds.release_files import Artifact, Artifacts
from builder.locking.evidence import Evidence
from builder.locking.lockfile import LockedTool

LOCK_DIGEST = "builder:lock-digest"  # the metadata property naming the lock digest it was made from
_SERIAL_NAMESPACE = uuid.UUID("6d1f4a53-5c1b-4a7e-9a43-1b0c2f6e8d21")  # builder's own, fixed forever


@dataclass(frozen=True)
class SbomSubject:
    """What an SBOM describes: one image on some platforms, and its locked tools."""

    image: str
    tag: str
    lock_digest: str
    tools: tuple[tuple[Tool, LockedTool], ...]
    platforms: tuple[Platform, ...]
    base: str = ""  # the external base image reference, pinned ("debian:12@sha256:...")
    # The baked SBOM leaves out evidence and download URLs: the tag does not depend on them, and an
    # immutable tag must not meet a second, different SBOM after a re-lock that changed only those.
    evidence: bool = True


@dataclass(frozen=True)
class BaseSystem:
    """The base image's Debian packages, as its dpkg status lists them."""

    packages: tuple[DebPackage, ...]
    distro: str = ""  # "debian-12"


def builder_version() -> str:
    """builder's own version, as installed (the SBOM's and the provenance's tool)."""
    try:
        return metadata.version("builder")
    except metadata.PackageNotFoundError:
        return "unknown"


def sbom_json(subject: SbomSubject, builder_version: str, system: BaseSystem | None = None) -> bytes:
    """The SBOM as CycloneDX 1.6 JSON bytes; the same input gives the same bytes."""
    components = [
        c for tool, locked in subject.tools for c in tool_components(tool, locked, subject.platforms)
    ]
    if not subject.evidence:
        components = [_meaning_only(c) for c in components]
    if system is not None:
        components += [_deb(p, system.distro) for p in system.packages]
    data = json.loads(JsonV1Dot6(_bom(subject, builder_version, components)).output_as_string())
    # The library stamps the time and a random serial: neither may change an unchanged image.
    data["metadata"].pop("timestamp", None)
    data.pop("serialNumber", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    data["serialNumber"] = uuid.uuid5(_SERIAL_NAMESPACE, hashlib.sha256(canonical).hexdigest()).urn
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _meaning_only(component: Component) -> Component:
    """The component without what a re-lock may change while the tag stays: evidence and URLs."""
    component.properties = [p for p in component.properties if not p.name.startswith("builder:evidence")]
    component.external_references = []
    if component.purl is not None and "download_url" in component.purl.qualifiers:
        qualifiers = {k: v for k, v in component.purl.qualifiers.items() if k != "download_url"}
        component.purl = component.purl._replace(qualifiers=qualifiers)
    return component


def _bom(subject: SbomSubject, version: str, components: list[Component]) -> Bom:
    image = Component(type=ComponentType.CONTAINER, name=subject.image, version=subject.tag,
                      bom_ref=f"image:{subject.image}")  # fmt: skip
    facts = {LOCK_DIGEST: f"sha256:{subject.lock_digest}", "builder:version": version,
             "builder:platforms": " ".join(str(p) for p in subject.platforms)}  # fmt: skip
    if subject.base:
        facts["builder:base-image"] = subject.base
    if not subject.evidence:
        del facts["builder:version"]  # a new builder does not change the tag either
    about = BomMetaData(component=image, properties=[Property(name=k, value=v) for k, v in facts.items()])
    bom = Bom(components=components, metadata=about)
    bom.register_dependency(image, components)  # the image holds every component directly
    return bom


def tool_components(tool: Tool, locked: LockedTool, platforms: tuple[Platform, ...]) -> list[Component]:
    """Every file of one locked tool that an image on these platforms takes in, as components."""
    payload = locked.payload
    if isinstance(payload, Artifacts):
        return [_artifact(tool, locked.version, p, payload.files[p]) for p in platforms if p in payload.files]
    if isinstance(payload, Requirements):
        return [_wheel(tool, p, r, f, payload.proof)
                for p in platforms for r in payload.platforms.get(p, ()) for f in r.files]  # fmt: skip
    if isinstance(payload, NpmTree):
        return [_npm(tool, package, payload.proof) for package in payload.packages]
    return [_other(tool, locked.version, what, digest, payload.evidence()) for what, digest in
            sorted(payload.digests().items())]  # fmt: skip


def _properties(tool: Tool, records: Iterable[Evidence], **facts: str) -> list[Property]:
    out = [Property(name="builder:tool", value=tool.name)]
    out += [Property(name=f"builder:{key}", value=value) for key, value in facts.items()]
    for record in records:
        out.append(Property(name="builder:evidence", value=record.summary()))
        out.append(Property(name=f"builder:evidence:{record.kind}",
                            value=json.dumps(record.to_data(), sort_keys=True)))  # fmt: skip
    return out


def _sha256(value: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=value)


def _artifact(tool: Tool, version: str, platform: Platform, artifact: Artifact) -> Component:
    qualifiers = {"arch": platform.arch, "os": platform.os}
    repository = tool.text("repository")
    if tool.source == "github" and "/" in repository:
        owner, name = repository.split("/", 1)
        purl = PackageURL("github", owner, name, version, qualifiers)
    else:
        purl = PackageURL("generic", None, tool.name, version, {**qualifiers, "download_url": artifact.url})
    return Component(
        type=ComponentType.APPLICATION,
        name=tool.name,
        version=version,
        purl=purl,
        bom_ref=f"{tool.name}:{platform}:{artifact.file}",
        hashes=[_sha256(artifact.sha256)],
        external_references=[
            ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(artifact.url))
        ],
        properties=_properties(tool, artifact.evidence, platform=str(platform), file=artifact.file),
    )


def _wheel(
    tool: Tool, platform: Platform, req: Requirement, wheel: PackageFile, proof: tuple[Evidence, ...]
) -> Component:
    return Component(
        type=ComponentType.LIBRARY,
        name=req.name,
        version=req.version,
        purl=PackageURL("pypi", None, req.name.lower(), req.version, {"file_name": wheel.file}),
        bom_ref=f"{tool.name}:{platform}:{wheel.file}",
        hashes=[_sha256(wheel.sha256)],
        properties=_properties(tool, proof, platform=str(platform), file=wheel.file),
    )


def _npm(tool: Tool, package: NpmPackage, proof: tuple[Evidence, ...]) -> Component:
    full = package.path.rsplit("node_modules/", 1)[-1]
    scope, _, name = full.rpartition("/")
    digest = base64.b64decode(package.integrity.removeprefix("sha512-")).hex()
    return Component(
        type=ComponentType.LIBRARY,
        name=name,
        group=scope or None,
        version=package.version,
        purl=PackageURL("npm", scope or None, name, package.version),
        bom_ref=f"{tool.name}:{package.path}",
        hashes=[HashType(alg=HashAlgorithm.SHA_512, content=digest)],
        properties=_properties(tool, proof, path=package.path),
    )


def _other(
    tool: Tool, version: str, what: str, digest: str, evidence: tuple[tuple[str, Evidence], ...]
) -> Component:
    """A payload this module does not know (a new install kind): its pinned files, as it names them."""
    algorithm, _, value = digest.partition(" ")
    hashes = [_sha256(value)] if algorithm == "sha256" else []
    return Component(
        type=ComponentType.FILE,
        name=tool.name,
        version=version,
        purl=PackageURL("generic", None, tool.name, version),
        bom_ref=f"{tool.name}:{what}",
        hashes=hashes,
        properties=_properties(tool, (r for w, r in evidence if w == what), file=what),
    )


def _deb(package: DebPackage, distro: str) -> Component:
    qualifiers = {"arch": package.architecture, **({"distro": distro} if distro else {})}
    if package.source and package.source != package.name:
        qualifiers["upstream"] = package.source
    return Component(
        type=ComponentType.LIBRARY,
        name=package.name,
        version=package.version,
        purl=PackageURL("deb", "debian", package.name, package.version, qualifiers),
        bom_ref=f"deb:{package.name}:{package.architecture}",
        properties=[Property(name="builder:origin", value="base image dpkg status")],
    )
