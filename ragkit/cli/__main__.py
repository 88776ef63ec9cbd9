"""`python -m ragkit.cli`: the same as the `ragkit` command."""

from ragkit.cli.app import main

main()
