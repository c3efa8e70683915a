"""The daily update: lockfile-bump pull requests, from the CLI or the Lambda."""
