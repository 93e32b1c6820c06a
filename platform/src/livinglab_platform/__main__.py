"""`python -m livinglab_platform` is the `livinglab` command."""

from livinglab_platform.cli import main

main()
