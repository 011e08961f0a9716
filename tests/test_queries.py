"""Queries: keyword in context, code x metadata crosstab, co-occurrence, respondent counts with missing values,
XLSX. Every expected value below is counted by hand from the corpus in ``proj``."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from tests.helpers import SMALL, make_corpus
from thematic import codebook, coding, queries
from thematic.queries import MISSING
from thematic.store import Store

# SMALL: F1 (Nurse, Female): Q1 "The three circles made sense." + "Loved the breathing.", Q2 "Too hot in the room."
#        F2 (Doctor, Male):  Q1 "Soothing rhythm breathing was calming.", Q2 "Nothing, it was great."
#        F3 (Nurse, Male):   Q1 "Hearing the facilitator's lived experience."
# plus   F4 (no profession, Female): Q1 "Breathing, breathing and more BREATHING."
FORMS = [*SMALL, ("F4", {"gender": "Female"}, {"Q1": ["Breathing, breathing and more BREATHING."]})]


@pytest.fixture
def proj() -> Iterator[Store]:
    s = Store(":memory:")
    seg = make_corpus(s, FORMS)
    practices = codebook.add_code(s, "Practices")
    breathing = codebook.add_code(s, "Breathing", parent_id=practices)
    env = codebook.add_code(s, "Environment")
    coding.apply_code(s, seg[("F1", "Q1", 1)], breathing, "anna")
    coding.apply_code(s, seg[("F2", "Q1", 0)], breathing, "anna")
    coding.apply_code(s, seg[("F1", "Q2", 0)], env, "anna")
    coding.apply_code(s, seg[("F2", "Q1", 0)], env, "anna")  # the same segment as Breathing
    coding.apply_code(s, seg[("F4", "Q1", 0)], breathing, "bea")
    s.ids = {"practices": practices, "breathing": breathing, "env": env, **{f"{k[0]}{k[1]}s{k[2]}": v  # type: ignore[attr-defined]
                                                                              for k, v in seg.items()}}
    yield s
    s.close()


def test_kwic_finds_every_occurrence_in_every_question(proj: Store) -> None:
    k = queries.kwic(proj, "breathing", width=10)
    assert (k.total, k.answers) == (5, 3)
    assert [(h.respondent, h.match) for h in k.hits] == [
        ("F1", "breathing"), ("F2", "breathing"), ("F4", "Breathing"), ("F4", "breathing"), ("F4", "BREATHING")]
    f2 = k.hits[1]
    assert (f2.start, f2.end, f2.left, f2.right) == (16, 25, "ng rhythm", "was calmi")
    assert f2.question == "Q1"
    assert queries.kwic(proj, "breath").total == 0  # whole words only
    assert queries.kwic(proj, "Rhythm   breathing").total == 1  # a phrase, any case, any spacing
    assert queries.kwic(proj, "was").total == 2 and {h.question for h in queries.kwic(proj, "was").hits} == {"Q1", "Q2"}
    assert queries.kwic(proj, "  ").hits == []
    limited = queries.kwic(proj, "breathing", limit=2)
    assert len(limited.hits) == 2 and limited.total == 5


def test_respondent_counts_keep_missing_values(proj: Store) -> None:
    assert queries.meta_counts(proj, "profession") == [("Nurse", 2), ("Doctor", 1), (MISSING, 1)]
    assert queries.meta_counts(proj, "gender") == [("Female", 2), ("Male", 2)]
    assert sum(n for _, n in queries.meta_counts(proj, "profession")) == proj.counts()["forms"]


def test_crosstab_counts_respondents_with_row_and_column_percentages(proj: Store) -> None:
    ids = proj.ids  # type: ignore[attr-defined]
    t = queries.crosstab(proj, "profession")
    assert t.columns == ["Nurse", "Doctor", MISSING] and t.column_bases == [2, 1, 1]
    assert t.rows == ["Practices", "Practices/Breathing", "Environment"]
    assert t.row_ids == [ids["practices"], ids["breathing"], ids["env"]]
    assert t.counts == [[1, 1, 1], [1, 1, 1], [1, 1, 0]]
    assert t.row_totals == [3, 3, 2]
    assert t.row_pct()[2] == [50.0, 50.0, 0.0]
    assert t.column_pct()[0] == [50.0, 100.0, 100.0]
    assert t.row_pct()[0] == [33.3, 33.3, 33.3]
    mine = queries.crosstab(proj, "profession", coder="anna")
    assert mine.counts[0] == [1, 1, 0]
    top = queries.crosstab(proj, "profession", max_depth=0)
    assert top.rows == ["Practices", "Environment"]


def test_crosstab_by_segments(proj: Store) -> None:
    t = queries.crosstab(proj, "profession", unit="segments")
    # segments: Nurse F1 (3) + F3 (1) = 4, Doctor F2 = 2, missing F4 = 1
    assert t.columns == ["Nurse", "Doctor", MISSING] and t.column_bases == [4, 2, 1]
    assert t.counts == [[1, 1, 1], [1, 1, 1], [1, 1, 0]]
    assert t.column_pct()[0] == [25.0, 50.0, 100.0]


def test_cooccurrence(proj: Store) -> None:
    t = queries.cooccurrence(proj)
    assert t.rows == ["Practices", "Practices/Breathing", "Environment"]
    # Practices and Breathing are parent and child: not compared (0); each shares F2 Q1 with Environment.
    assert t.counts == [[3, 0, 1], [0, 3, 1], [1, 1, 2]]
    r = queries.cooccurrence(proj, unit="respondents")
    assert r.counts == [[3, 0, 2], [0, 3, 2], [2, 2, 2]]  # F1 and F2 carry both
    assert queries.cooccurrence(proj, coder="bea").counts == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_forms_coded_by_every_coder(proj: Store) -> None:
    ids = proj.ids  # type: ignore[attr-defined]
    f = {r[1]: r[0] for r in proj.query("SELECT id, external_id FROM forms")}
    assert queries.forms_coded_by_every(proj, ["anna", "bea"]) == set()
    coding.apply_code(proj, ids["F1Q1s0"], ids["env"], "bea")
    assert queries.forms_coded_by_every(proj, ["anna", "bea"]) == {f["F1"]}
    assert queries.forms_coded_by_every(proj, ["anna"]) == {f["F1"], f["F2"]}


def test_xlsx_has_one_sheet_per_result_and_safe_cells(proj: Store) -> None:
    import openpyxl

    with proj.action("test.meta", "odd value") as act:
        act.execute("UPDATE form_meta SET value = '=1+1' WHERE value = 'Doctor'")
    data = queries.to_xlsx(queries.kwic(proj, "breathing"), queries.crosstab(proj, "profession"),
                           queries.cooccurrence(proj))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["KWIC breathing", "Codes by profession", "Code co-occurrence"]
    kw = wb["KWIC breathing"]
    assert [c.value for c in kw[2]] == ["Respondent", "Question", "Left", "Match", "Right", "Start", "End"]
    assert kw.max_row == 2 + 5
    ct = wb["Codes by profession"]
    values = [[c.value for c in row] for row in ct.iter_rows()]
    header = next(r for r in values if r[0] == "Count")
    assert header == ["Count", "Nurse", "'=1+1", MISSING, "Total"]  # a formula is written as text
    assert next(r for r in values if r[0] == "Environment") == ["Environment", 1, 1, 0, 2]
    assert ["Base (all with this value)", 2, 1, 1, None] in values
    assert any(r[0] == "Column %" for r in values)


def test_outline_numbers_and_labels(proj: Store) -> None:
    t = queries.cooccurrence(proj)
    assert t.numbers == ["1", "1.1", "2"] and t.labels() == ["1 Practices", "1.1 Breathing", "2 Environment"]
    assert t.related == [[False, True, False], [True, False, False], [False, False, False]]
    assert queries.crosstab(proj, "gender", max_depth=0).labels() == ["1 Practices", "2 Environment"]
