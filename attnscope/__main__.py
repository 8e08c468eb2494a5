"""`python -m attnscope` runs the command-line entry point."""

from attnscope.engine.cli import main

raise SystemExit(main())
