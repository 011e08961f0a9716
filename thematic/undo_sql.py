"""Running the inverse statements the undo triggers log (:mod:`thematic.schema`), fast for large changes."""

from __future__ import annotations

import sqlite3


def run_undo_stmt(conn: sqlite3.Connection, item: sqlite3.Row, leaves: frozenset[str] = frozenset()) -> None:
    """Run one logged inverse statement. A one-row delete runs as a prepared ``DELETE ... WHERE rowid = ?`` (the
    same text for every row of a table): compiling a delete with its cascades and triggers costs far more than
    running it, so thousands of distinct statement texts would spend their time in the compiler."""
    stmt = str(item["stmt"])
    if item["tbl"] is not None and item["lo"] == item["hi"] and stmt.startswith("DELETE FROM") and " BETWEEN " not in stmt:
        table = str(item["tbl"]).replace('"', '""')
        conn.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (item["lo"],))
    elif item["tbl"] is not None and stmt.startswith("INSERT INTO") and stmt.endswith(")") and _VALUES in stmt:
        # likewise a re-insert: its literal values are read by a trigger-free SELECT, then bound to one prepared
        # INSERT per table
        head, _, values = stmt.partition(_VALUES)
        row = list(conn.execute("SELECT " + values[:-1]).fetchone())
        table = str(item["tbl"])
        q = table.replace('"', '""')
        if table in leaves and conn.execute(f'SELECT 1 FROM "{q}" WHERE rowid = ?', (row[0],)).fetchone():
            # its id was taken by another row since: a new id (nothing refers to a leaf table's ids)
            names = [c.strip().strip('"') for c in head.partition("(")[2].split(",")]
            pk = [r[1] for r in conn.execute(f'PRAGMA table_info("{q}")') if r[5] == 1 and r[2].upper() == "INTEGER"]
            for i, name in enumerate(names):
                if i == 0 or name in pk:
                    row[i] = None
        conn.execute(head + _VALUES + ", ".join("?" * len(row)) + ")", tuple(row))
    else:
        conn.execute(stmt)


_VALUES = ") VALUES ("
