"""``python -m attnscope.engine.shapes``: see ``cli.py``."""

from attnscope.engine.shapes.cli import main

raise SystemExit(main())
