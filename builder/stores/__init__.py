"""Artifact stores, registered in one dict: the local cache (default) and, later, CodeArtifact."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from builder.config.settings import Settings
from builder.errors import ConfigError
from builder.stores.base import ArtifactStore
from builder.stores.local import LocalStore


def _local(settings: Settings, env: Mapping[str, str]) -> ArtifactStore:
    return LocalStore(local_root(settings, env))


def local_root(settings: Settings, env: Mapping[str, str]) -> Path:
    if settings.store.path:
        return Path(settings.store.path).expanduser()
    cache = (
        Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path(env.get("HOME", "~")) / ".cache"
    )
    return (cache / "builder" / "artifacts").expanduser()


def _codeartifact(settings: Settings, env: Mapping[str, str]) -> ArtifactStore:
    ca = settings.store.codeartifact
    if ca is None:
        raise ConfigError("builder.yaml", "store kind 'codeartifact' needs a 'codeartifact' section")
    from builder.plumbing.aws import client
    from builder.stores.codeartifact import CodeArtifactStore

    return CodeArtifactStore(client("codeartifact", env, ca.region), ca)


STORES: dict[str, Callable[[Settings, Mapping[str, str]], ArtifactStore]] = {
    "codeartifact": _codeartifact,
    "local": _local,
}


def cache_root(env: Mapping[str, str]) -> Path:
    """The user's cache folder for builder (artifacts, HTTP revalidation data)."""
    cache = (
        Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path(env.get("HOME", "~")) / ".cache"
    )
    return (cache / "builder").expanduser()
