"""Real, installable wheels made on the fly (no network): a package with a console script."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(
    name: str, version: str, requires: tuple[str, ...] = (), tag: str = "py3-none-any"
) -> tuple[str, bytes]:
    """A wheel whose `<name>` command prints '<name> <version>'."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    files = {
        f"{module}/__init__.py": f"def main():\n    print('{name} {version}')\n".encode(),
        f"{dist}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist}/WHEEL": f"Wheel-Version: 1.0\nGenerator: builder-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
        f"{dist}/entry_points.txt": f"[console_scripts]\n{name} = {module}:main\n".encode(),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return f"{module}-{version}-{tag}.whl", buffer.getvalue()
