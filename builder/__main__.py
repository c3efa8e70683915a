"""`python -m builder` runs the CLI."""

from builder.cli import main

if __name__ == "__main__":
    main()
