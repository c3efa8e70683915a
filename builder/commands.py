"""What each CLI command does, as library calls that print through a given function.

The CLI and the Lambda handler are thin: they build arguments and call these.
"""

from __future__ import annotations

from collections.abc import Callable

from builder.fsutil import write_all
from builder.lockfile import load_lockfile
from builder.project import Project
from builder.render import drift, render_project, stale_files

Echo = Callable[..., None]


def render_command(project: Project, images: tuple[str, ...], check: bool, echo: Echo) -> int:
    names = tuple(project.select(images)) if images else ()
    files = render_project(project, load_lockfile(project.root), names)
    if check:
        return _report_drift(project, files, names, echo)
    changed = write_all({project.root / p: data for p, data in files.items()})
    for stale in stale_files(project.root, files, names):
        (project.root / stale).unlink()
        echo(f"removed {stale}")
    for written in changed:
        echo(f"wrote {written.relative_to(project.root)}")
    echo(f"rendered {len(files)} files ({len(changed)} changed)", err=True)
    return 0


def _report_drift(project: Project, files: dict[str, bytes], names: tuple[str, ...], echo: Echo) -> int:
    drifted = drift(project.root, files, names)
    for item in drifted:
        echo(item.diff, nl=False)
    if drifted:
        echo(
            f"{len(drifted)} rendered file(s) are stale: run `builder render` and commit the result",
            err=True,
        )
        return 1
    echo(f"{len(files)} rendered files are up to date", err=True)
    return 0
