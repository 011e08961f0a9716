"""Agreement statistics against sklearn and the krippendorff package, and the project-side report."""

from __future__ import annotations

import json
import math
import warnings

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from thematic import agreement as ag
from thematic import reliability
from thematic.cli import main
from thematic.codebook import ensure_path
from thematic.coding import apply_code, ensure_coder
from thematic.errors import InvalidInput, NotFound
from thematic.store import Store

from .helpers import SMALL, make_corpus


def _ref_alpha(data: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
        except ValueError:
            return float("nan")


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9


# ---------------------------------------------------------------------- pure statistics vs references


@settings(max_examples=150, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda k: st.tuples(
            st.lists(st.integers(0, k - 1), min_size=2, max_size=80),
            st.randoms(use_true_random=False),
        )
    )
)
def test_kappa_equals_sklearn(case: tuple[list[int], object]) -> None:
    a, rnd = case
    b = [x if rnd.random() < 0.6 else rnd.randrange(0, 5) for x in a]  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = float(cohen_kappa_score(a, b))
    assert _same(ag.cohen_kappa(a, b), ref)


@settings(max_examples=150, deadline=None)
@given(
    n_coders=st.integers(2, 5),
    n_units=st.integers(1, 60),
    k=st.integers(2, 4),
    p_missing=st.sampled_from([0.0, 0.1, 0.4]),
    seed=st.integers(0, 10_000),
)
def test_alpha_equals_krippendorff(n_coders: int, n_units: int, k: int, p_missing: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n_units)
    data = np.where(rng.random((n_coders, n_units)) < 0.7, truth, rng.integers(0, k, size=(n_coders, n_units)))
    data = data.astype(float)
    data[rng.random(data.shape) < p_missing] = np.nan
    assert _same(ag.krippendorff_alpha(data), _ref_alpha(data))


def test_binary_codes_with_uncoded_text_match_references_and_show_inflation() -> None:
    """Uncoded text (both 'not applied') inflates kappa/agreement; both figures equal the references."""
    rng = np.random.default_rng(7)
    coded = rng.integers(0, 2, size=(2, 80)).astype(float)
    coded[1] = np.where(rng.random(80) < 0.6, coded[0], coded[1])
    coded[:, ~coded.any(axis=0)] = 1.0  # every 'coded' unit has at least one 1
    uncoded = np.zeros((2, 400))
    full = np.hstack([coded, uncoded])
    for data in (full, coded):
        assert abs(ag.cohen_kappa(data[0], data[1]) - cohen_kappa_score(data[0], data[1])) <= 1e-9
        assert abs(ag.krippendorff_alpha(data) - _ref_alpha(data)) <= 1e-9
    assert ag.percent_agreement(full) > ag.percent_agreement(coded)
    assert ag.cohen_kappa(full[0], full[1]) > ag.cohen_kappa(coded[0], coded[1])


def test_pairwise_missing_kappa_uses_units_both_coded() -> None:
    a = np.array([1, 0, 1, np.nan, 1, 0, 0, 1])
    b = np.array([1, 0, 0, 1, np.nan, 0, 1, 1])
    ok = ~np.isnan(a) & ~np.isnan(b)
    assert abs(ag.cohen_kappa(a, b) - cohen_kappa_score(a[ok].astype(int), b[ok].astype(int))) <= 1e-12


def test_percent_agreement_by_hand() -> None:
    assert ag.percent_agreement([[1, 0, 1, 1], [1, 0, 0, 1]]) == 0.75
    # Three coders: unit 1 all agree (3/3 pairs), unit 2 one pair of three agrees, unit 3 has one value only.
    data = [[1, 1, 0], [1, 0, np.nan], [1, 0, np.nan]]
    assert ag.percent_agreement(data) == pytest.approx((1 + 1 / 3) / 2)


def test_perfect_agreement() -> None:
    data = [[1, 0, 0, 1, 1], [1, 0, 0, 1, 1]]
    s = ag.estimate(data, n_boot=200)
    assert s.kappa.value == 1.0 and s.alpha.value == 1.0 and s.percent.value == 1.0
    assert s.kappa.low == 1.0 and s.kappa.high == 1.0


def test_no_variation_is_nan_with_a_reason() -> None:
    s = ag.estimate([[0, 0, 0, 0], [0, 0, 0, 0]], n_boot=100)
    assert math.isnan(s.kappa.value) and "no variation" in s.kappa.reason
    assert math.isnan(s.alpha.value) and "no variation" in s.alpha.reason
    assert s.percent.value == 1.0
    assert ag.kappa_reason([1, 1], [1, 1]).startswith("no variation")
    assert ag.alpha_reason([[1, 0], [1, 0]]) == ""


def test_one_coder_missing_is_nan_with_a_reason() -> None:
    s = ag.estimate([[1, 0, 1], [np.nan, np.nan, np.nan]], n_boot=100)
    for e in (s.kappa, s.alpha, s.percent):
        assert math.isnan(e.value) and "coder #2 gave no values" in e.reason
    assert s.to_dict()["kappa"]["value"] is None  # JSON-safe


def test_kappa_needs_two_coders() -> None:
    s = ag.estimate([[1, 0, 1, 0], [1, 0, 0, 0], [1, 1, 1, 0]], n_boot=50)
    assert math.isnan(s.kappa.value) and "exactly two" in s.kappa.reason
    assert _same(s.alpha.value, _ref_alpha(np.array([[1, 0, 1, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=float)))


def test_bootstrap_is_seeded_and_matches_a_naive_unit_resample() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2, 150)
    b = np.where(rng.random(150) < 0.8, a, 1 - a)
    data = np.vstack([a, b]).astype(float)
    s1 = ag.estimate(data, n_boot=2000, seed=11)
    s2 = ag.estimate(data, n_boot=2000, seed=11)
    assert s1 == s2
    assert s1.kappa.low < s1.kappa.value < s1.kappa.high
    # A plain resample-the-columns bootstrap gives the same interval up to Monte Carlo error
    # (cohen_kappa itself is checked against sklearn above).
    r = np.random.default_rng(5)
    reps = []
    for _ in range(2000):
        idx = r.integers(0, 150, 150)
        reps.append(ag.cohen_kappa(a[idx], b[idx]))
    lo, hi = np.percentile(reps, [2.5, 97.5])
    assert abs(lo - s1.kappa.low) < 0.03 and abs(hi - s1.kappa.high) < 0.03


def test_pooled_equals_concatenation() -> None:
    rng = np.random.default_rng(9)
    blocks = [rng.integers(0, 2, size=(2, 30)).astype(float) for _ in range(4)]
    cat = np.hstack(blocks)
    s = ag.pooled_estimate(blocks, n_boot=0)
    assert abs(s.kappa.value - cohen_kappa_score(cat[0], cat[1])) <= 1e-9
    assert abs(s.alpha.value - _ref_alpha(cat)) <= 1e-9
    assert s.percent.value == pytest.approx(float((cat[0] == cat[1]).mean()))
    assert s.n_units == 30


# ---------------------------------------------------------------------- the project-side report


def _project(store: Store, n_forms: int = 40, seed: int = 0) -> tuple[dict[str, int], list[int], np.ndarray]:
    """Forms with 3 segments each; coders A and B apply codes X/Y with noise. Returns code ids, segments, truth."""
    rng = np.random.default_rng(seed)
    forms = [(f"F{i}", {}, {"Q1": [f"f{i} s{j}" for j in range(3)]}) for i in range(n_forms)]
    ids = make_corpus(store, forms, questions=("Q1",))
    segs = sorted(ids.values())
    codes = {"X": ensure_path(store, "Theme/X"), "Y": ensure_path(store, "Theme/Y")}
    ensure_coder(store, "A")
    ensure_coder(store, "B")
    # Column order (A_X, A_Y, B_X, B_Y) per segment.
    truth = np.zeros((4, len(segs)))
    for j, sid in enumerate(segs):
        if rng.random() < 0.5:
            continue  # uncoded text
        for ci, name in enumerate("XY"):
            t = rng.random() < 0.5
            for coder_i, coder in enumerate("AB"):
                v = t if rng.random() < 0.8 else not t
                if v:
                    apply_code(store, sid, codes[name], coder)
                    truth[coder_i * 2 + ci, j] = 1
    return codes, segs, truth


def test_report_matches_references_with_and_without_uncoded(store: Store) -> None:
    codes, segs, truth = _project(store)
    rep = reliability.agreement_report(store, ["A", "B"], n_boot=200)
    assert rep.n_units == len(segs)
    coded = truth.any(axis=0)
    assert rep.n_coded_units == int(coded.sum())
    by = {c.path: c for c in rep.codes}
    for ci, name in enumerate("XY"):
        a, b = truth[ci], truth[2 + ci]
        row = by[f"Theme/{name}"]
        assert abs(row.all_units.kappa.value - cohen_kappa_score(a, b)) <= 1e-9
        assert abs(row.all_units.alpha.value - _ref_alpha(np.vstack([a, b]))) <= 1e-9
        assert abs(row.coded_units.kappa.value - cohen_kappa_score(a[coded], b[coded])) <= 1e-9
        assert abs(row.coded_units.alpha.value - _ref_alpha(np.vstack([a, b])[:, coded])) <= 1e-9
        assert row.all_units.positives == (int(a.sum()), int(b.sum()))
    pooled_a = np.concatenate([truth[0], truth[1]])
    pooled_b = np.concatenate([truth[2], truth[3]])
    assert abs(rep.overall.all_units.kappa.value - cohen_kappa_score(pooled_a, pooled_b)) <= 1e-9
    assert rep.overall.all_units.kappa.value > rep.overall.coded_units.kappa.value
    json.dumps(rep.to_dict())  # NaN-free, serialisable
    assert "Theme/X" in rep.format_table()


def test_form_level_report(store: Store) -> None:
    codes, segs, truth = _project(store, n_forms=30, seed=4)
    rep = reliability.agreement_report(store, ["A", "B"], level="form", n_boot=100)
    assert rep.n_units == 30
    # A form is coded X by a coder if any of its 3 segments is (segments are numbered form by form).
    forms = truth.reshape(4, 30, 3).max(axis=2)
    x = next(c for c in rep.codes if c.code_id == codes["X"])
    assert abs(x.all_units.kappa.value - cohen_kappa_score(forms[0], forms[2])) <= 1e-9
    assert abs(x.all_units.alpha.value - _ref_alpha(forms[[0, 2]])) <= 1e-9


def test_report_codes_filter_and_errors(store: Store) -> None:
    codes, _, _ = _project(store, n_forms=10)
    rep = reliability.agreement_report(store, ["A", "B"], codes=["Theme/Y"], n_boot=0)
    assert [c.code_id for c in rep.codes] == [codes["Y"]]
    with pytest.raises(NotFound, match="no coder 'Z'"):
        reliability.agreement_report(store, ["A", "Z"])
    with pytest.raises(InvalidInput):
        reliability.agreement_report(store, ["A"])
    with pytest.raises(InvalidInput, match="level"):
        reliability.agreement_report(store, ["A", "B"], level="answer")


def test_coder_without_codings_is_reported_missing(store: Store) -> None:
    _project(store, n_forms=10)
    ensure_coder(store, "C")
    rep = reliability.agreement_report(store, ["A", "C"], n_boot=0)
    assert any("C has no codings" in n for n in rep.notes)
    assert all(math.isnan(c.all_units.kappa.value) for c in rep.codes)
    assert "missing" in rep.codes[0].all_units.kappa.reason


def test_machine_agreement(store: Store) -> None:
    ids = make_corpus(store, [(f"F{i}", {}, {"Q1": [f"s{i}a", f"s{i}b"]}) for i in range(10)], questions=("Q1",))
    segs = sorted(ids.values())
    x = ensure_path(store, "T/X")
    machine = segs[:8]
    human = segs[2:10]
    for sid in machine:
        apply_code(store, sid, x, "lead", origin="cluster")
    for sid in human:
        apply_code(store, sid, x, "B")
    apply_code(store, segs[0], x, "B", origin="suggestion")  # B's accepted proposals count for the machine side
    rep = reliability.machine_agreement(store, "B", n_boot=0)
    assert rep.coders == ("machine", "B")
    m = np.array([1.0 if s in machine else 0.0 for s in segs])
    h = np.array([1.0 if s in human else 0.0 for s in segs])
    assert abs(rep.codes[0].all_units.kappa.value - cohen_kappa_score(m, h)) <= 1e-9


def test_blind_mode_and_visible_codings(store: Store) -> None:
    ids = make_corpus(store, [("F1", {}, {"Q1": ["a", "b"]})], questions=("Q1",))
    x = ensure_path(store, "X")
    apply_code(store, ids[("F1", "Q1", 0)], x, "A")
    apply_code(store, ids[("F1", "Q1", 1)], x, "B")
    assert not reliability.blind_mode(store)
    reliability.set_blind_mode(store, True)
    assert reliability.blind_mode(store) and store.get_setting("blind_mode") == "1"
    assert {c.coder for c in reliability.visible_codings(store, "A", blind=True)} == {"A"}
    assert {c.coder for c in reliability.visible_codings(store, "A", blind=False)} == {"A", "B"}
    store.undo()
    assert not reliability.blind_mode(store)


# ---------------------------------------------------------------------- CLI


def test_cli_agreement_table_and_json(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.db"
    with Store(path) as s:
        _, _, truth = _project(s, n_forms=15)
    assert main(["agreement", str(path), "--coders", "A,B", "--json", "--boot", "100"]) == 0
    data = json.loads(capsys.readouterr().out)
    x = next(c for c in data["codes"] if c["code"] == "Theme/X")
    assert abs(x["all_units"]["kappa"]["value"] - cohen_kappa_score(truth[0], truth[2])) <= 1e-9
    assert main(["agreement", str(path), "--coders", "A,B", "--level", "form", "--boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "Theme/X" in out and "kappa" in out and "Without units none of them coded" in out
    assert main(["agreement", str(path), "--coders", "A,Nobody"]) == 2
    assert "no coder 'Nobody'" in capsys.readouterr().err


def test_rollup_counts_subcodes_for_their_theme(store: Store) -> None:
    codes, segs, truth = _project(store, n_forms=20, seed=2)
    rep = reliability.agreement_report(store, ["A", "B"], rollup=True, n_boot=0)
    theme = next(c for c in rep.codes if c.path == "Theme")
    a = np.maximum(truth[0], truth[1])
    b = np.maximum(truth[2], truth[3])
    assert abs(theme.all_units.kappa.value - cohen_kappa_score(a, b)) <= 1e-9
    assert rep.rollup and reliability.agreement_report(store, ["A", "B"], n_boot=0).codes[0].path == "Theme/X"


def test_two_coders_spreadsheets_on_nhs_sample_end_to_end(shared, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Real comments; coder A codes by the data set's labels, coder B disagrees on some; both import from
    spreadsheets and `agreement --json` equals sklearn/krippendorff on the same matrices."""
    import csv as _csv

    import openpyxl

    from thematic.ingest import ingest_file

    rows = list(_csv.DictReader((shared / "data" / "nhs_patient_feedback_phase1.csv").open(encoding="utf-8")))
    by_label: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        if r["feedback"].strip() and len(by_label.setdefault(r["label"], [])) < 15:
            by_label[r["label"]].append(r)
    sample = [r for group in by_label.values() for r in group][:150]
    forms = tmp_path / "forms.csv"
    with forms.open("w", newline="", encoding="utf-8") as fh:
        w = _csv.writer(fh)
        w.writerow(["ID", "Organisation", "Feedback"])
        for r in sample:
            w.writerow([f"R{r['row_index']}", r["organization"], r["feedback"]])
    path = tmp_path / "p.db"
    with Store(path) as s:
        ingest_file(s, forms, id_column="ID", question_columns=["Feedback"], meta_columns=["Organisation"],
                    unit="response")
        texts = {ext: t for ext, t in s.query(
            "SELECT f.external_id, s.text FROM segments s JOIN answers a ON a.id = s.answer_id "
            "JOIN forms f ON f.id = a.form_id")}
    rng = np.random.default_rng(42)

    def path_of(r: dict[str, str]) -> str:
        label, sub = r["label"].replace("/", "-"), r["subcategory"].replace("/", "-")
        return f"{label}/{sub}"

    units = [f"R{r['row_index']}" for r in sample]
    coded_a: dict[str, str] = {}
    coded_b: dict[str, str] = {}
    for u, r in zip(units, sample):
        if rng.random() < 0.2:
            continue  # nobody coded this comment
        coded_a[u] = path_of(r)
        coded_b[u] = path_of(r) if rng.random() < 0.75 else path_of(sample[int(rng.integers(len(sample)))])
    a_file = tmp_path / "anna.csv"
    with a_file.open("w", newline="", encoding="utf-8") as fh:
        w = _csv.writer(fh)
        w.writerow(["Respondent", "Question", "Quote", "Code"])
        for u, p in coded_a.items():
            w.writerow([u, "Feedback", texts[u], p])
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Form ID", "Question", "Segment text", "Code path"])
    for u, p in coded_b.items():
        ws.append([u, "Feedback", texts[u], p])
    b_file = tmp_path / "ben.xlsx"
    wb.save(b_file)
    assert main(["import-codings", str(path), str(a_file), "--coder", "anna"]) == 0
    assert main(["import-codings", str(path), str(b_file), "--coder", "ben"]) == 0
    capsys.readouterr()
    assert main(["agreement", str(path), "--coders", "anna,ben", "--json", "--boot", "200"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_units"] == len(units)
    coded = np.array([u in coded_a or u in coded_b for u in units])
    checked = 0
    for row in report["codes"]:
        code = row["code"].removeprefix("Imported/")
        a = np.array([1.0 if coded_a.get(u) == code else 0.0 for u in units])
        b = np.array([1.0 if coded_b.get(u) == code else 0.0 for u in units])
        for key, mask in (("all_units", np.ones(len(units), bool)), ("coded_units", coded)):
            got = row[key]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref_k = float(cohen_kappa_score(a[mask], b[mask]))
            ref_a = _ref_alpha(np.vstack([a, b])[:, mask])
            k = got["kappa"]["value"]
            al = got["alpha"]["value"]
            assert _same(float("nan") if k is None else k, ref_k), (row["code"], key)
            assert _same(float("nan") if al is None else al, ref_a), (row["code"], key)
            checked += 1
    assert checked >= 2 * 20
    # Overall: every (comment, code) decision pooled.
    codes = [r["code"].removeprefix("Imported/") for r in report["codes"]]
    pa = np.concatenate([[1.0 if coded_a.get(u) == c else 0.0 for u in units] for c in codes])
    pb = np.concatenate([[1.0 if coded_b.get(u) == c else 0.0 for u in units] for c in codes])
    assert abs(report["overall"]["all_units"]["kappa"]["value"] - cohen_kappa_score(pa, pb)) <= 1e-9
    assert report["overall"]["all_units"]["kappa"]["value"] > report["overall"]["coded_units"]["kappa"]["value"]


def test_common_scope_leaves_out_forms_a_coder_has_not_reached(store: Store) -> None:
    ids = make_corpus(store, [(f"F{i}", {}, {"Q1": [f"f{i} a", f"f{i} b"]}) for i in range(6)], questions=("Q1",))
    x = ensure_path(store, "X")
    # A coded all six forms; B has only reached the first three.
    a_segs = [ids[(f"F{i}", "Q1", 0)] for i in range(6)]
    b_segs = [ids[("F0", "Q1", 0)], ids[("F1", "Q1", 1)], ids[("F2", "Q1", 0)]]
    for s in a_segs:
        apply_code(store, s, x, "A")
    for s in b_segs:
        apply_code(store, s, x, "B")
    full = reliability.agreement_report(store, ["A", "B"], n_boot=0)
    common = reliability.agreement_report(store, ["A", "B"], scope="common", n_boot=0)
    assert full.n_units == 12 and common.n_units == 6
    segs = [ids[(f"F{i}", "Q1", j)] for i in range(3) for j in range(2)]
    a = np.array([1.0 if s in a_segs else 0.0 for s in segs])
    b = np.array([1.0 if s in b_segs else 0.0 for s in segs])
    assert abs(common.codes[0].all_units.kappa.value - cohen_kappa_score(a, b)) <= 1e-9
    assert common.codes[0].all_units.kappa.value > full.codes[0].all_units.kappa.value
    assert any("only the 3 forms" in n for n in common.notes)
    with pytest.raises(InvalidInput, match="scope"):
        reliability.agreement_report(store, ["A", "B"], scope="some")


def test_a_highlighted_span_counts_for_the_segments_it_overlaps_not_as_a_unit_of_its_own(store: Store) -> None:
    """Coder A codes the sentence "Loved the breathing."; coder B highlights "the breathing" inside it with the
    same code. They agree: the span is not a unit B coded and A left uncoded."""
    from thematic.spans import code_span

    seg = make_corpus(store, SMALL)
    code = ensure_path(store, "Breathing")
    loved = seg[("F1", "Q1", 1)]
    apply_code(store, loved, code, "A")
    apply_code(store, seg[("F2", "Q1", 0)], code, "A")
    apply_code(store, seg[("F2", "Q1", 0)], code, "B")
    row = store.query_one("SELECT answer_id, start, text FROM segments WHERE id = ?", (loved,))
    answer = store.scalar("SELECT text FROM answers WHERE id = ?", (row["answer_id"],))
    at = answer.index("the breathing")
    code_span(store, int(row["answer_id"]), at, at + len("the breathing"), "B", code_id=code)
    rep = reliability.agreement_report(store, ["A", "B"], n_boot=0)
    assert rep.n_units == 6  # the six sentences of the corpus; the highlighted span is not a seventh
    assert rep.n_coded_units == 2
    assert rep.overall.all_units.percent.value == 1.0
