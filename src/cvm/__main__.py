"""`python -m cvm` runs the same CLI as the `cvm` console script."""

from cvm.cli.app import main

main()
