"""`python -m habitus.cli` runs the `habitus` command."""

from . import main

main()
