"""builder: pinned, verified, rebuilt and updated container images for CI scanners."""

__version__ = "0.1.0"
