"""The command line: ``python -m thematic COMMAND ...``.

A thin layer over the library. Each module in :mod:`thematic.commands` adds its subcommands with
``register(subparsers)``; a subcommand's handler takes the parsed arguments and returns an exit status.
A :class:`~thematic.errors.ThematicError` becomes one line on stderr and exit status 2, never a traceback, and so
do SQLite's own failures caused by the file or another process (damaged file, write lock held too long) and
files that cannot be read;
the library guarantees that a failed command left the project as it was.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sqlite3
import sys
from collections.abc import Sequence

from . import __version__, commands
from .errors import ThematicError, from_sqlite


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m thematic",
        description="thematic: thematic analysis of feedback forms (Braun & Clarke's six phases).",
    )
    parser.add_argument("--version", action="version", version=f"thematic {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ThematicError as exc:
        return _fail(exc)
    except sqlite3.Error as exc:
        # a damaged project file, or another process holding the write lock: one line, not a traceback
        mapped = from_sqlite(exc, getattr(args, "project", None))
        if mapped is None:
            raise
        return _fail(mapped)
    except KeyboardInterrupt:
        print("error: interrupted; the last completed step is saved", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``... | head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file that cannot be read or written (permissions, disk full ...)
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(ThematicError(f"{exc.strerror or exc}{where}"))


def _fail(exc: ThematicError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2
