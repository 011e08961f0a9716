"""The project schema as a list of recorded migrations, and the undo triggers.

Each migration is a function registered with :func:`migration` under a version number. ``Store`` applies the
ones a file lacks, in order, each in its own transaction, after taking a backup copy of an existing file, and
records them in the ``migrations`` table and in ``PRAGMA user_version``.

Undo follows SQLite's "automatic undo/redo" recipe: for every tracked table, triggers write the SQL that reverses
each insert, update and delete into ``undo_log``, tagged with the audit event that is open (``undo_state``).
Undoing an event runs its statements in reverse order. Tables that hold caches (embeddings) are not tracked.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

MigrationFn = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    fn: MigrationFn


MIGRATIONS: list[Migration] = []

# Tables whose changes are not undoable: the log itself and caches that can be rebuilt.
UNTRACKED_TABLES = frozenset(
    {"migrations", "audit", "undo_log", "undo_state", "embeddings", "sqlite_sequence", "sqlite_stat1"}
)


def migration(version: int) -> Callable[[MigrationFn], MigrationFn]:
    """Record ``fn`` as the migration to schema ``version`` (versions must be unique and increasing)."""

    def register(fn: MigrationFn) -> MigrationFn:
        if any(m.version == version for m in MIGRATIONS):
            raise RuntimeError(f"migration {version} registered twice")
        MIGRATIONS.append(Migration(version, fn.__name__, fn))
        MIGRATIONS.sort(key=lambda m: m.version)
        return fn

    return register


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run several statements inside the caller's transaction (``executescript`` would commit it)."""
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                conn.execute(buf)
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buf.strip()[:60]}")


def latest_version() -> int:
    return MIGRATIONS[-1].version if MIGRATIONS else 0


@migration(1)
def core_tables(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE project (
            key   TEXT PRIMARY KEY,
            value TEXT
        );
        CREATE TABLE coders (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE sources (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL,
            sha256      TEXT NOT NULL UNIQUE,
            imported_at TEXT NOT NULL,
            options     TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE questions (
            id       INTEGER PRIMARY KEY,
            key      TEXT NOT NULL UNIQUE,
            label    TEXT NOT NULL,
            position INTEGER NOT NULL
        );
        CREATE TABLE forms (
            id          INTEGER PRIMARY KEY,
            external_id TEXT NOT NULL UNIQUE,
            source_id   INTEGER REFERENCES sources(id) ON DELETE SET NULL,
            source_row  INTEGER
        );
        CREATE TABLE form_meta (
            form_id INTEGER NOT NULL REFERENCES forms(id) ON DELETE CASCADE,
            field   TEXT NOT NULL,
            value   TEXT NOT NULL,
            PRIMARY KEY (form_id, field)
        );
        CREATE INDEX form_meta_field ON form_meta(field, value);
        CREATE TABLE answers (
            id          INTEGER PRIMARY KEY,
            form_id     INTEGER NOT NULL REFERENCES forms(id) ON DELETE CASCADE,
            question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
            text        TEXT NOT NULL,
            source_row  INTEGER,
            UNIQUE (form_id, question_id)
        );
        CREATE INDEX answers_question ON answers(question_id);
        CREATE TABLE segments (
            id        INTEGER PRIMARY KEY,
            answer_id INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
            position  INTEGER NOT NULL,
            start     INTEGER NOT NULL,
            "end"     INTEGER NOT NULL,
            text      TEXT NOT NULL,
            UNIQUE (answer_id, position)
        );
        CREATE TABLE codes (
            id         INTEGER PRIMARY KEY,
            parent_id  INTEGER REFERENCES codes(id) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            definition TEXT NOT NULL DEFAULT '',
            includes   TEXT NOT NULL DEFAULT '',
            excludes   TEXT NOT NULL DEFAULT '',
            colour     TEXT NOT NULL DEFAULT '',
            position   INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX codes_parent ON codes(parent_id);
        CREATE TABLE code_examples (
            id      INTEGER PRIMARY KEY,
            code_id INTEGER NOT NULL REFERENCES codes(id) ON DELETE CASCADE,
            text    TEXT NOT NULL
        );
        CREATE TABLE codings (
            id         INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            code_id    INTEGER NOT NULL REFERENCES codes(id) ON DELETE CASCADE,
            coder_id   INTEGER NOT NULL REFERENCES coders(id),
            origin     TEXT NOT NULL DEFAULT 'human'
                       CHECK (origin IN ('human', 'suggestion', 'cluster', 'import', 'adjudication', 'merge')),
            created_at TEXT NOT NULL,
            UNIQUE (segment_id, code_id, coder_id)
        );
        CREATE INDEX codings_code ON codings(code_id);
        CREATE INDEX codings_coder ON codings(coder_id);
        CREATE TABLE quotes (
            id         INTEGER PRIMARY KEY,
            code_id    INTEGER NOT NULL REFERENCES codes(id) ON DELETE CASCADE,
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            position   INTEGER NOT NULL DEFAULT 0,
            UNIQUE (code_id, segment_id)
        );
        CREATE TABLE memos (
            id         INTEGER PRIMARY KEY,
            phase      INTEGER CHECK (phase IS NULL OR phase BETWEEN 1 AND 6),
            code_id    INTEGER REFERENCES codes(id) ON DELETE CASCADE,
            segment_id INTEGER REFERENCES segments(id) ON DELETE CASCADE,
            answer_id  INTEGER REFERENCES answers(id) ON DELETE CASCADE,
            coder_id   INTEGER REFERENCES coders(id),
            title      TEXT NOT NULL DEFAULT '',
            body       TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE audit (
            id        INTEGER PRIMARY KEY,
            ts        TEXT NOT NULL,
            actor     TEXT NOT NULL,
            action    TEXT NOT NULL,
            summary   TEXT NOT NULL,
            details   TEXT NOT NULL DEFAULT '{}',
            undo_of   INTEGER REFERENCES audit(id),
            undone_by INTEGER REFERENCES audit(id)
        );
        CREATE TABLE undo_log (
            id       INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL,
            stmt     TEXT NOT NULL
        );
        CREATE INDEX undo_log_event ON undo_log(event_id, id);
        CREATE TABLE undo_state (
            id       INTEGER PRIMARY KEY CHECK (id = 1),
            event_id INTEGER
        );
        INSERT INTO undo_state (id, event_id) VALUES (1, NULL);
        CREATE TABLE embeddings (
            model_id  TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            dim       INTEGER NOT NULL,
            vector    BLOB NOT NULL,
            PRIMARY KEY (model_id, text_hash)
        );
        """
    )


def tracked_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    return [r[0] for r in rows if r[0] not in UNTRACKED_TABLES and not r[0].startswith("sqlite_")]


def install_undo_triggers(conn: sqlite3.Connection) -> None:
    """(Re)create the undo triggers for every tracked table; called after each migration."""
    existing = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'undo\\_%' ESCAPE '\\'"
    ).fetchall()
    for (name,) in existing:
        conn.execute(f'DROP TRIGGER "{name}"')
    log_cols = {r[1] for r in conn.execute("PRAGMA table_info(undo_log)")}
    state_cols = {r[1] for r in conn.execute("PRAGMA table_info(undo_state)")}
    rows = "tbl" in log_cols  # migration 15: each entry names its table and rowid (range), for conflict checks
    for table in tracked_tables(conn):
        cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        qcols = ", ".join(f'"{c}"' for c in cols)
        event = "(SELECT event_id FROM undo_state WHERE id = 1)"
        guard = "WHEN (SELECT event_id FROM undo_state WHERE id = 1) IS NOT NULL"
        # Bulk inserts (Action.bulk_insert) log one rowid range for the whole statement instead of a row each.
        ins_guard = guard + (" AND (SELECT bulk FROM undo_state WHERE id = 1) = 0" if "bulk" in state_cols else "")

        def log(stmt_sql: str, rowid: str, table: str = table, event: str = event) -> str:
            if rows:
                return (f"INSERT INTO undo_log (event_id, stmt, tbl, lo, hi) VALUES ({event}, {stmt_sql}, "
                        f"'{table.replace(chr(39), chr(39) * 2)}', {rowid}, {rowid});")
            return f"INSERT INTO undo_log (event_id, stmt) VALUES ({event}, {stmt_sql});"

        # After an insert, the inverse is a delete of that row.
        conn.execute(
            f'CREATE TRIGGER "undo_{table}_ins" AFTER INSERT ON "{table}" {ins_guard} BEGIN '
            + log(f"'DELETE FROM \"{table}\" WHERE rowid = ' || new.rowid", "new.rowid") + " END"
        )
        # After a delete, the inverse re-inserts every column (rowid included).
        values = " || ', ' || ".join(f'quote(old."{c}")' for c in cols)
        conn.execute(
            f'CREATE TRIGGER "undo_{table}_del" BEFORE DELETE ON "{table}" {guard} BEGIN '
            + log(f"'INSERT INTO \"{table}\" (rowid, {qcols.replace(chr(39), chr(39) * 2)}) VALUES (' || old.rowid "
                  f"|| ', ' || {values} || ')'", "old.rowid") + " END"
        )
        # After an update, the inverse sets every column back.
        sets = " || ', ' || ".join(f"'\"{c}\" = ' || quote(old.\"{c}\")" for c in cols)
        conn.execute(
            f'CREATE TRIGGER "undo_{table}_upd" BEFORE UPDATE ON "{table}" {guard} BEGIN '
            + log(f"'UPDATE \"{table}\" SET ' || {sets} || ' WHERE rowid = ' || old.rowid", "old.rowid") + " END"
        )


@migration(3)
def adjudication_tables(conn: sqlite3.Connection) -> None:
    """Adjudication decisions on coder disagreements, and agreement recorded per round."""
    run_script(
        conn,
        """
        CREATE TABLE adjudications (
            id             INTEGER PRIMARY KEY,
            segment_id     INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            code_id        INTEGER NOT NULL REFERENCES codes(id) ON DELETE CASCADE,
            decision       TEXT NOT NULL
                           CHECK (decision IN ('keep_a', 'keep_b', 'both', 'neither', 'new_code')),
            rationale      TEXT NOT NULL,
            coder_id       INTEGER REFERENCES coders(id),
            round          INTEGER NOT NULL DEFAULT 1,
            created_at     TEXT NOT NULL,
            coders         TEXT NOT NULL DEFAULT '',
            new_code_id    INTEGER REFERENCES codes(id) ON DELETE SET NULL,
            consensus      TEXT NOT NULL DEFAULT 'consensus',
            UNIQUE (segment_id, code_id, round)
        );
        CREATE INDEX adjudications_round ON adjudications(round);
        CREATE TABLE agreement_rounds (
            id          INTEGER PRIMARY KEY,
            round       INTEGER NOT NULL,
            coders      TEXT NOT NULL,
            level       TEXT NOT NULL CHECK (level IN ('segment', 'form')),
            report_json TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            stage       TEXT NOT NULL DEFAULT 'before' CHECK (stage IN ('before', 'after')),
            note        TEXT NOT NULL DEFAULT ''
        );
        """
    )


@migration(5)
def suggestion_rejections(conn: sqlite3.Connection) -> None:
    """Code suggestions a coder rejected, so that they are not proposed to that coder again (undoable)."""
    run_script(
        conn,
        """
        CREATE TABLE suggestion_rejections (
            id         INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            code_id    INTEGER NOT NULL REFERENCES codes(id) ON DELETE CASCADE,
            coder_id   INTEGER NOT NULL REFERENCES coders(id),
            created_at TEXT NOT NULL,
            UNIQUE (segment_id, code_id, coder_id)
        );
        CREATE INDEX suggestion_rejections_coder ON suggestion_rejections(coder_id);
        """
    )


@migration(2)
def cluster_candidates(conn: sqlite3.Connection) -> None:
    """Auto-clustering runs, their candidate themes (two levels: groups over candidates) and memberships."""
    run_script(
        conn,
        """
        CREATE TABLE cluster_runs (
            id          INTEGER PRIMARY KEY,
            created_at  TEXT NOT NULL,
            actor       TEXT NOT NULL DEFAULT '',
            model_id    TEXT NOT NULL,
            question_id INTEGER REFERENCES questions(id) ON DELETE SET NULL,
            seed        INTEGER NOT NULL,
            params      TEXT NOT NULL DEFAULT '{}',
            n_segments  INTEGER NOT NULL,
            seconds     REAL
        );
        CREATE TABLE cluster_candidates (
            id              INTEGER PRIMARY KEY,
            run_id          INTEGER NOT NULL REFERENCES cluster_runs(id) ON DELETE CASCADE,
            parent_id       INTEGER REFERENCES cluster_candidates(id) ON DELETE SET NULL,
            level           INTEGER NOT NULL DEFAULT 1 CHECK (level IN (0, 1)),
            label           TEXT NOT NULL,
            keywords        TEXT NOT NULL DEFAULT '[]',
            representatives TEXT NOT NULL DEFAULT '[]',
            status          TEXT NOT NULL DEFAULT 'open'
                            CHECK (status IN ('open', 'accepted', 'rejected', 'merged')),
            code_id         INTEGER REFERENCES codes(id) ON DELETE SET NULL,
            unclustered     INTEGER NOT NULL DEFAULT 0,
            position        INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX cluster_candidates_run ON cluster_candidates(run_id, level);
        CREATE TABLE cluster_members (
            run_id       INTEGER NOT NULL REFERENCES cluster_runs(id) ON DELETE CASCADE,
            segment_id   INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            candidate_id INTEGER NOT NULL REFERENCES cluster_candidates(id) ON DELETE CASCADE,
            score        REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, segment_id)
        );
        CREATE INDEX cluster_members_candidate ON cluster_members(candidate_id);
        """
    )


# Migration 10 marks the file as a thematic project, so that another program's SQLite file is recognised
# (and left untouched) when it is opened by mistake. "thMT" in ASCII.
APPLICATION_ID = 0x74684D54


@migration(10)
def project_marker(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


# ---- migration 15 (undo entries name their rows; bulk inserts log rowid ranges; undo per coder)

_UNDO_ROW = re.compile(r'^(?:DELETE FROM|INSERT INTO|UPDATE) "((?:[^"]|"")+)" .*?(?:rowid = |\(rowid, .*?\) VALUES \()(-?\d+)',
                       re.DOTALL)


def undo_stmt_row(stmt: str) -> tuple[str, int] | None:
    """The table and rowid an undo statement written by the triggers acts on (None if it is not one of theirs)."""
    if stmt.startswith("UPDATE"):
        m = re.match(r'^UPDATE "((?:[^"]|"")+)" SET .* WHERE rowid = (-?\d+)$', stmt, re.DOTALL)
    else:
        m = _UNDO_ROW.match(stmt)
    return None if m is None else (m.group(1).replace('""', '"'), int(m.group(2)))


@migration(15)
def undo_rows(conn: sqlite3.Connection) -> None:
    """Each undo entry names the table and rowid range it acts on (``tbl``, ``lo``, ``hi``), so that undoing one
    coder's change can check that no later change by someone else touched the same rows; a bulk insert logs one
    range (``undo_state.bulk``) instead of a statement per row."""
    conn.execute("ALTER TABLE undo_log ADD COLUMN tbl TEXT")
    conn.execute("ALTER TABLE undo_log ADD COLUMN lo INTEGER")
    conn.execute("ALTER TABLE undo_log ADD COLUMN hi INTEGER")
    conn.execute("ALTER TABLE undo_state ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE undo_state ADD COLUMN pending INTEGER")  # an undo/redo under way in chunks
    rows = conn.execute("SELECT id, stmt FROM undo_log").fetchall()
    fixed = []
    for log_id, stmt in rows:
        found = undo_stmt_row(stmt)
        if found is not None:
            fixed.append((found[0], found[1], found[1], log_id))
    conn.executemany("UPDATE undo_log SET tbl = ?, lo = ?, hi = ? WHERE id = ?", fixed)
    conn.execute("CREATE INDEX undo_log_row ON undo_log(tbl, lo)")
    conn.execute("CREATE INDEX undo_log_ranges ON undo_log(event_id) WHERE hi > lo")
    conn.execute("CREATE INDEX audit_actor ON audit(actor, id)")


# Team server: migration 17 (team mode's project members).
@migration(17)
def project_members(conn: sqlite3.Connection) -> None:
    """Who belongs to a team project and in which role (lead, coder, viewer); written by thematic.team only."""
    run_script(
        conn,
        """
        CREATE TABLE project_members (
            name     TEXT PRIMARY KEY,
            role     TEXT NOT NULL CHECK (role IN ('lead', 'coder', 'viewer')),
            added_at TEXT NOT NULL
        );
        """
    )


# Migration 11 (proposals): where an accepted candidate theme came from, kept apart from the person's definition.
_MACHINE_DEFINITION = (
    r"^Accepted (group of candidate themes|candidate theme) from clustering run (\d+) \(seed (-?\d+)\)\."
    r"(?: Keywords: ([^.]*)\.)?$"
)


@migration(11)
def code_provenance(conn: sqlite3.Connection) -> None:
    """Codes made from machine proposals: run, candidate, keywords and model in their own table (undoable).

    The machine never writes a definition. Projects where accepting a candidate wrote the machine sentence
    ("Accepted candidate theme from clustering run 3 (seed 42). Keywords: ...") into ``codes.definition`` have
    that sentence moved here and the definition emptied; any definition a person edited is left as it is.
    """
    import json
    import re

    run_script(
        conn,
        """
        CREATE TABLE code_provenance (
            code_id       INTEGER PRIMARY KEY REFERENCES codes(id) ON DELETE CASCADE,
            source        TEXT NOT NULL DEFAULT 'cluster',
            run_id        INTEGER REFERENCES cluster_runs(id) ON DELETE SET NULL,
            candidate_id  INTEGER REFERENCES cluster_candidates(id) ON DELETE SET NULL,
            machine_label TEXT NOT NULL DEFAULT '',
            keywords      TEXT NOT NULL DEFAULT '[]',
            details       TEXT NOT NULL DEFAULT '{}',
            created_at    TEXT NOT NULL
        );
        CREATE INDEX code_provenance_run ON code_provenance(run_id);
        """,
    )
    pattern = re.compile(_MACHINE_DEFINITION, re.DOTALL)
    rows = conn.execute("SELECT id, definition, created_at FROM codes WHERE definition LIKE 'Accepted %'").fetchall()
    for code_id, definition, created in rows:
        m = pattern.match(definition)
        if m is None:
            continue
        run_id, seed = int(m.group(2)), int(m.group(3))
        words = [w.strip() for w in m.group(4).split(",")] if m.group(4) else []
        cand = conn.execute(
            "SELECT id, label, keywords FROM cluster_candidates WHERE code_id = ? ORDER BY id LIMIT 1", (code_id,)
        ).fetchone()
        if cand is not None and cand[2]:
            words = json.loads(cand[2]) or words
        run_exists = conn.execute("SELECT 1 FROM cluster_runs WHERE id = ?", (run_id,)).fetchone() is not None
        conn.execute(
            "INSERT INTO code_provenance (code_id, source, run_id, candidate_id, machine_label, keywords, details, "
            "created_at) VALUES (?, 'cluster', ?, ?, ?, ?, ?, ?)",
            (code_id, run_id if run_exists else None, cand[0] if cand else None, cand[1] if cand else "",
             json.dumps(words), json.dumps({"seed": seed, "run": run_id, "migrated_definition": definition}),
             created),
        )
        conn.execute("UPDATE codes SET definition = '' WHERE id = ?", (code_id,))

# Migration 16 (coding surfaces: spans a person highlights).
@migration(16)
def person_spans(conn: sqlite3.Connection) -> None:
    """Spans a person highlights are segment rows marked ``by_person = 1`` (exact offsets inside the answer).

    They sit beside the machine's segments (positions from ``thematic.spans.SPAN_POSITION_BASE`` up), so codings,
    REFI-QDA export, agreement and counts see them as ordinary segments; the machine's queue, clustering and
    suggestions leave them out."""
    run_script(
        conn,
        """
        ALTER TABLE segments ADD COLUMN by_person INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX segments_answer_offsets ON segments(answer_id, start, "end");
        """,
    )


# Team server: migration 18 (blind coding: which coder typed a code in while coding).
@migration(18)
def code_creators(conn: sqlite3.Connection) -> None:
    """The coder who created a code while coding (typing a new name in the picker), in team mode; a code without a
    row here is the codebook's (the lead's, an import's, a single-user project's). While a project is blind, a code
    another coder created is hidden from a coder until the lead reveals (``thematic.team.store``, which alone writes
    this table, through a trigger of the coder's connection)."""
    run_script(
        conn,
        """
        CREATE TABLE code_creators (
            code_id INTEGER PRIMARY KEY REFERENCES codes(id) ON DELETE CASCADE,
            coder   TEXT NOT NULL
        );
        """,
    )
