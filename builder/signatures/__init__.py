"""Signatures and provenance, checked at lock time: one module per kind of evidence.

Every verifier takes a :class:`~builder.signatures.base.Subject` (a file's name and sha256, its
bytes when at hand), the material its upstream publishes and the catalogue's
:class:`~builder.config.provenance.Requirement`, and returns the typed evidence record the lock
keeps, or raises :class:`~builder.errors.SignatureError` with one line saying why not. All of
them verify offline against a trusted root given as a file (``trust.py``); none fetches one.
"""
