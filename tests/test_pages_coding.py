"""Coding surfaces through AppTest: review extracts (search, uncode, recode, quote), highlight-to-code's buttons,
and the code picker's new-code entries. The browser tests (tests/e2e/test_highlight_*.py) drive the mouse and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from thematic import codebook, coding
from thematic.store import Store

from .apptest import check, open_app
from .helpers import SMALL, make_corpus


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
    at.selectbox(key="rv_recode_to").set_value(ids["Calm"])
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


def _clustered(path: Path) -> tuple[int, list[int]]:
    """One clustering run on the small corpus (hashing embedder); the largest candidate's id and its members
    given fits 0.9, 0.8, ... with the last one a clear misfit (0.05)."""
    from thematic import cluster
    from thematic.embed import HashingEmbedder

    with Store.open(path) as s:
        run = cluster.propose(s, seed=3, embedder=HashingEmbedder(), params={"use_bertopic": False, "n_candidates": 2})
        leaves = [c for c in cluster.candidates(s, run.id) if c.level == 1 and not c.unclustered]
        big = max(leaves, key=lambda c: c.size)
        members = cluster.segment_ids(s, big.id)
        assert len(members) >= 3
        with s.action("test.fits", "Set fits") as act:
            for i, sid in enumerate(members):
                fit = 0.05 if i == len(members) - 1 else 0.9 - 0.1 * i
                act.execute("UPDATE cluster_members SET score = ? WHERE segment_id = ?", (fit, sid))
        return big.id, members


def test_accept_with_review_leaves_out_the_pre_unticked_misfit(project: Path) -> None:
    cid, members = _clustered(project)
    at = open_app("views/themes.py", coder="cara")
    check(at)
    assert not [b for b in at.button if b.key == f"cl_confirm_{cid}"]
    assert at.button(key=f"cl_reject_{cid}")  # rejecting needs no review
    at.button(key=f"cl_accept_{cid}").click().run()
    check(at)
    assert any("Review before accepting" in m.value for m in at.markdown)
    confirm = at.button(key=f"cl_confirm_{cid}")
    assert confirm.label == f"Accept, coding {len(members) - 1} of {len(members)} segments"
    at.text_input(key=f"cl_name_{cid}").input("Reviewed")
    at.button(key=f"cl_confirm_{cid}").click().run()
    check(at)
    with Store.open(project) as s:
        code = codebook.find_code(s, "Reviewed")
        assert code is not None
        coded = sorted(c.segment_id for c in coding.codings(s, coder="cara", code_id=code.id))
        assert coded == sorted(members[:-1])
        ev = s.undoable()
        assert ev is not None and "leaving out 1 segment" in ev.summary


def test_pre_ticked_threshold() -> None:
    from ui.cluster_panel import LOW_FIT, pre_ticked

    assert LOW_FIT == 0.30
    # the median of four is the lower middle one (0.29 here): only fits below both it and LOW_FIT start unticked
    assert pre_ticked([0.9, 0.8, 0.29, 0.1]) == [True, True, True, False]
    assert pre_ticked([0.9, 0.8, 0.2, 0.1, 0.05]) == [True, True, True, False, False]
    assert pre_ticked([0.28, 0.27, 0.26, 0.25]) == [True, True, True, False]  # never more than half
    assert pre_ticked([0.9, 0.5, 0.31]) == [True, True, True]
    assert pre_ticked([]) == []


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo project as the app's project (hashing embedder)."""
    from thematic.demo import create_demo_project

    path = create_demo_project(tmp_path / "demo.db")
    monkeypatch.setenv("THEMATIC_PROJECT", str(path))
    monkeypatch.setenv("THEMATIC_FAKE_EMBEDDER", "1")
    return path


def test_group_theme_cannot_take_the_name_of_one_of_its_candidates(demo: Path) -> None:
    from thematic import cluster
    from thematic.embed import HashingEmbedder

    path = demo
    with Store.open(path) as s:
        run = cluster.propose(s, seed=1, embedder=HashingEmbedder(), params={"use_bertopic": False, "n_candidates": 8})
        groups = [c for c in cluster.candidates(s, run.id) if c.level == 0 and c.children]
        assert groups
        g = groups[0]
        cluster.rename_candidate(s, g.children[0], g.label)
    at = open_app("views/themes.py", coder="cara")
    check(at)
    assert at.button(key=f"cl_accept_group_{g.id}").disabled
    assert any("also called" in w.value for w in at.warning)
    at.text_input(key=f"cl_group_name_{g.id}").input("A broader theme").run()
    assert not at.button(key=f"cl_accept_group_{g.id}").disabled
    at.button(key=f"cl_accept_group_{g.id}").click().run()  # opens the review of the group's segments
    check(at)
    at.button(key=f"cl_confirm_{g.id}").click().run()
    check(at)
    with Store.open(path) as s:
        theme = codebook.find_code(s, "A broader theme")
        assert theme is not None and theme.parent_id is None
        subs = [c.name for c in codebook.list_codes(s) if c.parent_id == theme.id]
        assert g.label in subs and "A broader theme" not in subs


def test_merge_with_nothing_chosen_says_what_to_do(project: Path) -> None:
    cid, members = _clustered(project)
    at = open_app("views/themes.py", coder="cara")
    check(at)
    assert not [b for b in at.button if b.key == f"cl_merge_{cid}"]  # the card's tools are drawn when opened
    at.session_state[f"cl_more_{cid}"] = True
    at.run()
    at.button(key=f"cl_merge_{cid}").click().run()
    assert any("Choose the candidates to merge into this one first" in e.value for e in at.error)
    with Store.open(project) as s:
        from thematic import cluster

        assert cluster.get_candidate(s, cid).status == "open"
        assert sorted(cluster.segment_ids(s, cid)) == sorted(members)


def test_highlighter_offsets_survive_characters_outside_the_bmp() -> None:
    from ui.components.highlighter import from_utf16, selection_in, to_utf16

    text = "Great 😀 day,\nthe breathing helped"
    start = text.index("breathing")
    js_start = start + 1  # the emoji is two UTF-16 code units in the browser
    assert to_utf16(text, start) == js_start
    assert from_utf16(text, js_start) == start
    sel = selection_in({"selection": {"answer": 7, "start": js_start, "end": js_start + 9}}, {7: text})
    assert sel == {"answer": 7, "start": start, "end": start + 9, "text": "breathing"}
    assert selection_in({"selection": {"answer": 8, "start": 0, "end": 3}}, {7: text}) is None


def _shown_segment(at: AppTest) -> int:
    cap = next(c.value for c in at.caption if " · id " in c.value)
    return int(cap.split(" · id ")[1].split(" ")[0])


def test_apply_and_next_with_nothing_picked_stays_and_says_so(project: Path) -> None:
    at = open_app("views/initial_codes.py", coder="bea")
    check(at)
    first = _shown_segment(at)
    at.button(key="ic_apply_next").click().run()
    check(at)
    assert _shown_segment(at) == first  # a pick that never reached the server must not look like a coded segment
    assert [w.value for w in at.warning] == ["Nothing picked: choose a code first, or use Next to skip."]
    at.button(key="ic_next").click().run()  # Next is the way to skip
    assert _shown_segment(at) != first
    assert not at.warning
    with Store.open(project) as s:
        assert coding.codings(s, coder="bea") == []


def test_a_pick_arriving_with_the_click_is_applied_once_to_the_segment_shown(project: Path) -> None:
    """The picker's new value and "Apply and next" in one rerun (a busy server coalesces them): the code is
    applied exactly once, to the segment on screen, and the next segment starts with nothing picked."""
    ids = _ids(project)
    at = open_app("views/initial_codes.py", coder="bea")
    first = _shown_segment(at)
    key = f"ic_codes_{first}_{int(at.session_state['ic_gen']) if 'ic_gen' in at.session_state else 0}"
    at.session_state[key] = {"chosen": ["Calm"]}  # the picker's state, its on_change not yet run
    at.button(key="ic_apply_next").click().run()
    check(at)
    second = _shown_segment(at)
    assert second != first
    at.button(key="ic_apply_next").click().run()  # nothing picked on the new segment: nothing carried over
    assert _shown_segment(at) == second
    with Store.open(project) as s:
        assert [(c.segment_id, c.code_id) for c in coding.codings(s, coder="bea")] == [(first, ids["Calm"])]


def test_sidebar_offers_nothing_to_undo_before_a_coder_has_done_anything(demo: Path) -> None:
    """The demo project's own set-up (its title, made by the unnamed analyst) is not this person's change."""
    with Store.open(demo) as s:
        assert s.undoable(coder="analyst") is not None  # there is an unnamed change the old sidebar offered
    at = open_app("views/project.py")
    check(at)
    assert not any("Undo would revert" in c.value for c in at.sidebar.caption)
    assert not [b for b in at.sidebar.button if b.key == "sidebar_undo" and not b.disabled]
    assert any("Nothing of yours to undo yet" in c.value for c in at.sidebar.caption)
