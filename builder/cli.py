"""The command line: each command parses its flags, calls one library function and prints."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from builder import __version__
from builder.errors import BuilderError
from builder.project import Project, find_root, load_project
from builder.redact import redact

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def error_handler(debug: bool) -> Iterator[None]:
    """Map every failure to one line and an exit status: 1 failed, 2 bad config, 130 Ctrl-C, 3 bug."""
    try:
        yield
    except BuilderError as e:
        click.echo(f"error: {redact(str(e))}", err=True)
        if debug:
            traceback.print_exc()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:
        click.echo(
            f"internal error: {redact(f'{type(e).__name__}: {e}')} (rerun with --debug for the traceback)",
            err=True,
        )
        if debug:
            traceback.print_exc()
        sys.exit(3)


class Context:
    def __init__(self, project_dir: Path | None, debug: bool) -> None:
        self.project_dir = project_dir
        self.debug = debug

    def root(self) -> Path:
        return self.project_dir.resolve() if self.project_dir else find_root(Path.cwd())

    def project(self) -> Project:
        return load_project(self.root())


pass_context = click.make_pass_decorator(Context)


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


def command(**kwargs: Any) -> Callable[[F], F]:
    return main.command(**kwargs)  # type: ignore[return-value]


@command(
    epilog="""\b
Examples:
  builder render                        render every image and the batch buildspec
  builder render container-scanners     render one image
  builder render --check                exit 1 with a diff if committed output is stale (CI)
""",
)
@click.argument("images", nargs=-1)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and show a diff when output is stale.")
@pass_context
def render(ctx: Context, images: tuple[str, ...], check: bool) -> None:
    """Render Dockerfiles and CodeBuild buildspecs into buildspecs/."""
    from builder.commands import render_command

    with error_handler(ctx.debug):
        code = render_command(ctx.project(), images, check, click.echo)
    sys.exit(code)
