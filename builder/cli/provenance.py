"""`builder provenance` and `builder verify-image`: a KMS-signed SLSA provenance per image, and its check.

The envelope is stored beside the image in its registry, as a one-file image tagged
``<tag>.provenance`` (pushed with the image, so it lives and expires with it, and whoever can
pull the image can check it), and written to a file for CodeBuild's build record.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from builder.attesting import SBOM_PATH
from builder.attesting.dpkg import OS_RELEASE, STATUS
from builder.attesting.dsse import Envelope, read_envelope, sign
from builder.attesting.image_files import inspect, read_files
from builder.attesting.kms import KmsSigner, public_key
from builder.attesting.provenance import BuildFacts, built_image, statement, verify_image
from builder.attesting.sbom import builder_version
from builder.building.build_context import image_sbom, sbom_subject
from builder.building.buildkit import image_exists, push
from builder.building.engine import DockerClient
from builder.building.pipeline import image_tag
from builder.building.render import OUTPUT, plan_images, render_project
from builder.cli.sbom import base_system
from builder.config.platforms import Platform
from builder.config.project import Project
from builder.errors import UserError
from builder.locking.lockfile import load_lockfile
from builder.plumbing.fsutil import atomic_write
from builder.plumbing.workdir import scratch
from builder.runtime import Runtime

Echo = Callable[[str], None]
_SUFFIX = ".provenance"  # the provenance image's tag: the image's own tag and this
_ENVELOPE = "/provenance.dsse.json"  # in the provenance image, beside /sbom.cdx.json (with Debian packages)


@dataclass(frozen=True)
class ProvenanceOptions:
    platform: Platform
    key: str | None = None  # default: builder.yaml's provenance.kms_key
    out: Path | None = None
    to_registry: bool = False  # push it beside the tag
    if_built: bool = False  # a tag not on this engine (already in the registry) is not an error


def provenance_command(project: Project, image: str, options: ProvenanceOptions, echo: Echo) -> int:
    name, platform = project.select((image,))[0], options.platform
    key = _key(project, options.key)  # before any docker or AWS work
    runtime, lock = Runtime(project, os.environ), load_lockfile(project.root)
    plan = plan_images(project, lock)[name]
    ref = image_tag(project, plan, platform)
    if options.if_built and not image_exists(runtime.docker, ref):
        echo(f"{ref} is not on this engine (it was in the registry already): nothing to sign")
        return 0
    built = built_image(inspect(runtime.docker, ref), ref)
    dockerfile = render_project(project, lock, (name,))[f"{OUTPUT}/{name}/Dockerfile"]
    base_ref, base_digest = _base(project, runtime.docker, name, platform)
    facts = BuildFacts(dockerfile, base_ref, base_digest, builder_version(),
                       os.environ.get("CODEBUILD_BUILD_ARN") or "urn:builder:local")  # fmt: skip
    body = statement(built, sbom_subject(project, plan, (platform,)), facts)
    signer = KmsSigner(runtime.kms, key, project.settings.provenance.algorithm)
    envelope = sign(body, signer).to_json()
    target = options.out or Path(f"provenance-{name}-{platform.arch}.dsse.json")
    atomic_write(target, envelope)
    echo(f"wrote {target}: the provenance of {ref} ({built.image_id}), signed by {signer.key_id}")
    if options.to_registry:
        # Beside the envelope, the whole SBOM: the baked one plus the Debian packages of the built image.
        system = base_system(read_files(runtime.docker, ref, (STATUS, OS_RELEASE)), ref)
        full = image_sbom(project, plan, (platform,), system)
        files = {"provenance.dsse.json": envelope, "sbom.cdx.json": full}
        echo(f"pushed {ref}{_SUFFIX}@{_push_beside(runtime.docker, ref, files)}")
    return 0


def _key(project: Project, key: str | None) -> str:
    found = key or project.settings.provenance.kms_key
    if not found:
        raise UserError("no signing key: set provenance.kms_key in builder.yaml (alias/...) or pass --key")
    return found


def _base(project: Project, client: DockerClient, name: str, platform: Platform) -> tuple[str, str]:
    """The FROM image and its digest: pinned in builder.yaml, or as the engine holds it."""
    base = project.images[name].base
    if base.external:
        pinned = project.settings.base_images[base.external]
        if pinned.digest:
            return pinned.pinned, pinned.digest.removeprefix("sha256:")
        ref = pinned.ref
    else:
        ref = image_tag(
            project, plan_images(project, load_lockfile(project.root))[base.image or ""], platform
        )
    return ref, str(inspect(client, ref).get("Id", "")).removeprefix("sha256:")


def _push_beside(client: DockerClient, ref: str, files: dict[str, bytes]) -> str:
    """Build the image holding only ``files`` (at /), tag it beside ``ref`` and push it."""
    with scratch("provenance") as folder:
        for name, data in files.items():
            (folder / name).write_bytes(data)
        (folder / "Dockerfile").write_text(
            "FROM scratch\n" + "".join(f"COPY {n} /{n}\n" for n in sorted(files))
        )
        done = _run(client, *client.build_argv()[1:], "--quiet", "--tag", f"{ref}{_SUFFIX}", str(folder))
        if done:
            raise UserError(f"cannot build the provenance image of {ref}: {done}")
    return push(client, f"{ref}{_SUFFIX}", lambda line: None)


def _run(client: DockerClient, *args: str) -> str:
    import subprocess

    done = subprocess.run([client.path, *args], capture_output=True, text=True, check=False,
                          env=client.build_env(os.environ))  # fmt: skip
    return (
        "" if done.returncode == 0 else (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    )


def verify_image_command(
    project: Project, ref: str, provenance: Path | None, pem: Path | None, key: str | None, echo: Echo
) -> int:
    runtime = Runtime(project, os.environ)
    client = runtime.docker
    built = built_image(inspect(client, ref), ref)
    envelope = _envelope(client, ref, provenance)
    if pem is not None:
        key_bytes, key_name = pem.read_bytes(), str(pem)
    else:
        key_name = _key(project, key)
        key_bytes = public_key(runtime.kms, key_name)
    sbom = read_files(client, ref, (SBOM_PATH,)).get(SBOM_PATH)
    verdict = verify_image(envelope, key_bytes, key_name, built, sbom)
    digest = hashlib.sha256(envelope.payload).hexdigest()[:12]
    echo(f"ok: {verdict.ref} is what its provenance ({digest}) says, signed by {verdict.key}; "
         f"its SBOM and label agree on lock digest {verdict.lock_digest}")  # fmt: skip
    return 0


def _envelope(client: DockerClient, ref: str, provenance: Path | None) -> Envelope:
    if provenance is not None:
        return read_envelope(provenance.read_bytes(), str(provenance))
    beside = f"{ref}{_SUFFIX}"
    if not image_exists(client, beside):
        _run(client, "pull", "--quiet", beside)  # a failure shows as the read's own error below
    found = read_files(client, beside, (_ENVELOPE,)).get(_ENVELOPE)
    if found is None:
        raise UserError(f"{ref}{_SUFFIX} holds no {_ENVELOPE}: pass --provenance FILE")
    return read_envelope(found, f"{ref}{_SUFFIX}")
