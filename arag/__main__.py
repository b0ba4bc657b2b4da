"""``python -m arag`` runs the command line."""

from arag.cli import main

main()
