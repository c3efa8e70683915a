"""Build secrets: the pip index URL and npm configuration, written to private files for BuildKit.

With the CodeArtifact store the token comes from ``get_authorization_token`` and is placed in
the index URL here, in a 0600 file that lives only for the build; otherwise the user's own pip
and npm configuration is passed through unchanged. No secret is ever put in an argument list,
an environment variable of the build, or a rendered file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from builder.config.graph import ancestors
from builder.config.project import Project
from builder.config.settings import Settings
from builder.errors import UserError
from builder.kinds import KINDS
from builder.plumbing.npmrc import build_npmrc, check_references, npmrc_path
from builder.plumbing.pipconf import pip_cert, pip_index_url
from builder.plumbing.workdir import scratch
from builder.stores.base import RepositoryStore


@dataclass(frozen=True)
class BuildSecrets:
    files: dict[str, Path] = field(default_factory=dict)
    values: tuple[str, ...] = ()  # what to redact from build output


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def codeartifact_secrets(store: RepositoryStore, folder: Path) -> BuildSecrets:
    """Token and endpoints from the store: its errors carry its advice (refresh expired credentials, ...)."""
    token = store.authorization_token()
    pip_url, npm_url = store.endpoint("pypi"), store.endpoint("npm")
    pip_parts, npm_parts = urlsplit(pip_url), urlsplit(npm_url)
    index = f"{pip_parts.scheme}://aws:{token}@{pip_parts.netloc}{pip_parts.path.rstrip('/')}/simple/"
    npmrc = f"registry={npm_url}\n//{npm_parts.netloc}{npm_parts.path}:_authToken={token}\n"
    files = {"pip-index-url": _write(folder, "pip-index-url", index), "npmrc": _write(folder, "npmrc", npmrc)}
    return BuildSecrets(files, (token,))


def user_secrets(settings: Settings, env: Mapping[str, str], folder: Path) -> BuildSecrets:
    """The user's own pip index and npm configuration (which may carry their credentials)."""
    files: dict[str, Path] = {}
    values: list[str] = []
    index = pip_index_url(settings.pip_index, env)
    if index:
        files["pip-index-url"] = _write(folder, "pip-index-url", index)
        values += [p for p in (urlsplit(index).password,) if p]
    npmrc, tokens = build_npmrc(npmrc_path(env), env, settings.npm_registry)
    if npmrc:
        files["npmrc"] = _write(folder, "npmrc", npmrc)
        values += tokens
    cert = _user_pip_cert(env)
    if cert:  # copied: like every secret file, 0600 in the run's private folder
        files["pip-cert"] = _write(folder, "pip-cert", cert.read_text())
    return BuildSecrets(files, tuple(values))


def _user_pip_cert(env: Mapping[str, str]) -> Path | None:
    """The CA bundle of the user's pip configuration, for the in-build pip to trust the same index."""
    named = pip_cert(env)
    if not named:
        return None
    path = Path(named).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"pip's cert setting (PIP_CERT or pip config global.cert) names {named}: not a file")
    return path


def check_user_secrets(project: Project, names: list[str], env: Mapping[str, str]) -> None:
    """What user_secrets will read, checked before a build starts: its npmrc names no unset variable.

    Only when the user's own configuration is what builds get (not CodeArtifact's) and an image
    of the build (or a parent it may build) installs an npm package.
    """
    store = project.settings.store
    if store.kind == "codeartifact" and store.codeartifact is not None:
        return
    family = set(names).union(*(ancestors(name, project.images) for name in names))
    if any(
        "npmrc" in KINDS[tool.install.kind].secrets for name in family for tool in project.image_tools(name)
    ):
        check_references(npmrc_path(env), env)


class Once:
    """Makes the secrets the first time a build needs them (never, when every image is up to date)."""

    def __init__(self, make: Callable[[], BuildSecrets]) -> None:
        self._make, self._lock = make, threading.Lock()
        self._value: BuildSecrets | None = None

    def __call__(self) -> BuildSecrets:
        with self._lock:
            if self._value is None:
                self._value = self._make()
            return self._value


@contextlib.contextmanager
def private_folder() -> Iterator[Path]:
    """0700, removed when the block ends, or by the next run's sweep if this one is killed."""
    with scratch("secrets") as folder:
        yield folder
