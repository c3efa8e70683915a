"""What every part uses: HTTP with scoped credentials, files, redaction, progress, AWS clients."""
