"""The disagreement queue, adjudication decisions and agreement rounds.

* :func:`disagreements` lists, per code, the segments one of two coders coded and the other did not.
* :func:`decide` records a decision on one (segment, code) with a written rationale and writes its outcome as
  codings of the *consensus coder* (origin ``adjudication``; name from the ``consensus_coder`` project setting,
  default ``consensus``):

  ========== ==========================================================================
  keep_a     the consensus has the code if coder A applied it
  keep_b     the consensus has the code if coder B applied it
  both       the consensus has the code (both readings stand, e.g. A's and B's codes)
  neither    the consensus does not have the code
  new_code   the consensus has another code instead (``new_code``, created if new)
  ========== ==========================================================================

  Deciding the same item again in the same round replaces the earlier decision. Each decision is one audited,
  undoable step (``store.undo()`` restores the codings and the queue exactly); :func:`revoke` withdraws an
  earlier decision without undoing what came after it. :func:`export_decisions_csv` writes them all.
* :func:`accept_agreements` copies what both coders agree on into the consensus, so that the consensus coder
  holds the complete adjudicated result.
* :func:`record_round` keeps the agreement report of a round (``before`` or ``after`` adjudication), so that the
  report can state agreement before and after each round.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import agreement
from .codebook import ensure_path, find_code, list_codes
from .errors import Conflict, InvalidInput, NotFound
from .export.safety import csv_writer
from .reliability import agreement_report
from .store import Store, now

DECISIONS = ("keep_a", "keep_b", "both", "neither", "new_code")
CONSENSUS_SETTING = "consensus_coder"
DEFAULT_CONSENSUS = "consensus"


@dataclass(frozen=True)
class Disagreement:
    segment_id: int
    code_id: int
    code_path: str
    external_id: str
    question: str
    text: str
    a_applied: bool
    b_applied: bool
    decision: str | None = None
    rationale: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Decision:
    id: int
    round: int
    segment_id: int
    code_id: int
    code_path: str
    decision: str
    rationale: str
    adjudicator: str | None
    coders: tuple[str, ...]
    new_code_id: int | None
    new_code_path: str
    consensus: str
    created_at: str


@dataclass(frozen=True)
class RoundRecord:
    id: int
    round: int
    stage: str
    coders: tuple[str, ...]
    level: str
    note: str
    created_at: str
    report: dict[str, Any]

    @property
    def overall(self) -> dict[str, Any]:
        return dict(self.report.get("overall", {}).get("all_units", {}))

    @property
    def kappa_text(self) -> str:
        k = self.overall.get("kappa", {})
        if k.get("value") is None:
            return "n/a" + (f" ({k.get('reason')})" if k.get("reason") else "")
        text = f"{k['value']:.3f}"
        if k.get("low") is not None and k.get("high") is not None:
            text += f" [{k['low']:.3f}, {k['high']:.3f}]"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "coders": list(self.coders)}

    def sentence(self) -> str:
        """One sentence for a report's method section, over the units at least one coder coded."""
        o = self.report.get("overall", {}).get("coded_units", {})

        def est(name: str) -> str:
            e = o.get(name, {})
            if e.get("value") is None:
                return f"{name} not defined ({e.get('reason') or 'no data'})"
            ci = f" (95% CI {e['low']:.2f} to {e['high']:.2f})" if e.get("low") is not None and e.get("high") is not None else ""
            return f"{'Cohen' if name == 'kappa' else 'Krippendorff'}'s {name} {e['value']:.2f}{ci}"

        pct = o.get("percent", {}).get("value")
        stage = "before adjudication" if self.stage == "before" else "after adjudication"
        who = " and ".join(self.coders) if len(self.coders) <= 2 else ", ".join(self.coders)
        parts = [est("kappa")] if len(self.coders) == 2 else []
        parts.append(est("alpha"))
        if pct is not None:
            parts.append(f"{100 * pct:.0f}% agreement")
        return (
            f"Round {self.round} ({stage}): {who}, {self.report.get('n_coded_units', 0)} coded {self.level}s: "
            + "; ".join(parts) + "."
        )


# ---------------------------------------------------------------------- helpers


def consensus_name(store: Store, consensus: str | None = None) -> str:
    name = consensus or store.get_setting(CONSENSUS_SETTING) or DEFAULT_CONSENSUS
    return " ".join(name.split())


def current_round(store: Store) -> int:
    """The round adjudications belong to: the latest recorded round (1 before any is recorded)."""
    return int(store.scalar("SELECT coalesce(max(round), 1) FROM agreement_rounds"))


def _coder_id(store: Store, name: str) -> int:
    row = store.query_one("SELECT id FROM coders WHERE name = ?", (name,))
    if row is None:
        known = ", ".join(r[0] for r in store.query("SELECT name FROM coders ORDER BY name")) or "none"
        raise NotFound(f"no coder {name!r} in this project (coders: {known})")
    return int(row[0])


def resolve_code(store: Store, ref: int | str) -> int:
    """A code id from an id or a path."""
    if isinstance(ref, int) or str(ref).strip().isdigit():
        cid = int(ref)
        if store.scalar("SELECT 1 FROM codes WHERE id = ?", (cid,)) is None:
            raise NotFound(f"no code with id {cid}")
        return cid
    code = find_code(store, str(ref))
    if code is None:
        raise NotFound(f"no code {str(ref)!r} in this project")
    return code.id


# ---------------------------------------------------------------------- the queue


def disagreements(
    store: Store,
    coder_a: str,
    coder_b: str,
    *,
    code: int | str | None = None,
    include_decided: bool = False,
    round: int | None = None,
) -> list[Disagreement]:
    """(segment, code) pairs that exactly one of the two coders applied, in reading order, codes in tree order."""
    if coder_a == coder_b:
        raise InvalidInput("choose two different coders")
    a_id, b_id = _coder_id(store, coder_a), _coder_id(store, coder_b)
    rnd = current_round(store) if round is None else round
    code_filter, params = "", [a_id, b_id, a_id, b_id]
    if code is not None:
        code_filter = "AND x.code_id = ?"
        params.append(resolve_code(store, code))
    rows = store.query(
        f"""
        WITH x AS (
            SELECT segment_id, code_id, max(coder_id = ?) AS a, max(coder_id = ?) AS b
            FROM codings WHERE coder_id IN (?, ?) GROUP BY segment_id, code_id
        )
        SELECT x.segment_id, x.code_id, x.a, x.b, f.external_id, q.key AS question, s.text,
               d.decision, d.rationale
        FROM x JOIN segments s ON s.id = x.segment_id JOIN answers an ON an.id = s.answer_id
        JOIN forms f ON f.id = an.form_id JOIN questions q ON q.id = an.question_id
        LEFT JOIN adjudications d ON d.segment_id = x.segment_id AND d.code_id = x.code_id AND d.round = {int(rnd)}
        WHERE x.a != x.b {code_filter}
        ORDER BY an.form_id, q.position, s.position, x.code_id
        """,
        params,
    )
    order = {c.id: (i, c.path_str) for i, c in enumerate(list_codes(store))}
    out = [
        Disagreement(
            r["segment_id"], r["code_id"], order[r["code_id"]][1], r["external_id"], r["question"], r["text"],
            bool(r["a"]), bool(r["b"]), r["decision"], r["rationale"] or "",
        )
        for r in rows
        if include_decided or r["decision"] is None
    ]
    return out


# ---------------------------------------------------------------------- decisions


def decide(
    store: Store,
    segment_id: int,
    code: int | str,
    coder_a: str,
    coder_b: str,
    decision: str,
    rationale: str,
    *,
    new_code: int | str | None = None,
    consensus: str | None = None,
    actor: str | None = None,
    round: int | None = None,
) -> Decision:
    """Decide one disagreement; the outcome becomes the consensus coder's coding. One undoable step."""
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not rationale or not rationale.strip():
        raise InvalidInput("write a rationale for the decision (it is kept with it and exported)")
    if coder_a == coder_b:
        raise InvalidInput("choose two different coders")
    cons = consensus_name(store, consensus)
    if cons in (coder_a, coder_b):
        raise InvalidInput(f"the consensus coder {cons!r} must not be one of the coders being adjudicated")
    a_id, b_id = _coder_id(store, coder_a), _coder_id(store, coder_b)
    code_id = resolve_code(store, code)
    if store.scalar("SELECT 1 FROM segments WHERE id = ?", (segment_id,)) is None:
        raise NotFound(f"no segment {segment_id} in this project")
    has = {
        int(r[0])
        for r in store.query(
            "SELECT coder_id FROM codings WHERE segment_id = ? AND code_id = ? AND coder_id IN (?, ?)",
            (segment_id, code_id, a_id, b_id),
        )
    }
    a_has, b_has = a_id in has, b_id in has
    if a_has == b_has:
        raise Conflict(
            f"{coder_a} and {coder_b} agree on segment {segment_id} for this code "
            f"({'both applied it' if a_has else 'neither applied it'}): nothing to adjudicate"
        )
    if decision == "new_code" and new_code is None:
        raise InvalidInput("decision new_code needs the code to apply instead (new_code)")
    if decision != "new_code" and new_code is not None:
        raise InvalidInput("a new code is only given with the decision new_code")
    rnd = current_round(store) if round is None else int(round)
    present = {"keep_a": a_has, "keep_b": b_has, "both": True, "neither": False, "new_code": False}[decision]
    path = {c.id: c.path_str for c in list_codes(store)}[code_id]
    with store.action(
        "adjudication.decide",
        f"Adjudicate segment {segment_id} / '{path}': {decision}",
        actor=actor,
        details={"segment_id": segment_id, "code_id": code_id, "decision": decision, "round": rnd},
    ) as act:
        from .coding import _coder_id as coder_id_in

        cons_id = coder_id_in(act, cons)
        adj_id = coder_id_in(act, actor) if actor else None
        new_id: int | None = None
        if new_code is not None:
            if isinstance(new_code, int) or str(new_code).strip().isdigit():
                new_id = resolve_code(store, new_code)
            else:
                new_id = ensure_path(store, str(new_code), actor=actor)
            if new_id == code_id:
                raise InvalidInput("the new code is the disputed code itself: decide 'both' instead")
        prior = act.execute(
            "SELECT id, new_code_id FROM adjudications WHERE segment_id = ? AND code_id = ? AND round = ?",
            (segment_id, code_id, rnd),
        ).fetchone()
        if prior is not None:
            old_new = prior["new_code_id"]
            act.execute("DELETE FROM adjudications WHERE id = ?", (prior["id"],))
            if old_new is not None and old_new != new_id:
                still_used = act.execute(
                    "SELECT 1 FROM adjudications WHERE segment_id = ? AND (new_code_id = ? OR code_id = ?)",
                    (segment_id, old_new, old_new),
                ).fetchone()
                if still_used is None:
                    act.execute(
                        "DELETE FROM codings WHERE segment_id = ? AND code_id = ? AND coder_id = ? AND origin = 'adjudication'",
                        (segment_id, old_new, cons_id),
                    )
        t = now()
        if present:
            act.execute(
                "INSERT OR IGNORE INTO codings (segment_id, code_id, coder_id, origin, created_at) "
                "VALUES (?, ?, ?, 'adjudication', ?)",
                (segment_id, code_id, cons_id, t),
            )
        else:
            act.execute(
                "DELETE FROM codings WHERE segment_id = ? AND code_id = ? AND coder_id = ?", (segment_id, code_id, cons_id)
            )
        if new_id is not None:
            act.execute(
                "INSERT OR IGNORE INTO codings (segment_id, code_id, coder_id, origin, created_at) "
                "VALUES (?, ?, ?, 'adjudication', ?)",
                (segment_id, new_id, cons_id, t),
            )
        did = act.insert(
            "INSERT INTO adjudications (segment_id, code_id, decision, rationale, coder_id, round, created_at, "
            "coders, new_code_id, consensus) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (segment_id, code_id, decision, rationale.strip(), adj_id, rnd, t, f"{coder_a},{coder_b}", new_id, cons),
        )
        act.details["adjudication_id"] = did
    return _decisions(store, "WHERE d.id = ?", [did])[0]


def revoke(store: Store, adjudication_id: int, *, actor: str | None = None) -> Decision:
    """Withdraw one earlier decision (not only the last change): its item goes back to the queue and the consensus
    coding it wrote is removed. One undoable step; returns the decision as it was."""
    found = _decisions(store, "WHERE d.id = ?", [adjudication_id])
    if not found:
        raise NotFound(f"no adjudication decision {adjudication_id}")
    d = found[0]
    with store.action(
        "adjudication.revoke",
        f"Withdraw decision on segment {d.segment_id} / '{d.code_path}' ({d.decision})",
        actor=actor,
        details={"adjudication_id": adjudication_id},
    ) as act:
        cons = act.execute("SELECT id FROM coders WHERE name = ?", (d.consensus,)).fetchone()
        act.execute("DELETE FROM adjudications WHERE id = ?", (adjudication_id,))
        if cons is not None:
            for code_id in (d.code_id, d.new_code_id):
                if code_id is None:
                    continue
                other = act.execute(
                    "SELECT 1 FROM adjudications WHERE segment_id = ? AND (code_id = ? OR new_code_id = ?)",
                    (d.segment_id, code_id, code_id),
                ).fetchone()
                if other is None:
                    act.execute(
                        "DELETE FROM codings WHERE segment_id = ? AND code_id = ? AND coder_id = ? "
                        "AND origin = 'adjudication'",
                        (d.segment_id, code_id, cons[0]),
                    )
    return d


def accept_agreements(
    store: Store, coder_a: str, coder_b: str, *, consensus: str | None = None, actor: str | None = None
) -> int:
    """Copy every coding both coders agree on into the consensus coder (one undoable step); returns how many were new."""
    a_id, b_id = _coder_id(store, coder_a), _coder_id(store, coder_b)
    cons = consensus_name(store, consensus)
    if cons in (coder_a, coder_b):
        raise InvalidInput(f"the consensus coder {cons!r} must not be one of the coders being adjudicated")
    with store.action(
        "adjudication.agreed",
        f"Accept what {coder_a} and {coder_b} agree on into '{cons}'",
        actor=actor,
        details={"coders": [coder_a, coder_b], "consensus": cons},
    ) as act:
        from .coding import _coder_id as coder_id_in

        cons_id = coder_id_in(act, cons)
        n = act.execute(
            "INSERT OR IGNORE INTO codings (segment_id, code_id, coder_id, origin, created_at) "
            "SELECT a.segment_id, a.code_id, ?, 'adjudication', ? FROM codings a JOIN codings b "
            "ON b.segment_id = a.segment_id AND b.code_id = a.code_id AND b.coder_id = ? WHERE a.coder_id = ?",
            (cons_id, now(), b_id, a_id),
        ).rowcount
        act.details["added"] = int(n)
    return int(n)


def decisions(store: Store, *, round: int | None = None) -> list[Decision]:
    if round is None:
        return _decisions(store, "", [])
    return _decisions(store, "WHERE d.round = ?", [round])


def _decisions(store: Store, where: str, params: Sequence[Any]) -> list[Decision]:
    paths = {c.id: c.path_str for c in list_codes(store)}
    rows = store.query(
        "SELECT d.*, k.name AS adjudicator FROM adjudications d LEFT JOIN coders k ON k.id = d.coder_id "
        f"{where} ORDER BY d.round, d.created_at, d.id",
        params,
    )
    return [
        Decision(
            r["id"], r["round"], r["segment_id"], r["code_id"], paths.get(r["code_id"], f"#{r['code_id']}"),
            r["decision"], r["rationale"], r["adjudicator"], tuple(x for x in r["coders"].split(",") if x),
            r["new_code_id"], paths.get(r["new_code_id"], "") if r["new_code_id"] is not None else "",
            r["consensus"], r["created_at"],
        )
        for r in rows
    ]


DECISION_COLUMNS = (
    "round", "form_id", "question", "segment_id", "segment_text", "code_path", "coder_a", "coder_b",
    "decision", "new_code_path", "rationale", "adjudicator", "consensus_coder", "decided_at",
)


def export_decisions_csv(store: Store, dest: str | Path | IO[str]) -> int:
    """Every decision as a CSV row (UTF-8 with BOM for Excel); returns the number of rows."""
    ds = decisions(store)
    seg = {
        r["id"]: r
        for r in store.query(
            "SELECT s.id, s.text, f.external_id, q.key FROM segments s JOIN answers a ON a.id = s.answer_id "
            "JOIN forms f ON f.id = a.form_id JOIN questions q ON q.id = a.question_id "
            "WHERE s.id IN (SELECT segment_id FROM adjudications)"
        )
    }

    def write(fh: IO[str]) -> None:
        w = csv_writer(fh)
        w.writerow(DECISION_COLUMNS)
        for d in ds:
            s = seg[d.segment_id]
            a, b = (list(d.coders) + ["", ""])[:2]
            w.writerow([
                d.round, s["external_id"], s["key"], d.segment_id, s["text"], d.code_path, a, b, d.decision,
                d.new_code_path, d.rationale, d.adjudicator or "", d.consensus, d.created_at,
            ])

    if isinstance(dest, (str, Path)):
        with open(dest, "w", newline="", encoding="utf-8-sig") as fh:
            write(fh)
    else:
        write(dest)
    return len(ds)


# ---------------------------------------------------------------------- rounds


def record_round(
    store: Store,
    coders: Sequence[str],
    *,
    level: str = "segment",
    stage: str = "before",
    round: int | None = None,
    note: str = "",
    actor: str | None = None,
    rollup: bool = False,
    scope: str = "all",
    n_boot: int = agreement.DEFAULT_BOOT,
    seed: int = agreement.DEFAULT_SEED,
) -> RoundRecord:
    """Compute and keep the agreement report of a round. ``before`` opens a new round by default; ``after``
    belongs to the latest one."""
    if stage not in ("before", "after"):
        raise InvalidInput(f"stage must be 'before' or 'after', not {stage!r}")
    report = agreement_report(store, coders, level=level, rollup=rollup, scope=scope, n_boot=n_boot, seed=seed)
    latest = store.scalar("SELECT max(round) FROM agreement_rounds")
    if round is None:
        rnd = (int(latest or 0) + 1) if stage == "before" else int(latest or 1)
    else:
        if round < 1:
            raise InvalidInput("round numbers start at 1")
        rnd = int(round)
    payload = json.dumps(report.to_dict())
    with store.action(
        "agreement.round",
        f"Record agreement of round {rnd} ({stage}) for {', '.join(coders)}",
        actor=actor,
        details={"round": rnd, "stage": stage, "level": level},
    ) as act:
        rid = act.insert(
            "INSERT INTO agreement_rounds (round, coders, level, report_json, created_at, stage, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rnd, ",".join(report.coders), level, payload, now(), stage, note.strip()),
        )
    return next(r for r in rounds(store) if r.id == rid)


def rounds(store: Store) -> list[RoundRecord]:
    rows = store.query("SELECT * FROM agreement_rounds ORDER BY round, CASE stage WHEN 'before' THEN 0 ELSE 1 END, id")
    return [
        RoundRecord(
            r["id"], r["round"], r["stage"], tuple(r["coders"].split(",")), r["level"], r["note"], r["created_at"],
            json.loads(r["report_json"]),
        )
        for r in rows
    ]
