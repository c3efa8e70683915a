"""Install kinds: how a tool's locked files become a command in an image, one module each.

KINDS is the registry: the catalogue's ``install:`` names one of its keys. Adding a kind is its
module, its partial (templates/partials/<name>.j2) and one line here.
"""

from __future__ import annotations

from builder.kinds.archive import Archive
from builder.kinds.base import InstallKind
from builder.kinds.binary import Binary
from builder.kinds.npm_package import NpmPackageKind
from builder.kinds.python_app import PythonApp

KINDS: dict[str, InstallKind] = {
    "archive": Archive(),
    "binary": Binary(),
    "npm-package": NpmPackageKind(),
    "python-app": PythonApp(),
}
