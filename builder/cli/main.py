"""The command line: each command parses its flags, calls one library function and prints."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from builder import __version__
from builder.config.names import printable
from builder.config.platforms import SUPPORTED, Platform
from builder.config.project import Project, find_root, load_project, with_environment
from builder.errors import BuilderError
from builder.plumbing.redact import redact

_F = TypeVar("_F", bound=Callable[..., Any])


@contextmanager
def _error_handler(debug: bool) -> Iterator[None]:
    """Map every failure to one line and an exit status: 1 failed, 2 bad config, 130 Ctrl-C, 3 bug."""
    try:
        yield
    except BuilderError as e:
        # One line, unless builder itself composed several (each from a checked file's values).
        click.echo(f"error: {printable(redact(str(e)), keep=chr(10) if e.multiline else '')}", err=True)
        if debug:
            import traceback

            traceback.print_exc()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:
        click.echo(
            f"internal error: {printable(redact(f'{type(e).__name__}: {e}'))} "
            "(rerun with --debug for the traceback)",
            err=True,
        )
        if debug:
            import traceback

            traceback.print_exc()
        sys.exit(3)


class Context:
    def __init__(self, project_dir: Path | None, debug: bool) -> None:
        self.project_dir = project_dir
        self.debug = debug

    def root(self) -> Path:
        return self.project_dir.resolve() if self.project_dir else find_root(Path.cwd())

    def project(self) -> Project:
        import os

        return with_environment(load_project(self.root()), os.environ)


_pass_context = click.make_pass_decorator(Context)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run `builder COMMAND --help` for a command's options and examples.",
)
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project folder (the one with builder.yaml). Default: found from the current folder.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="builder")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None, debug: bool) -> None:
    """Pinned, verified, rebuilt and updated container images for CI scanners.

    \b
    Files: builder.yaml (settings), tools.yaml (tool catalogue), images/<name>/image.yaml,
    builder.lock (generated pins), templates/ (Jinja), buildspecs/ (rendered output).
    """
    ctx.obj = Context(project_dir, debug)
    from builder.plumbing.workdir import sweep

    sweep()  # the scratch folders of earlier runs that were killed


def _command(**kwargs: Any) -> Callable[[_F], _F]:
    return main.command(**kwargs)  # type: ignore[return-value]


@_command(
    short_help="Render Dockerfiles and buildspecs into buildspecs/.",
    epilog="""\b
Examples:
  builder render                        render every image and the batch buildspec
  builder render container-scanners     render one image
  builder render --check                exit 1 with a diff if committed output is stale (CI)
""",
)
@click.argument("images", nargs=-1)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and show a diff when output is stale.")
@_pass_context
def render(ctx: Context, images: tuple[str, ...], check: bool) -> None:
    """Render Dockerfiles and CodeBuild buildspecs into buildspecs/."""
    from builder.cli.commands import render_command

    with _error_handler(ctx.debug):
        code = render_command(ctx.project(), images, check, click.echo)
    sys.exit(code)


_PLATFORM = click.Choice(SUPPORTED)


def _platform(value: str | None) -> Platform:
    from builder.config.platforms import host_platform

    return Platform.parse(value) if value else host_platform()


@_command(
    short_help="Download and verify locked artifacts into the store.",
    epilog="""\b
Examples:
  builder fetch                           download every locked artifact of every image
  builder fetch container-scanners        only what one image needs
  builder fetch base --platform linux/amd64 --context /tmp/ctx
                                          also write that image's build context (CodeBuild does this)
""",
)
@click.argument("images", nargs=-1)
@click.option(
    "--platform", "platforms", type=_PLATFORM, multiple=True, help="Only these platforms (repeatable)."
)
@click.option(
    "--context", type=click.Path(file_okay=False, path_type=Path), help="Write the build context here."
)
@_pass_context
def fetch(ctx: Context, images: tuple[str, ...], platforms: tuple[str, ...], context: Path | None) -> None:
    """Download locked artifacts into the artifact store, verifying each against the lockfile.

    A warm cache downloads nothing. Exit 1 if any artifact could not be fetched or did not match.
    """
    from builder.cli.commands import fetch_command

    with _error_handler(ctx.debug):
        code = fetch_command(
            ctx.project(), images, tuple(Platform.parse(p) for p in platforms), context, click.echo
        )
    sys.exit(code)


@_command(
    short_help="Build images with BuildKit, parents first.",
    epilog="""\b
Examples:
  builder build container-scanners        fetch, render and build one image (and missing parents)
  builder build --all --jobs 2            the whole image graph, independent images in parallel
  builder build --all --push              smoke-test and push each image the registry lacks
  builder build base --push --junit reports/smoke.xml --strict
                                          as the rendered CodeBuild buildspecs do
  builder build python-scanners -v        with BuildKit's whole log (same as --progress plain)
\b
By default one line per stage as it finishes (cached or rebuilt, seconds), then one row per image
(tag, size, built or up to date, seconds); a failing step shows its stage and its last 40 lines.
""",
)
@click.argument("images", nargs=-1)
@click.option("--all", "all_images", is_flag=True, help="Build every image.")
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 16), default=1, show_default=True, help="Parallel builds."
)
@click.option(
    "--push",
    is_flag=True,
    help="Smoke-test each image, then push it; one the registry already holds is left alone.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --push: write the smoke results as JUnit XML (CodeBuild reports).",
)
@click.option("--platform", type=_PLATFORM, help="Target platform. Default: this machine's.")
@click.option("--no-cache", is_flag=True, help="Do not use BuildKit's cache.")
@click.option("--network", help="Build network, e.g. 'host' to reach an index on this machine.")
@click.option("--rebuild", is_flag=True, help="Build even when the image's tag already exists.")
@click.option(
    "--progress",
    type=click.Choice(["compact", "plain"]),
    default="compact",
    show_default=True,
    help="plain: BuildKit's whole log, as it comes.",
)
@click.option("--verbose", "-v", is_flag=True, help="Same as --progress plain.")
@click.option(
    "--strict", is_flag=True, help="Fail when committed buildspecs/ differ from a fresh render (CI)."
)
@_pass_context
def build(
    ctx: Context,
    images: tuple[str, ...],
    all_images: bool,
    jobs: int,
    push: bool,
    platform: str | None,
    no_cache: bool,
    network: str | None,
    rebuild: bool,
    junit: Path | None,
    progress: str,
    verbose: bool,
    strict: bool,
) -> None:
    """Build images with BuildKit; tags are <registry>/<image>:<digest>-<arch>.

    The build always uses a fresh render; committed buildspecs/ that differ from it are a
    warning, or with --strict an error.
    """
    from builder.building.pipeline import BuildOptions
    from builder.cli.commands import build_command

    if not images and not all_images:
        raise click.UsageError("name the images to build, or pass --all")
    if junit and not push:
        message = "--junit goes with --push, which smoke-tests first (or use: builder smoke --junit)"
        raise click.UsageError(message)
    with _error_handler(ctx.debug):
        project = ctx.project()
        network = network or project.settings.docker_network
        plain = verbose or progress == "plain"
        options = BuildOptions(_platform(platform), jobs, push, no_cache, network, rebuild, plain)
        code = build_command(project, () if all_images else images, options, click.echo, junit, strict)
    sys.exit(code)


@_command(
    short_help="What a build would do now, and why; offline.",
    epilog="""\b
Examples:
  builder status                          images, tools and buildspecs/, as text
  builder status --format json            the same for scripts
  builder status --platform linux/arm64   the tags of another platform
\b
Per image: up to date (its tag is on the engine) or would rebuild, and why (a tool's lock entry,
a template or image file, its base), against what the last build here recorded. Per tool: the
locked version, its age and the newest release its constraint allows, from the answers cached by
`builder lock` (nothing is asked). Committed buildspecs/ that a fresh render would change, with
the file and line of the first difference.
""",
)
@click.option("--platform", type=_PLATFORM, help="Platform of the tags. Default: this machine's.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_pass_context
def status(ctx: Context, platform: str | None, fmt: str) -> None:
    """Report what `builder build` would do now, without doing it (no build, no network)."""
    from builder.cli.commands import status_command

    with _error_handler(ctx.debug):
        code = status_command(ctx.project(), _platform(platform), fmt == "json", click.echo)
    sys.exit(code)


@_command(
    short_help="Push one multi-platform tag per image.",
    epilog="""\b
Examples:
  builder manifest --all                      after builder build --push on every platform
  builder manifest container-scanners         <registry>/container-scanners:<digest> for all its platforms
""",
)
@click.argument("images", nargs=-1)
@click.option("--all", "all_images", is_flag=True, help="Every image.")
@_pass_context
def manifest(ctx: Context, images: tuple[str, ...], all_images: bool) -> None:
    """Push <registry>/<image>:<digest>, an index of the image's per-platform tags (which must be pushed)."""
    from builder.cli.commands import manifest_command

    if not images and not all_images:
        raise click.UsageError("name the images, or pass --all")
    with _error_handler(ctx.debug):
        code = manifest_command(ctx.project(), () if all_images else images, click.echo)
    sys.exit(code)


@_command(
    short_help="Make the local Debian base image from your apt mirror.",
    name="base-image",
    epilog="""\b
Examples:
  builder base-image                          make the base images builder.yaml names (no digest pin)
  builder base-image builder-debian:bookworm  make (or check) one by name
\b
An image that exists is reused and checked; remove it (docker image rm NAME) to make it anew.
Making one needs root, debootstrap (installed with apt-get when missing) and a Debian bookworm
source in /etc/apt: the packages come from the mirror your apt already uses.
""",
)
@click.argument("names", nargs=-1)
@_pass_context
def base_image(ctx: Context, names: tuple[str, ...]) -> None:
    """Make the local Debian base image from your apt mirror: no registry needed."""
    import os

    from builder.building.baseimage import local_base_images, make_base_image
    from builder.building.engine import find_client

    with _error_handler(ctx.debug):
        wanted = list(names) or local_base_images(ctx.project().settings)
        client = find_client(None if names else ctx.project().settings.docker_client, os.environ)
        for name in wanted:
            made = make_base_image(name, client, lambda line: click.echo(line, err=True))
            click.echo(f"{made.name}  ({made.outcome})")
    sys.exit(0)


@_command(
    short_help="Check every tool in an image reports its locked version.",
    epilog="""\b
Examples:
  builder smoke container-scanners        check the image `builder build` tagged
  builder smoke base --image my/base:1 --junit reports/smoke.xml
""",
)
@click.argument("images", nargs=-1)
@click.option("--image", "image_ref", help="Image reference to test (default: the tag builder build gives).")
@click.option("--platform", type=_PLATFORM, help="Platform of the tag to test. Default: this machine's.")
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report here."
)
@_pass_context
def smoke(
    ctx: Context, images: tuple[str, ...], image_ref: str | None, platform: str | None, junit: Path | None
) -> None:
    """Run each tool's version command in the image and compare with the lockfile, plus extra checks."""
    from builder.cli.commands import smoke_command

    with _error_handler(ctx.debug):
        code = smoke_command(ctx.project(), images, image_ref, _platform(platform), junit, click.echo)
    sys.exit(code)


_accept_option = click.option(
    "--accept-provenance-change",
    "accept",
    multiple=True,
    metavar="TOOL",
    help="Take TOOL's new version although its signer changed or vanished (refused otherwise); repeatable.",
)


@_command(
    short_help="Resolve, verify and pin tools into builder.lock.",
    epilog="""\b
Examples:
  builder lock                            lock what is missing or no longer fits tools.yaml
  builder lock --upgrade                  move every tool to its newest allowed release
  builder lock --upgrade trivy grype      only these
  builder lock --check                    exit 1 if builder.lock is stale (no network; for CI)
  builder lock --repin trivy              download trivy's locked version again and accept new
                                          bytes for it (the upstream re-published the release)
  builder lock --upgrade --accept-provenance-change trivy
                                          take trivy's new version although another identity
                                          (or no one) signed it
Set GITHUB_TOKEN for GitHub's higher rate limit.
""",
)
@click.argument("tools", nargs=-1)
@click.option("--upgrade", is_flag=True, help="Take the newest release each constraint allows.")
@click.option("--check", is_flag=True, help="Exit 1 when builder.lock does not fit tools.yaml; no network.")
@click.option("--partial", is_flag=True, help="Write what resolved even if some tools failed.")
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 32), default=8, show_default=True, help="Upstreams asked at once."
)
@click.option(
    "--repin",
    "repin",
    multiple=True,
    metavar="TOOL",
    help="Accept new bytes for TOOL's already-locked version (refused otherwise); repeatable.",
)
@_accept_option
@_pass_context
def lock(
    ctx: Context,
    tools: tuple[str, ...],
    upgrade: bool,
    check: bool,
    partial: bool,
    jobs: int,
    repin: tuple[str, ...],
    accept: tuple[str, ...],
) -> None:
    """Resolve each tool against its upstream, verify every checksum and signature, write builder.lock.

    The lockfile is replaced atomically, and only when every requested tool resolved (or --partial).
    """
    from builder.cli.commands import LockOptions, lock_command

    with _error_handler(ctx.debug):
        options = LockOptions(upgrade, check, partial, jobs, frozenset(repin), frozenset(accept))
        code = lock_command(ctx.project(), tools, options, click.echo)
    sys.exit(code)


@_command(
    short_help="lock --upgrade, mirror, and open one bump pull request.",
    epilog="""\b
Examples:
  builder update                          what would be bumped (the lockfile is not written)
  builder update --publish                and mirror the new artifacts into CodeArtifact
  builder update --publish --open-pr --repository acme/ci-images
                                          and open or refresh the one bump pull request
  builder update --open-pr --accept-provenance-change trivy
                                          propose trivy's bump although its signer changed
                                          (the pull request says so in bold)
The GitHub token comes from GITHUB_TOKEN. The Lambda runs exactly this (builder.updating.lambda_handler).
""",
)
@click.option("--publish", is_flag=True, help="Mirror new artifacts into the CodeArtifact store.")
@click.option("--open-pr", is_flag=True, help="Open (or update) one pull request with the bump.")
@click.option("--repository", envvar="BUILDER_GITHUB_REPOSITORY", help="owner/name for the pull request.")
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 32), default=8, show_default=True, help="Upstreams asked at once."
)
@_accept_option
@_pass_context
def update(
    ctx: Context, publish: bool, open_pr: bool, repository: str | None, jobs: int, accept: tuple[str, ...]
) -> None:
    """Find new upstream versions, verify and mirror them, and propose them as one pull request."""
    from builder.cli.commands import update_command

    if open_pr and not repository:
        raise click.UsageError("--open-pr needs --repository owner/name (or BUILDER_GITHUB_REPOSITORY)")
    with _error_handler(ctx.debug):
        target = repository if open_pr else None
        code = update_command(ctx.project(), publish, target, jobs, click.echo, frozenset(accept))
    sys.exit(code)


@_command(
    short_help="Build the updater Lambda's deployment zip.",
    name="package-lambda",
    epilog="Example:\n\n  builder package-lambda --out dist/updater-lambda.zip",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("dist/updater-lambda.zip"),
    show_default=True,
    help="Where to write the zip.",
)
@_pass_context
def package_lambda(ctx: Context, out: Path) -> None:
    """Build the updater Lambda's deployment zip (the package and its runtime dependencies)."""
    from builder.updating.package import build_zip

    with _error_handler(ctx.debug):
        path = build_zip(ctx.root(), out)
        click.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


@main.group(short_help="Seed, verify and prune the artifact store.", name="store")
def store_group() -> None:
    """The artifact store: seed CodeArtifact, prove it matches the lockfile, prune old versions."""


@store_group.command(
    short_help="Seed CodeArtifact from the lockfile; check pip/npm repos.",
    name="init",
    epilog="Example:\n\n  builder store init",
)
@_pass_context
def store_init(ctx: Context) -> None:
    """Check the generic, pip and npm repositories answer; publish every locked artifact missing."""
    from builder.cli.commands import store_init_command

    with _error_handler(ctx.debug):
        code = store_init_command(ctx.project(), click.echo)
    sys.exit(code)


@store_group.command(
    short_help="Prove every locked artifact is in the store.",
    name="verify",
    epilog="Example:\n\n  builder store verify",
)
@_pass_context
def store_verify(ctx: Context) -> None:
    """Exit 1 unless every locked artifact is in the store with the lockfile's sha256."""
    from builder.cli.commands import store_verify_command

    with _error_handler(ctx.debug):
        code = store_verify_command(ctx.project(), click.echo)
    sys.exit(code)


@store_group.command(
    short_help="Keep the newest N versions of each tool.",
    name="prune",
    epilog="Example:\n\n  builder store prune --keep 3",
)
@click.argument("tools", nargs=-1)
@click.option(
    "--keep", type=click.IntRange(1, 1000), default=3, show_default=True, help="Versions kept per tool."
)
@_pass_context
def store_prune(ctx: Context, tools: tuple[str, ...], keep: int) -> None:
    """Dispose of all but the newest N versions of each tool (never the locked one), for rollback."""
    from builder.cli.commands import store_prune_command

    with _error_handler(ctx.debug):
        code = store_prune_command(ctx.project(), keep, tools, click.echo)
    sys.exit(code)


@_command(
    short_help="Known vulnerabilities of every locked component (OSV).",
    epilog="""\b
Examples:
  builder audit --all                     every image's tools, as a table
  builder audit container-scanners --fail-on high
                                          exit 1 when a finding is high or critical (CI)
  builder audit --all --format sarif -o reports/audit.sarif
  builder audit --all --offline           from the archives `builder store osv` mirrored
  builder audit --all --offline --archives /mnt/osv
                                          from a folder `builder store osv --into` filled
  builder audit "$IMAGE_NAME" --security-hub
                                          and import the findings into AWS Security Hub
\b
Accepted findings go in audit.yaml (ignore: [{id, tool, reason, expires}]); an entry past its
date fails the run. The OSV API is builder.yaml's upstreams.osv.

--offline without --archives: with a CodeArtifact store, the newest version of each ecosystem's
package in namespace osv (sha256 checked against CodeArtifact's before it is read; the version
used is printed, a warning when it is over 7 days old); with a local store, its osv/ folder.
builder.yaml's `audit: {offline: true}` makes --offline the default, and the rendered
buildspecs audit with --offline (an air-gapped CodeBuild).
""",
)
@click.argument("images", nargs=-1)
@click.option("--all", "all_images", is_flag=True, help="Every image.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "sarif", "junit"]), default="table",
              show_default=True)  # fmt: skip
@click.option("--fail-on", type=click.Choice(["low", "medium", "high", "critical"]),
              help="Exit 1 when a finding is at this severity or above.")  # fmt: skip
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here."
)
@click.option("--offline/--online", default=None,
              help="OSV's archives (`builder store osv`), or the API (default: audit.offline).")  # fmt: skip
@click.option("--archives", type=click.Path(file_okay=False, path_type=Path), help="Where the archives are.")
@click.option("--security-hub", is_flag=True, help="Import the findings into Security Hub (ASFF).")
@_pass_context
def audit(
    ctx: Context,
    images: tuple[str, ...],
    all_images: bool,
    fmt: str,
    fail_on: str | None,
    output: Path | None,
    offline: bool | None,
    archives: Path | None,
    security_hub: bool,
) -> None:
    """Known vulnerabilities of each locked package and audited binary, from builder.lock alone."""
    from builder.cli.audit import AuditOptions, audit_command

    if not images and not all_images:
        raise click.UsageError("name the images to audit, or pass --all")
    with _error_handler(ctx.debug):
        code = audit_command(
            ctx.project(),
            () if all_images else images,
            AuditOptions(fmt, fail_on, output, offline, archives, security_hub),
            click.echo,
        )
    sys.exit(code)


@_command(
    short_help="Write an image's CycloneDX 1.6 SBOM from builder.lock.",
    epilog="""\b
Examples:
  builder sbom container-scanners                     print it (offline: from builder.lock alone)
  builder sbom container-scanners --out sbom.cdx.json --platform linux/amd64
  builder sbom base --image builder/base:0123abcd4567-amd64 --out base.cdx.json
                                                      also the Debian packages of that built image

This is the full document: each component also carries its verification
evidence (builder:evidence properties) and download URLs. The SBOM baked into
an image (/usr/share/builder/sbom.cdx.json) leaves those out, so it depends only on what the
image's tag depends on (plus the base image's Debian packages).
""",
)
@click.argument("image")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write it here (default: stdout)."
)
@click.option("--platform", "platforms", type=_PLATFORM, multiple=True,
              help="Only this platform's files (repeatable). Default: the image's platforms.")  # fmt: skip
@click.option("--image", "image_ref", help="A built image to read the Debian packages (dpkg status) from.")
@_pass_context
def sbom(
    ctx: Context, image: str, out: Path | None, platforms: tuple[str, ...], image_ref: str | None
) -> None:
    """Write IMAGE's SBOM: every locked binary, Python and npm package with purl, hashes and evidence."""
    from builder.cli.sbom import sbom_command

    with _error_handler(ctx.debug):
        chosen = tuple(Platform.parse(p) for p in platforms)
        code = sbom_command(
            ctx.project(), image, chosen, image_ref, out, lambda line: click.echo(line, err=True)
        )
    sys.exit(code)


@store_group.command(
    short_help="Mirror OSV's vulnerability archives for offline audits.",
    name="osv",
    epilog="""\b
Examples:
  builder store osv                   into the configured store (see below)
  builder store osv --into /mnt/osv   into a folder an air-gapped audit reads (--archives)

With a CodeArtifact store each ecosystem's all.zip becomes a generic package in namespace osv
(PyPI -> eco--py-p-i: a capital is '-' and its small letter, ':' is '_'; an ecosystem that
spelling cannot hold is refused), version = the mirror time in UTC (2026.12.03-081500), sent with
its sha256. It runs with your own AWS credentials: they need codeartifact:PublishPackageVersion on
the osv packages; the CodeBuild role only reads them. With a local store: its osv/ folder.
""",
)
@click.option("--into", type=click.Path(file_okay=False, path_type=Path), help="A folder, not the store.")
@_pass_context
def store_osv(ctx: Context, into: Path | None) -> None:
    """Download OSV's all.zip of each ecosystem the locked tools use (upstreams.osv_archive)."""
    from builder.cli.audit import store_osv_command

    with _error_handler(ctx.debug):
        code = store_osv_command(ctx.project(), into, click.echo)
    sys.exit(code)


@_command(
    short_help="Sign a built image's SLSA provenance with the KMS key.",
    epilog="""\b
Examples:
  builder provenance container-scanners --platform linux/amd64
                               sign the provenance of the image `builder build` tagged, with
                               builder.yaml's provenance.kms_key; write provenance-<image>-<arch>.dsse.json
  builder provenance base --key alias/builder-provenance --out base.dsse.json --push
                               also push it beside the image, tagged <tag>.provenance
""",
)
@click.argument("image")
@click.option("--platform", type=_PLATFORM, help="Platform of the built tag. Default: this machine's.")
@click.option("--key", help="KMS key (alias/..., id or ARN). Default: builder.yaml's provenance.kms_key.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the DSSE envelope here.")
@click.option("--push", "to_registry", is_flag=True, help="Push it beside the image as <tag>.provenance.")
@click.option(
    "--if-built", is_flag=True, help="Do nothing when the tag is not on this engine (not built here)."
)
@_pass_context
def provenance(
    ctx: Context, image: str, platform: str | None, key: str | None, out: Path | None, to_registry: bool,
    if_built: bool,
) -> None:  # fmt: skip
    """Write IMAGE's in-toto SLSA v1 provenance, signed with AWS KMS in a DSSE envelope."""
    from builder.cli.provenance import ProvenanceOptions, provenance_command

    with _error_handler(ctx.debug):
        options = ProvenanceOptions(_platform(platform), key, out, to_registry, if_built)
        code = provenance_command(ctx.project(), image, options, click.echo)
    sys.exit(code)


@_command(
    name="verify-image",
    short_help="Check an image's signed provenance, SBOM label and lock digest.",
    epilog="""\b
Examples:
  builder verify-image builder/base:0123abcd4567-amd64
                               the provenance pushed beside it (<tag>.provenance), checked with
                               the public half of builder.yaml's provenance.kms_key (KMS GetPublicKey)
  builder verify-image my/base:0123abcd4567-amd64 --provenance base.dsse.json --public-key key.pem
                               offline: a provenance file and the key's PEM
""",
)
@click.argument("ref")
@click.option("--provenance", "provenance_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The DSSE envelope (default: the image <REF>.provenance).")  # fmt: skip
@click.option("--public-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The signing key's public half (PEM); default: asked of KMS.")  # fmt: skip
@click.option("--key", help="KMS key to ask for the public half. Default: builder.yaml's provenance.kms_key.")
@_pass_context
def verify_image(
    ctx: Context, ref: str, provenance_file: Path | None, public_key: Path | None, key: str | None
) -> None:
    """Check REF's provenance signature, and that the image, its SBOM label and its lock digest agree."""
    from builder.cli.provenance import verify_image_command

    with _error_handler(ctx.debug):
        code = verify_image_command(ctx.project(), ref, provenance_file, public_key, key, click.echo)
    sys.exit(code)


@_command(
    short_help="Check Docker, AWS, CodeArtifact, upstreams and token.", epilog="Example:\n\n  builder doctor"
)
@_pass_context
def doctor(ctx: Context) -> None:
    """Check Docker/BuildKit, AWS credentials, CodeArtifact, the upstreams and the GitHub token."""
    import os

    from builder.cli.doctor import diagnose
    from builder.plumbing.http import make_session

    with _error_handler(ctx.debug):
        findings = list(diagnose(ctx.project(), dict(os.environ), make_session(retries=1)))
        for finding in findings:
            click.echo(finding.line())
        failed = sum(not f.ok for f in findings)
        click.echo(f"doctor: {len(findings) - failed} ok, {failed} to fix", err=True)
    sys.exit(1 if failed else 0)


def _register_verify_artifact() -> None:
    from builder.cli.verify_artifact import refresh_trusted_root, verify_artifact

    main.add_command(verify_artifact)
    main.add_command(refresh_trusted_root)


_register_verify_artifact()
