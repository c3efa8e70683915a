"""`python -m builder` runs the CLI."""

from builder.cli.main import main

if __name__ == "__main__":
    main()
