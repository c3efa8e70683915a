"""Pinning: the lockfile, choosing releases and locking them, and checking what upstreams sign."""
