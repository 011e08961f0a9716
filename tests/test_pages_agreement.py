"""AppTest for the Coders and Agreement pages: they load, and their key actions change the project file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from thematic import adjudicate, codebook, coding, reliability  # noqa: E402
from thematic.store import Store  # noqa: E402

from .apptest import APP, TIMEOUT, check, open_app  # noqa: E402
from .helpers import SMALL, make_corpus  # noqa: E402



@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two coders, anna and ben, who agree on one coding and differ on two."""
    path = tmp_path / "study.db"
    with Store(path) as s:
        seg = make_corpus(s, SMALL)
        s.set_setting("title", "Test study")
        breathing = codebook.ensure_path(s, "Practices/Breathing")
        room = codebook.ensure_path(s, "Environment/Room")
        coding.apply_code(s, seg[("F1", "Q1", 1)], breathing, "anna")
        coding.apply_code(s, seg[("F1", "Q1", 1)], breathing, "ben")
        coding.apply_code(s, seg[("F2", "Q1", 0)], breathing, "anna")
        coding.apply_code(s, seg[("F1", "Q2", 0)], room, "ben")
    monkeypatch.setenv("THEMATIC_PROJECT", str(path))
    monkeypatch.setenv("THEMATIC_FAKE_EMBEDDER", "1")
    yield path


@pytest.fixture
def open_page(project: Path) -> Callable[..., AppTest]:
    def run(page: str, **state: object) -> AppTest:
        return open_app(page, strict=True, **state)

    return run



def test_coders_page_lists_coders_and_toggles_blind_mode(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/coders.py", coder="anna")
    table = _df(at, "codes used")
    assert set(table["coder"]) == {"anna", "ben"}
    assert dict(zip(table["coder"], table["codings"])) == {"anna": 2, "ben": 2}
    at.toggle(key="coders_blind").set_value(True).run()
    check(at)
    with Store.open(project) as s:
        assert reliability.blind_mode(s)
    assert any("Blind mode is **on**" in c.value for c in at.caption)
    at.toggle(key="coders_blind").set_value(False).run()
    with Store.open(project) as s:
        assert not reliability.blind_mode(s)


def test_agreement_page_shows_table_and_adjudicates(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/agreement.py", coder="lead")
    table = _df(at, "kappa [95% CI]")
    assert list(table["code"]) == ["Practices/Breathing", "Environment/Room", "(all codes)"]
    with Store.open(project) as s:
        rep = reliability.agreement_report(s, ["anna", "ben"], n_boot=0)
    want = rep.codes[0].coded_units.kappa.value
    assert table["kappa [95% CI]"][0].startswith(f"{want:.2f}")
    # The queue shows the two disagreements; decide the first one.
    assert len(_df(at, "applied by")) == 2
    at.radio(key="ag_decision").set_value("both")
    at.text_area(key="ag_rationale").input("The breathing exercise is named.")
    at.button(key="ag_decide_submit").click().run()
    check(at)
    with Store.open(project) as s:
        ds = adjudicate.decisions(s)
        assert [(d.decision, d.rationale, d.adjudicator) for d in ds] == [("both", "The breathing exercise is named.", "lead")]
        assert len(coding.codings(s, coder="consensus")) == 1
    assert len(_df(at, "applied by")) == 1
    assert any("Decided" in x.value for x in at.success)


def test_agreement_page_rejects_a_decision_without_rationale(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/agreement.py", coder="lead")
    at.button(key="ag_decide_submit").click().run()
    assert any("rationale" in e.value for e in at.error)
    with Store.open(project) as s:
        assert adjudicate.decisions(s) == []


def test_agreement_page_records_a_round_and_copies_agreements(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/agreement.py", coder="lead")
    at.button(key="ag_record").click().run()
    check(at)
    at.button(key="ag_accept").click().run()
    check(at)
    with Store.open(project) as s:
        assert [(r.round, r.stage) for r in adjudicate.rounds(s)] == [(1, "before")]
        assert len(coding.codings(s, coder="consensus")) == 1
    assert len(_df(at, "stage")) == 1


def test_agreement_page_with_one_coder_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "one.db"
    with Store(path) as s:
        seg = make_corpus(s, SMALL)
        coding.apply_code(s, seg[("F1", "Q1", 0)], codebook.ensure_path(s, "X"), "anna")
    monkeypatch.setenv("THEMATIC_PROJECT", str(path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/agreement.py").run()
    check(at)
    assert any("two coders" in i.value for i in at.info)


def _df(at: AppTest, column: str):  # type: ignore[no-untyped-def]
    """The first table on the page with this column (AppTest does not expose dataframe keys)."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no table with a {column!r} column")



def test_agreement_page_compares_the_model_with_a_coder(open_page: Callable[..., AppTest], project: Path) -> None:
    with Store.open(project) as s:
        seg = s.query("SELECT id FROM segments ORDER BY id")
        room = codebook.find_code(s, "Environment/Room")
        assert room is not None
        coding.apply_code(s, seg[2][0], room.id, "anna", origin="suggestion")  # an accepted proposal
    at = open_page("views/agreement.py", coder="lead")
    before = len(at.dataframe)
    at.selectbox(key="ag_machine_coder").set_value("ben").run()
    check(at)
    assert len(at.dataframe) == before + 1
    machine = _df(at, "applied by machine")
    with Store.open(project) as s:
        rep = reliability.machine_agreement(s, "ben", n_boot=0)
    assert list(machine["code"]) == [c.path for c in rep.codes] + ["(all codes)"]


def test_agreement_page_withdraws_a_decision(open_page: Callable[..., AppTest], project: Path) -> None:
    with Store.open(project) as s:
        d = adjudicate.disagreements(s, "anna", "ben")[0]
        dec = adjudicate.decide(s, d.segment_id, d.code_id, "anna", "ben", "keep_a", "first reading")
    at = open_page("views/agreement.py", coder="lead")
    at.selectbox(key="ag_revoke_pick").set_value(dec.id).run()
    at.button(key="ag_revoke").click().run()
    check(at)
    with Store.open(project) as s:
        assert adjudicate.decisions(s) == []
        assert coding.codings(s, coder="consensus") == []


def test_disagreement_queue_follows_only_forms_every_coder_has_coded(open_page: Callable[..., AppTest],
                                                                     project: Path) -> None:
    """ben has coded only F1; with the toggle on, anna's coding in F2 is not a disagreement (the table said 24
    segments while the queue listed every disagreement of the project)."""
    at = open_page("views/agreement.py", coder="lead")
    assert len(_df(at, "applied by")) == 2
    at.toggle(key="ag_common").set_value(True).run()
    check(at)
    queue = _df(at, "applied by")
    assert list(queue["form"]) == ["F1"] and list(queue["code"]) == ["Environment/Room"]
    assert any("1 open disagreement between anna and ben" in c.value and "1 more in forms only one of them" in c.value
               for c in at.caption)
