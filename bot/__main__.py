"""`python -m bot` is the same as the `helpbot` command."""

from bot.cli import main

raise SystemExit(main())
