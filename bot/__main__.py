"""`python -m bot` is the `residentbot` command."""

from bot.cli import main

main()
