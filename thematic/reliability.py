"""Agreement between coders of a project: blind mode, agreement reports per code, the model as a coder.

The statistics themselves are pure functions in :mod:`thematic.agreement`; this module turns a project into
reliability matrices.

* Units are the project's segments (``level="segment"``) or forms (``level="form"``: a coder applied a code to a
  form if they applied it to any segment of it). A span a person highlighted is not a unit: its code counts for
  each segment of the answer the span overlaps.
* For each code, a coder's value for a unit is 1 (applied that exact code) or 0. A coder with no codings at all
  is *missing* (NaN), so the statistics say so instead of reporting agreement with an empty sheet.
* Every figure is given twice: over all units, and without the units that none of the coders coded with any code
  (uncoded text agrees "not applied" with itself and inflates kappa and percent agreement).
* Overall figures pool every (unit, code) decision; their bootstrap resamples units.
* The model as a coder: accepted machine proposals (codings with origin ``cluster`` or ``suggestion``, whoever
  accepted them) form the pseudo-coder ``machine``; a human coder's side is their other codings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import agreement
from .codebook import find_code, list_codes
from .coding import find_coder
from .errors import InvalidInput, NotFound
from .models import Coding
from .store import Store

MACHINE = "machine"
MACHINE_ORIGINS = ("cluster", "suggestion")
LEVELS = ("segment", "form")
SCOPES = ("all", "common")
BLIND_SETTING = "blind_mode"


# ---------------------------------------------------------------------- blind mode


def blind_mode(store: Store) -> bool:
    """Whether coders see only their own codings (project setting ``blind_mode``)."""
    return (store.get_setting(BLIND_SETTING, "0") or "0").strip() in ("1", "true", "yes", "on")


def set_blind_mode(store: Store, on: bool, *, actor: str | None = None) -> None:
    store.set_setting(BLIND_SETTING, "1" if on else "0", actor=actor)


def visible_codings(
    store: Store, coder: str, *, blind: bool, segment_ids: Iterable[int] | None = None
) -> list[Coding]:
    """The codings ``coder`` may see: only their own when ``blind``, everyone's otherwise."""
    from .coding import codings

    return codings(store, coder=coder if blind else None, segment_ids=segment_ids)


# ---------------------------------------------------------------------- reports


@dataclass(frozen=True)
class CodeAgreement:
    """Agreement on one code (or overall, ``code_id`` None): over all units and over coded units only."""

    code_id: int | None
    path: str
    all_units: agreement.Stats
    coded_units: agreement.Stats

    def to_dict(self) -> dict[str, Any]:
        return {
            "code_id": self.code_id,
            "code": self.path,
            "all_units": self.all_units.to_dict(),
            "coded_units": self.coded_units.to_dict(),
        }


@dataclass(frozen=True)
class Report:
    coders: tuple[str, ...]
    level: str
    n_units: int
    n_coded_units: int
    codes: list[CodeAgreement]
    overall: CodeAgreement
    notes: list[str] = field(default_factory=list)
    n_boot: int = agreement.DEFAULT_BOOT
    seed: int = agreement.DEFAULT_SEED
    rollup: bool = False
    scope: str = "all"

    def to_dict(self) -> dict[str, Any]:
        return {
            "coders": list(self.coders),
            "level": self.level,
            "rollup": self.rollup,
            "scope": self.scope,
            "n_units": self.n_units,
            "n_coded_units": self.n_coded_units,
            "bootstrap": {"resamples": self.n_boot, "seed": self.seed, "interval": 0.95},
            "notes": list(self.notes),
            "overall": self.overall.to_dict(),
            "codes": [c.to_dict() for c in self.codes],
        }

    def rows(self, *, coded_only: bool = False) -> list[dict[str, Any]]:
        """One flat row per code plus the overall row, for tables and charts."""
        out = []
        for c in [*self.codes, self.overall]:
            s = c.coded_units if coded_only else c.all_units
            out.append(
                {
                    "code": c.path,
                    "code_id": c.code_id,
                    "n": s.n_units,
                    **{f"applied by {name}": n for name, n in zip(self.coders, s.positives)},
                    "% agreement": _pct(s.percent.value),
                    "kappa": s.kappa.value,
                    "kappa low": s.kappa.low,
                    "kappa high": s.kappa.high,
                    "alpha": s.alpha.value,
                    "alpha low": s.alpha.low,
                    "alpha high": s.alpha.high,
                    "why n/a": s.kappa.reason or s.alpha.reason,
                }
            )
        return out

    def format_table(self) -> str:
        """The text table the CLI prints: per code, with and without jointly uncoded units."""
        lines = [
            f"Agreement between {' and '.join(self.coders)} at {self.level} level"
            f"{' (codes include their subcodes)' if self.rollup else ''}: {self.n_units} units "
            f"({self.n_coded_units} coded by at least one of them). "
            + (f"95% bootstrap intervals ({self.n_boot} resamples of the units, seed {self.seed})."
               if self.n_boot else "No intervals (no bootstrap)."),
        ]
        lines += [f"note: {n}" for n in self.notes]
        for title, coded in (("All units", False), ("Without units none of them coded", True)):
            lines.append("")
            lines.append(title)
            head = f"{'code':<40} {'n':>6} {'%agree':>7}  {'kappa [95% CI]':<24} {'alpha [95% CI]':<24}"
            lines.append(head)
            lines.append("-" * len(head))
            for c in [*self.codes, self.overall]:
                s = c.coded_units if coded else c.all_units
                name = c.path if len(c.path) <= 40 else "..." + c.path[-37:]
                pct = "n/a" if np.isnan(s.percent.value) else f"{100 * s.percent.value:.1f}"
                why = s.kappa.reason or s.alpha.reason
                lines.append(
                    f"{name:<40} {s.n_units:>6} {pct:>7}  {s.kappa.format():<24} {s.alpha.format():<24}"
                    + (f" ({why})" if why and not (s.kappa.defined and s.alpha.defined) else "")
                )
        return "\n".join(line.rstrip() for line in lines)


def _pct(v: float) -> float:
    return float("nan") if np.isnan(v) else 100.0 * v


@dataclass(frozen=True)
class _Side:
    """Where one coder's codings come from: a coder name and/or an origin filter."""

    label: str
    coder: str | None
    origins: tuple[str, ...] = ()
    exclude_origins: tuple[str, ...] = ()


def agreement_report(
    store: Store,
    coders: Sequence[str],
    *,
    level: str = "segment",
    codes: Sequence[int | str] | None = None,
    rollup: bool = False,
    scope: str = "all",
    n_boot: int = agreement.DEFAULT_BOOT,
    seed: int = agreement.DEFAULT_SEED,
) -> Report:
    """Agreement between two or more coders per code and overall (kappa needs exactly two).

    With ``rollup`` a code counts as applied where it or any of its subcodes was (agreement on themes). With
    ``scope="common"`` only forms in which every coder coded something count (coders still working through the
    forms: a form one of them has not reached yet is not a disagreement)."""
    names = [c.strip() for c in coders if c and c.strip()]
    if len(names) < 2:
        raise InvalidInput("agreement needs at least two coders (e.g. --coders A,B)")
    if len(set(names)) != len(names):
        raise InvalidInput(f"a coder is named twice in {', '.join(names)}")
    known = set(r[0] for r in store.query("SELECT name FROM coders"))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NotFound(
            f"no coder {', '.join(repr(u) for u in unknown)} in this project (coders: {', '.join(sorted(known)) or 'none'})"
        )
    return _report(
        store, [_Side(n, n) for n in names], level=level, codes=codes, rollup=rollup, scope=scope, n_boot=n_boot,
        seed=seed,
    )


def machine_agreement(
    store: Store,
    coder: str,
    *,
    level: str = "segment",
    codes: Sequence[int | str] | None = None,
    rollup: bool = False,
    scope: str = "all",
    n_boot: int = agreement.DEFAULT_BOOT,
    seed: int = agreement.DEFAULT_SEED,
) -> Report:
    """Agreement between accepted machine proposals (pseudo-coder ``machine``) and a human coder, per code."""
    if find_coder(store, coder) is None:
        raise NotFound(f"no coder {coder!r} in this project")
    sides = [_Side(MACHINE, None, origins=MACHINE_ORIGINS), _Side(coder, coder, exclude_origins=MACHINE_ORIGINS)]
    return _report(store, sides, level=level, codes=codes, rollup=rollup, scope=scope, n_boot=n_boot, seed=seed)


def _report(
    store: Store,
    sides: list[_Side],
    *,
    level: str,
    codes: Sequence[int | str] | None,
    n_boot: int,
    seed: int,
    rollup: bool = False,
    scope: str = "all",
) -> Report:
    _check_level_scope(level, scope)
    with store.read() as conn:
        unit_form = _unit_forms(conn, level)
        coded = [_side_codings(conn, side, level) for side in sides]
    applied = [per for per, _ in coded]  # per side: code id -> units
    forms_coded = [forms for _, forms in coded]  # per side: forms it coded anything in
    notes: list[str] = []
    if scope == "common":
        unit_form = _common_forms_only(unit_form, applied, forms_coded, level, notes)
    units = sorted(unit_form)
    all_codes = list_codes(store)
    paths = {c.id: c.path_str for c in all_codes}
    if rollup:
        _roll_up(applied, {c.id: c.parent_id for c in all_codes})
    if codes is None:
        used = set().union(*[set(p) for p in applied])
        code_ids = [c.id for c in all_codes if c.id in used]
    else:
        code_ids = [_resolve_code(store, c, paths) for c in codes]
    for side, forms in zip(sides, forms_coded):
        if not forms:
            notes.append(f"{side.label} has no codings: treated as missing, so the statistics are undefined")
    index = {u: i for i, u in enumerate(units)}
    coded_any = _coded_any(applied, index)
    blocks = [_code_matrix(cid, applied, forms_coded, index) for cid in code_ids]
    rows_out = [
        CodeAgreement(
            cid,
            paths[cid],
            agreement.estimate(m, n_boot=n_boot, seed=seed),
            agreement.estimate(m[:, coded_any], n_boot=n_boot, seed=seed),
        )
        for cid, m in zip(code_ids, blocks)
    ]
    overall = _overall(blocks, coded_any, len(sides), n_boot, seed, notes)
    return Report(
        tuple(s.label for s in sides), level, len(units), int(coded_any.sum()), rows_out, overall, notes, n_boot,
        seed, rollup, scope,
    )


def _check_level_scope(level: str, scope: str) -> None:
    if level not in LEVELS:
        raise InvalidInput(f"level must be 'segment' or 'form', not {level!r}")
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be 'all' or 'common', not {scope!r}")


def _coded_any(applied: list[dict[int, set[int]]], index: dict[int, int]) -> np.ndarray:
    """Per unit: did any side apply any code to it."""
    out = np.zeros(len(index), dtype=bool)
    for per in applied:
        for us in per.values():
            out[[index[u] for u in us]] = True
    return out


def _unit_forms(conn: Any, level: str) -> dict[int, int]:
    """Unit id -> its form id: segments, or forms (each its own form)."""
    if level == "segment":
        rows = conn.execute("SELECT s.id, a.form_id FROM segments s JOIN answers a ON a.id = s.answer_id "
                            "WHERE s.by_person = 0")
        return {int(r[0]): int(r[1]) for r in rows}
    return {int(r[0]): int(r[0]) for r in conn.execute("SELECT id FROM forms")}


def _side_codings(conn: Any, side: _Side, level: str) -> tuple[dict[int, set[int]], set[int]]:
    """One side's codings: code id -> units it applied the code to, and the forms it coded anything in."""
    where: list[str] = []
    params: list[Any] = []
    if side.coder is not None:
        where.append("k.name = ?")
        params.append(side.coder)
    if side.origins:
        where.append(f"c.origin IN ({','.join('?' * len(side.origins))})")
        params += list(side.origins)
    if side.exclude_origins:
        where.append(f"c.origin NOT IN ({','.join('?' * len(side.exclude_origins))})")
        params += list(side.exclude_origins)
    # A span a person highlighted is not a unit of its own (the other coder never saw it as one): its code counts
    # for every segment of the answer it overlaps, as a code applied to part of a unit counts for the unit.
    rows = conn.execute(
        "SELECT DISTINCT c.code_id, m.id, a.form_id FROM codings c JOIN coders k ON k.id = c.coder_id "
        "JOIN segments s ON s.id = c.segment_id JOIN answers a ON a.id = s.answer_id "
        'JOIN segments m ON m.answer_id = s.answer_id AND m.by_person = 0 AND m.start < s."end" AND s.start < m."end" '
        "WHERE " + " AND ".join(where or ["1 = 1"]),
        params,
    ).fetchall()
    per: dict[int, set[int]] = {}
    forms: set[int] = set()
    for code_id, seg_id, form_id in rows:
        per.setdefault(int(code_id), set()).add(int(seg_id if level == "segment" else form_id))
        forms.add(int(form_id))
    return per, forms


def _common_forms_only(
    unit_form: dict[int, int],
    applied: list[dict[int, set[int]]],
    forms_coded: list[set[int]],
    level: str,
    notes: list[str],
) -> dict[int, int]:
    """Keep only the units of forms every side coded something in (``applied`` is narrowed in place)."""
    present = [f for f in forms_coded if f]
    common = set.intersection(*present) if present else set()
    kept = {u: f for u, f in unit_form.items() if f in common}
    for per in applied:
        for cid in list(per):
            per[cid] &= set(kept)
            if not per[cid]:
                del per[cid]
    notes.append(f"only the {len(common)} forms every coder coded something in: {len(kept)} of {len(unit_form)} {level}s")
    return kept


def _roll_up(applied: list[dict[int, set[int]]], parent: dict[int, int | None]) -> None:
    """A code counts as applied wherever one of its subcodes was (in place)."""
    for per in applied:
        for cid, us in list(per.items()):
            p = parent.get(cid)
            while p is not None:
                per.setdefault(p, set()).update(us)
                p = parent.get(p)


def _code_matrix(
    cid: int, applied: list[dict[int, set[int]]], forms_coded: list[set[int]], index: dict[int, int]
) -> np.ndarray:
    """Sides x units: 1 where the side applied the code, 0 where not, NaN for a side with no codings at all."""
    m = np.zeros((len(applied), len(index)))
    for i, per in enumerate(applied):
        if not forms_coded[i]:
            m[i, :] = np.nan
        else:
            m[i, [index[u] for u in per.get(cid, ())]] = 1.0
    return m


def _overall(
    blocks: list[np.ndarray], coded_any: np.ndarray, n_sides: int, n_boot: int, seed: int, notes: list[str]
) -> CodeAgreement:
    if blocks:
        return CodeAgreement(
            None,
            "(all codes)",
            agreement.pooled_estimate(blocks, n_boot=n_boot, seed=seed),
            agreement.pooled_estimate([b[:, coded_any] for b in blocks], n_boot=n_boot, seed=seed),
        )
    empty = agreement.Stats(0, n_sides, *(agreement.Estimate(float("nan"), reason="no codes applied"),) * 3)
    notes.append("none of these coders applied any code")
    return CodeAgreement(None, "(all codes)", empty, empty)


def _resolve_code(store: Store, ref: int | str, paths: dict[int, str]) -> int:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        cid = int(ref)
        if cid not in paths:
            raise NotFound(f"no code with id {cid}")
        return cid
    code = find_code(store, ref)
    if code is None:
        raise NotFound(f"no code {ref!r} in this project")
    return code.id



def coder_summary(store: Store) -> list[dict[str, Any]]:
    """One row per coder: codings, segments and forms coded, codes used, where the codings came from, first/last."""
    rows = store.query(
        "SELECT k.name, count(c.id) AS codings, count(DISTINCT c.segment_id) AS segments, "
        "count(DISTINCT a.form_id) AS forms, count(DISTINCT c.code_id) AS codes, min(c.created_at) AS first, "
        "max(c.created_at) AS last FROM coders k LEFT JOIN codings c ON c.coder_id = k.id "
        "LEFT JOIN segments s ON s.id = c.segment_id LEFT JOIN answers a ON a.id = s.answer_id "
        "GROUP BY k.id ORDER BY k.name"
    )
    origins: dict[str, dict[str, int]] = {}
    for r in store.query(
        "SELECT k.name, c.origin, count(*) FROM codings c JOIN coders k ON k.id = c.coder_id GROUP BY k.name, c.origin"
    ):
        origins.setdefault(r[0], {})[r[1]] = int(r[2])
    return [
        {
            "coder": r["name"],
            "codings": int(r["codings"]),
            "segments": int(r["segments"]),
            "forms": int(r["forms"]),
            "codes used": int(r["codes"]),
            "origins": ", ".join(f"{k} {v}" for k, v in sorted(origins.get(r["name"], {}).items())),
            "first coding": (r["first"] or "")[:16].replace("T", " "),
            "last coding": (r["last"] or "")[:16].replace("T", " "),
        }
        for r in rows
    ]
