"""``python -m thematic``: see :mod:`thematic.cli`."""

from .cli import main

raise SystemExit(main())
