"""Coding surfaces through AppTest: review extracts (search, uncode, recode, quote), highlight-to-code's buttons,
and the code picker's new-code entries. The browser tests (tests/e2e/test_highlight_*.py) drive the mouse and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from thematic import codebook, coding  # noqa: E402
from thematic.store import Store  # noqa: E402

from .apptest import check, open_app  # noqa: E402
from .helpers import SMALL, make_corpus  # noqa: E402


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "coding.db"
    with Store(path) as s:
        seg = make_corpus(s, SMALL)
        theme = codebook.add_code(s, "Practices")
        sub = codebook.add_code(s, "Breathing", parent_id=theme)
        codebook.add_code(s, "Calm")
        coding.apply_code(s, seg[("F1", "Q1", 1)], sub, "anna")
        coding.apply_code(s, seg[("F2", "Q1", 0)], sub, "anna")
    monkeypatch.setenv("THEMATIC_PROJECT", str(path))
    monkeypatch.setenv("THEMATIC_FAKE_EMBEDDER", "1")
    yield path


def _ids(path: Path) -> dict[str, int]:
    with Store.open(path) as s:
        return {c.name: c.id for c in codebook.list_codes(s)}


def _seg(path: Path, text: str) -> int:
    with Store.open(path) as s:
        return int(s.scalar("SELECT id FROM segments WHERE text = ?", (text,)))


def _review(path: Path) -> AppTest:
    at = open_app("views/review.py", coder="anna")
    at.selectbox(key="rv_code").set_value(_ids(path)["Practices"]).run()
    return check(at)


def test_review_search_reaches_every_extract_and_shows_its_answer(project: Path) -> None:
    at = _review(project)
    at.text_input(key="rv_search").input("soothing").run()
    check(at)
    shown = " ".join(m.value for m in at.markdown)
    assert "<mark>Soothing rhythm breathing was calming.</mark>" in shown
    assert "<mark>Loved the breathing.</mark>" not in shown
    assert any("profession: Doctor" in c.value for c in at.caption)  # the form's metadata


def test_review_uncode_recode_and_quote(project: Path) -> None:
    ids = _ids(project)
    loved, soothing = _seg(project, "Loved the breathing."), _seg(project, "Soothing rhythm breathing was calming.")
    at = _review(project)
    at.button(key=f"rv_quote_{loved}").click().run()
    check(at)
    at.selectbox(key=f"rv_recode_to_{soothing}_{ids['Breathing']}").set_value(ids["Calm"])
    at.button(key=f"rv_recode_{soothing}_{ids['Breathing']}").click().run()
    check(at)
    at.button(key=f"rv_uncode_{loved}_{ids['Breathing']}").click().run()
    check(at)
    with Store.open(project) as s:
        assert codebook.quotes(s, ids["Practices"]) == [loved]
        got = sorted((c.segment_id, c.code_id) for c in coding.codings(s, coder="anna"))
        assert got == [(soothing, ids["Calm"])]
        assert s.undoable().summary.startswith("Uncode")  # type: ignore[union-attr]


def test_recode_without_a_target_says_so_and_changes_nothing(project: Path) -> None:
    ids = _ids(project)
    soothing = _seg(project, "Soothing rhythm breathing was calming.")
    at = _review(project)
    at.button(key=f"rv_recode_{soothing}_{ids['Breathing']}").click().run()
    assert any("Choose the code to recode it to" in e.value for e in at.error)
    with Store.open(project) as s:
        assert len(coding.codings(s, coder="anna")) == 2


def test_highlight_buttons_code_the_selection_with_an_existing_new_or_in_vivo_code(project: Path) -> None:
    ids = _ids(project)
    at = open_app("views/initial_codes.py", coder="bea")
    at.session_state["ic_mode"] = "highlight"
    at.run()
    check(at)
    with Store.open(project) as s:
        aid, text = s.query_one("SELECT id, text FROM answers ORDER BY id LIMIT 1")
    start = text.index("three circles")
    sel = {"answer": aid, "start": start, "end": start + len("three circles"), "text": "three circles"}
    at.session_state["hl_sel"] = sel
    at.run()
    at.selectbox(key="hl_code").set_value(ids["Calm"])
    at.button(key="hl_apply").click().run()
    check(at)
    at.session_state["hl_sel"] = sel
    at.run()
    at.button(key="hl_invivo").click().run()
    check(at)
    at.session_state["hl_sel"] = {**sel, "end": start + len("three")}
    at.run()
    at.text_input(key="hl_new").input("Models")
    at.button(key="hl_new_go").click().run()
    check(at)
    with Store.open(project) as s:
        rows = s.query(
            'SELECT s.start, s."end", s.by_person, k.name FROM codings c JOIN segments s ON s.id = c.segment_id '
            "JOIN codes k ON k.id = c.code_id JOIN coders d ON d.id = c.coder_id WHERE d.name = 'bea' ORDER BY c.id"
        )
    assert [tuple(r) for r in rows] == [
        (start, start + 13, 1, "Calm"), (start, start + 13, 1, "three circles"), (start, start + 5, 1, "Models"),
    ]


def test_picker_new_code_entry_creates_the_code(project: Path) -> None:
    from ui.components.code_picker import NEW_PREFIX

    at = open_app("views/initial_codes.py", coder="bea")
    at.session_state["ic_picked"] = [NEW_PREFIX + "Setting/Room"]
    at.button(key="ic_apply").click().run()
    check(at)
    with Store.open(project) as s:
        room = codebook.find_code(s, "Setting/Room")
        assert room is not None
        assert [c.code_id for c in coding.codings(s, coder="bea")] == [room.id]
