"""Images: rendering, build contexts, the Docker engine and BuildKit, smoke tests, manifests."""
