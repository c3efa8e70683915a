"""Artifact stores, one module per backend behind the protocols of ``base``.

``local`` keeps verified downloads in a folder (the default); ``codeartifact`` is AWS CodeArtifact's
generic, pip and npm repositories; ``sync`` keeps a store in step with the lockfile. builder.yaml's
``store.kind`` names one (builder.config.settings checks it); ``builder.runtime.Runtime.store``
makes it, the one place a kind becomes a store.
"""
