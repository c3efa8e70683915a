"""What an image holds and how it was made: its SBOM (CycloneDX), its signed provenance (SLSA in DSSE).

The names every stage shares live here, light to import (rendering must not load the SBOM library).
"""

SBOM_PATH = "/usr/share/builder/sbom.cdx.json"  # where the build bakes the SBOM into the image
SBOM_LABEL = "org.builder.sbom.sha256"  # the image label holding the baked SBOM's sha256
LOCK_LABEL = "builder.lock-digest"  # the image label naming its lock digest ("sha256:...")
