"""The command-line front: click commands that print; the work is in the library."""
