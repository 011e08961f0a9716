"""A project opened for a signed-in user: permissions checked centrally, the user named in every audit event,
row guards for coders, and blind coding enforced in the reads.

:class:`TeamStore` is a :class:`~thematic.store.Store` (every library function takes it unchanged) that

* checks :mod:`thematic.team.permissions` when an outermost ``store.action(NAME, ...)`` starts (nested actions are
  part of the outer one) and names the signed-in user as the actor, whatever the caller passed;
* for a non-lead, installs TEMP triggers (private to this connection) that refuse writing another coder's
  codings, memos or suggestion decisions, adding a coder under another name, or changing members or adjudications;
* narrows undo and redo for a coder to their own changes;
* records the codes a non-lead creates while coding (``code_creators``, migration 18);
* while the project is blind (setting ``blind_mode``), shows a non-lead only their own codings, suggestion
  decisions and memos (plus the leads' memos), no adjudications or recorded agreement rounds, the codebook's codes
  and their own (not the codes another coder typed in while coding, unless they coded with it too), and their own
  audit events plus the leads' events that carry nobody's coding. This is done by TEMP views named like the tables (SQLite looks in ``temp`` before
  ``main``), so every read through this connection is filtered (``coding.codings``, ``code_counts``, reliability,
  suggestions learnt from codings, every export) without each module knowing. The views are dropped while an
  action runs (writes go to the real tables) and put back after it. They test the blind setting in each query, so
  a lead's reveal applies at once to every open session.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..store import AuditEvent, Store, UndoConflict
from .permissions import PermissionDenied, User, check

GUARD_TAG = "thematic-permission:"
BLIND_TABLES = (
    "codings", "suggestion_rejections", "memos", "adjudications", "agreement_rounds", "audit", "codes", "coders",
    "segments",
)
# The leads' audit events a non-lead sees while blind: building the codebook, importing forms, settings (the reveal
# included), members, memos (a lead's memos are shown anyway) and the candidate themes of clustering. Everything
# else of a lead's is hidden until the reveal, because it tells what coders coded or how far they agree: codings,
# imports and merges of codings (``codings.import``, ``import.qdpx``, ``merge.*``), merging or deleting codes (their
# summaries count the codings), accepting a candidate theme (it codes segments), suggestions, adjudication,
# agreement rounds, undo and redo (their summaries name the change they revert). A list of what may show, so that a
# new kind of event stays hidden until someone decides it is harmless.
_LEAD_EVENTS_SHOWN = (
    "action IN ('code.add', 'code.ensure', 'code.update', 'code.move', 'code.quotes', 'codebook.import', 'ingest', "
    "'purge-history') OR action LIKE 'project.%' OR action LIKE 'memo.%' OR action LIKE 'export.%' "
    "OR (action LIKE 'cluster.%' AND action <> 'cluster.accept')"
)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class TeamStore(Store):
    """``TeamStore(path, user)``: an existing project opened for ``user`` (see the module docstring)."""

    def __init__(self, path: str | Path, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("create", False)
        super().__init__(path, **kwargs)
        self.user = user
        self._views: list[str] = []
        with self._lock:
            self._install_guards()
            self._shadow()

    # ------------------------------------------------------------------ SQL pieces

    def _main_tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}

    @property
    def _me(self) -> str:
        return f"(SELECT id FROM main.coders WHERE name = {_lit(self.user.name)})"

    def _blind_sql(self) -> str:
        return (
            "(SELECT count(*) FROM main.project WHERE key = 'blind_mode' "
            "AND lower(trim(value)) IN ('1', 'true', 'yes', 'on')) > 0"
        )

    def _lead_names(self, tables: set[str]) -> str:
        if "project_members" not in tables:
            return "(SELECT NULL WHERE 0)"
        return "(SELECT name FROM main.project_members WHERE role = 'lead')"

    # ------------------------------------------------------------------ row guards (non-leads)

    def _install_guards(self) -> None:
        if self.user.is_lead:
            return
        tables = self._main_tables()
        me = self._me
        stmts: list[tuple[str, str, str, str]] = []  # (table, op, condition, message)
        for table, what in (("codings", "codings"), ("memos", "memos"), ("suggestion_rejections", "suggestion decisions")):
            if table not in tables:
                continue
            msg = f"{self.user.name} may change only their own {what}"
            stmts.append((table, "INSERT", f"NEW.coder_id IS NULL OR NEW.coder_id NOT IN {me}", msg))
            stmts.append((table, "DELETE", f"OLD.coder_id IS NULL OR OLD.coder_id NOT IN {me}", msg))
            both = f"OLD.coder_id IS NULL OR OLD.coder_id NOT IN {me} OR NEW.coder_id IS NULL OR NEW.coder_id NOT IN {me}"
            stmts.append((table, "UPDATE", both, msg))
        if "coders" in tables:
            msg = f"{self.user.name} may add only themselves as a coder"
            stmts.append(("coders", "INSERT", f"NEW.name IS NOT {_lit(self.user.name)}", msg))
            stmts.append(("coders", "UPDATE", f"OLD.name IS NOT {_lit(self.user.name)} OR NEW.name IS NOT OLD.name", msg))
            stmts.append(("coders", "DELETE", f"OLD.name IS NOT {_lit(self.user.name)}", msg))  # undo of their own
        if "code_creators" in tables and "codes" in tables:
            # A code this user creates (typing a new name while coding) is recorded as theirs, in the same step;
            # an undo or redo puts back the row the step logged, so the trigger leaves it to them.
            self.conn.execute(
                'CREATE TEMP TRIGGER IF NOT EXISTS "team_code_creator" AFTER INSERT ON main."codes" '
                "WHEN ifnull((SELECT action FROM main.audit WHERE id = "
                "(SELECT event_id FROM main.undo_state WHERE id = 1)), '') NOT IN ('undo', 'redo') BEGIN "
                f"INSERT INTO code_creators (code_id, coder) VALUES (NEW.id, {_lit(self.user.name)}); END"
            )
            msg = f"{self.user.name} may record only their own codes"
            stmts.append(("code_creators", "INSERT", f"NEW.coder IS NOT {_lit(self.user.name)}", msg))
            stmts.append(("code_creators", "UPDATE", "1", msg))
            stmts.append(("code_creators", "DELETE", f"OLD.coder IS NOT {_lit(self.user.name)}", msg))
        for table in ("project_members", "adjudications"):
            if table in tables:
                for op in ("INSERT", "UPDATE", "DELETE"):
                    stmts.append((table, op, "1", f"only a lead may change {table.replace('_', ' ')}"))
        for table, op, cond, msg in stmts:
            self.conn.execute(
                f'CREATE TEMP TRIGGER IF NOT EXISTS "team_guard_{table}_{op.lower()}" BEFORE {op} ON main."{table}" '
                f"WHEN {cond} BEGIN SELECT RAISE(ABORT, {_lit(GUARD_TAG + ' ' + msg)}); END"
            )

    # ------------------------------------------------------------------ blind reads (non-leads)

    def _hidden_codes_sql(self, leads: str) -> str:
        """The codes another (non-lead) coder created while coding and this user has not coded with, and the codes
        under them: what a coder's picker, tree, counts and exports leave out while blind."""
        return (
            "(WITH RECURSIVE hidden(id) AS ("
            "SELECT k.code_id FROM main.code_creators k "
            f"WHERE k.coder <> {_lit(self.user.name)} AND k.coder NOT IN {leads} "
            f"AND NOT EXISTS (SELECT 1 FROM main.codings g WHERE g.code_id = k.code_id AND g.coder_id IN {self._me}) "
            "UNION SELECT c.id FROM main.codes c JOIN hidden h ON c.parent_id = h.id) SELECT id FROM hidden)"
        )

    def _view_sql(self, table: str, tables: set[str]) -> str | None:
        blind, me, leads = self._blind_sql(), self._me, self._lead_names(tables)
        lead_ids = f"(SELECT id FROM main.coders WHERE name IN {leads})"
        where = {
            "codings": f"coder_id IN {me}",
            "suggestion_rejections": f"coder_id IN {me}",
            "memos": f"coder_id IN {me} OR coder_id IN {lead_ids}",
            "adjudications": "0",
            "agreement_rounds": "0",
            "audit": f"actor = {_lit(self.user.name)} OR (actor IN {leads} AND ({_LEAD_EVENTS_SHOWN}))",
            "codes": f"id NOT IN {self._hidden_codes_sql(leads)}",
            # who has started coding (a coder is recorded at their first coding) is not shown either
            "coders": f"name = {_lit(self.user.name)} OR name IN {leads}",
            # a span another coder highlighted (a person-made segment) tells where they coded, and counts them
            "segments": "t.by_person = 0 OR EXISTS (SELECT 1 FROM main.codings g WHERE g.segment_id = t.id "
                        f"AND g.coder_id IN {me})",
        }[table]
        return f'CREATE TEMP VIEW "{table}" AS SELECT * FROM main."{table}" AS t WHERE NOT ({blind}) OR ({where})'

    def _shadow(self) -> None:
        """Put the blind-mode views in place (non-leads only)."""
        if self.user.is_lead or self._views:
            return
        tables = self._main_tables()
        for table in BLIND_TABLES:
            if table == "segments" and "by_person" not in {r[1] for r in self.conn.execute("PRAGMA main.table_info(segments)")}:
                continue  # a file older than person-made spans
            if table in tables and (table != "codes" or "code_creators" in tables):
                sql = self._view_sql(table, tables)
                if sql:
                    self.conn.execute(sql)
                    self._views.append(table)

    def _unshadow(self) -> None:
        for table in self._views:
            self.conn.execute(f'DROP VIEW IF EXISTS temp."{table}"')
        self._views = []

    # ------------------------------------------------------------------ writing

    @contextmanager
    def action(self, action: str, summary: str, **kwargs: Any) -> Iterator[Any]:
        with self._lock:
            if self._action is not None:  # part of an action already checked
                with super().action(action, summary, **kwargs) as act:
                    yield act
                return
            check(self.user, action)
            kwargs["actor"] = self.user.name
            self._unshadow()
            try:
                with super().action(action, summary, **kwargs) as act:
                    yield act
            except sqlite3.IntegrityError as exc:
                if GUARD_TAG in str(exc):
                    raise PermissionDenied(str(exc).split(GUARD_TAG, 1)[1].strip() + f" ('{action}' refused)") from None
                raise
            finally:
                self._shadow()

    # ------------------------------------------------------------------ undo and redo

    def _undo_scope(self, coder: str | None) -> str | None:
        if self.user.role == "lead":
            return coder
        if coder not in (None, self.user.name):
            raise PermissionDenied(f"{self.user.name} is a {self.user.role}: they may undo only their own changes")
        return self.user.name

    def undo(self, *, actor: str | None = None, **kwargs: Any) -> AuditEvent:
        check(self.user, "undo")  # before looking for a target: a viewer hears "not allowed", not "nothing to undo"
        coder = self._undo_scope(kwargs.pop("coder", None))
        with self._quiet_conflict("undo"):
            return super().undo(actor=self.user.name, coder=coder, **kwargs)

    def redo(self, *, actor: str | None = None, **kwargs: Any) -> AuditEvent:
        check(self.user, "redo")
        coder = self._undo_scope(kwargs.pop("coder", None))
        with self._quiet_conflict("redo"):
            return super().redo(actor=self.user.name, coder=coder, **kwargs)

    @contextmanager
    def _quiet_conflict(self, word: str) -> Iterator[None]:
        """A refused undo names the later change in the way (who, what, when); while blind that is another
        coder's work, so a non-lead hears only that a later change depends on theirs."""
        try:
            yield
        except UndoConflict:
            if self.user.is_lead or not self.conn.execute(f"SELECT {self._blind_sql()}").fetchone()[0]:
                raise
            raise UndoConflict(
                f"cannot {word} your last change: a later change in the project depends on it (remove your coding "
                "instead, or ask a lead)"
            ) from None  # the original names the other coder's change
