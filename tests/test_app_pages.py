"""AppTest for every page of the workbench: each loads without an exception, and one key interaction per page
changes the project as it should (checked in the project file, not in the page)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from thematic import codebook, coding, corpus, memos  # noqa: E402
from thematic.store import Store  # noqa: E402

from .apptest import APP, TIMEOUT, check, open_app  # noqa: E402
from .helpers import SMALL, make_corpus  # noqa: E402



@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A small project file (3 forms, 6 segments, a theme with a subtheme, a few codings) opened by the app."""
    path = tmp_path / "study.db"
    with Store(path) as s:
        seg = make_corpus(s, SMALL)
        s.set_setting("title", "Test study")
        theme = codebook.add_code(s, "Practices")
        sub = codebook.add_code(s, "Breathing", parent_id=theme)
        env = codebook.add_code(s, "Environment")
        coding.apply_code(s, seg[("F1", "Q1", 1)], sub, "anna")
        coding.apply_code(s, seg[("F2", "Q1", 0)], sub, "anna")
        coding.apply_code(s, seg[("F1", "Q2", 0)], env, "anna")
    monkeypatch.setenv("THEMATIC_PROJECT", str(path))
    monkeypatch.setenv("THEMATIC_FAKE_EMBEDDER", "1")
    yield path


@pytest.fixture
def open_page(project: Path) -> Callable[..., AppTest]:
    def run(page: str, **state: object) -> AppTest:
        return open_app(page, **state)

    return run



def test_sidebar_names_the_change_undo_reverts(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/project.py")
    assert any("Undo would revert" in c.value and "Environment" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="sidebar_undo").click().run()
    check(at)
    with Store.open(project) as s:
        assert coding.code_counts(s)[codebook.find_code(s, "Environment").id] == (0, 0)  # type: ignore[union-attr]
    # AppTest (1.67) drops the sidebar from the tree on reruns of an st.navigation app: redo from a fresh session.
    at = open_page("views/project.py")
    assert any("Redo: Code segment" in (b.help or "") for b in at.sidebar.button if b.key == "sidebar_redo")
    at.sidebar.button(key="sidebar_redo").click().run()
    check(at)
    with Store.open(project) as s:
        assert coding.code_counts(s)[codebook.find_code(s, "Environment").id] == (1, 1)  # type: ignore[union-attr]


def test_project_imports_a_csv_after_preview(open_page: Callable[..., AppTest], project: Path, tmp_path: Path) -> None:
    csv = tmp_path / "more.csv"
    csv.write_text(
        "ID,Profession,What interested you most?\n"
        "F10,Nurse,The compassionate self exercise. It helped.\n"
        "F11,Doctor,N/A\n"
        "F12,Porter,Being listened to.\n",
        encoding="utf-8",
    )
    at = open_page("views/project.py")
    at.radio(key="project_source").set_value("A path on this computer").run()
    at.text_input(key="project_file_path").input(str(csv)).run()
    check(at)
    editor = [d for d in at.dataframe if (d.key or "").startswith("project_roles_")]
    assert editor, "the guessed column roles are shown (and editable) before anything is written"
    at.button(key="project_check").click().run()
    check(at)
    assert any("3 forms" in i.value for i in at.info)
    with Store.open(project) as s:
        assert s.counts()["forms"] == 3  # the check wrote nothing
    at.button(key="project_import").click().run()
    check(at)
    with Store.open(project) as s:
        assert s.counts()["forms"] == 6
        assert "F12" in {f.external_id for f in corpus.forms(s)}
    assert any("imported more.csv" in m.value for m in at.success)
    assert any(re.search(r"forms added\s+3\b", c.value) and re.search(r"blank answers\s+1\b", c.value) for c in at.code)


def test_familiarise_adds_a_journal_entry(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/familiarise.py", coder="anna")
    assert any("Loved the breathing." in m.value for m in at.markdown)
    at.text_input(key="fam_search").input('"rhythm breathing"').run()
    check(at)
    shown = [m.value for m in at.tabs[0].markdown if "breathing" in m.value]
    assert shown == ["Soothing rhythm breathing was calming."]
    at.session_state["fam_tab"] = "Journal and notes"
    at.run()
    at.selectbox(key="fam_journal_phase").set_value(1)
    at.text_area(key="fam_journal_body").input("Staff keep mentioning the room.")
    at.button(key="fam_journal_add").click().run()
    check(at)
    with Store.open(project) as s:
        entries = memos.memos(s, phase=1)
    assert [(m.body, m.coder) for m in entries] == [("Staff keep mentioning the room.", "anna")]


def test_initial_codes_applies_and_creates_codes(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/initial_codes.py", coder="ben")
    assert any("<mark>The three circles made sense.</mark>" in m.value for m in at.markdown)
    at.session_state["ic_picked"] = ["Practices/Breathing", "Models/Three circles"]  # what the code picker chose
    at.button(key="ic_apply_next").click().run()
    check(at)
    with Store.open(project) as s:
        first = corpus.segments(s, limit=1)[0]
        mine = {codebook.get_code(s, c.code_id).path_str for c in coding.codings(s, coder="ben")}
        assert mine == {"Practices/Breathing", "Models/Three circles"}
        assert {c.segment_id for c in coding.codings(s, coder="ben")} == {first.id}
        assert s.undoable().summary.startswith(f"Code segment {first.id}")  # type: ignore[union-attr]
    assert at.session_state["ic_pos"] == 1
    assert any("<mark>Loved the breathing.</mark>" in m.value for m in at.markdown)


def test_initial_codes_uncoded_only_and_suggestion_accept(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/initial_codes.py", coder="anna")
    at.toggle(key="ic_uncoded").set_value(True).run()
    check(at)
    with Store.open(project) as s:
        seg = corpus.segments(s, coded=False, coder="anna", limit=1)[0]
    assert any(f"<mark>{seg.text}</mark>" in m.value for m in at.markdown)
    at.button(key="ic_sugg_accept_0").click().run()
    check(at)
    with Store.open(project) as s:
        got = [c for c in coding.codings(s, coder="anna") if c.segment_id == seg.id]
    assert [c.origin for c in got] == ["suggestion"]


def test_review_shows_extracts_and_warnings(open_page: Callable[..., AppTest]) -> None:
    at = open_page("views/review.py")
    check(at)
    assert at.selectbox(key="rv_code").value is not None
    shown = " ".join(m.value for m in at.markdown)  # each extract inside its whole answer, marked
    assert "<mark>Loved the breathing.</mark>" in shown and "<mark>Soothing rhythm breathing was calming.</mark>" in shown
    assert not at.warning  # only the open tab (Extracts) does its work
    at.session_state["rv_tab"] = "Warnings"
    at.run()
    check(at)
    assert any("Environment" in w.value and "thin" in w.value for w in at.warning)


def test_define_saves_definition_and_quotes(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/define.py")
    with Store.open(project) as s:
        theme = codebook.find_code(s, "Practices")
        assert theme is not None
        breathing = corpus.segments(s, code_id=theme.id)
    at.selectbox(key="df_code").set_value(theme.id).run()
    at.text_area(key=f"df_definition_{theme.id}").input("Exercises practised on the day.")
    at.text_area(key=f"df_excludes_{theme.id}").input("Theory without practice.")
    at.button(key="df_save").click().run()
    check(at)
    at.multiselect(key=f"df_quotes_{theme.id}").set_value([breathing[1].id])
    at.button(key="df_save_quotes").click().run()
    check(at)
    with Store.open(project) as s:
        code = codebook.get_code(s, theme.id)
        assert (code.definition, code.excludes) == ("Exercises practised on the day.", "Theory without practice.")
        assert codebook.quotes(s, theme.id) == [breathing[1].id]


def test_report_previews_svg_and_offers_every_format(open_page: Callable[..., AppTest], project: Path) -> None:
    from thematic import export

    from ui import downloads

    at = open_page("views/report.py")
    check(at)
    images = at.get("image")
    assert images, "the theme tree is shown inline"
    at.session_state["rp_tab"] = "Downloads"
    at.run()
    check(at)
    keys = {b.key for b in at.get("download_button")}
    assert {f"rp_download_{name}" for name in export.FORMATS} <= keys
    with Store.open(project) as s:
        data = downloads.build(s, "svg", {"counts": "respondents", "depth": 2}, actor="anna")
        assert data.lstrip().startswith(b"<") and b"<svg" in data and b"Practices" in data
        assert s.audit_log(limit=1)[0].action == "export.svg"


def test_audit_lists_events_and_undo_reverts(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/audit.py")
    check(at)
    df = at.dataframe[0].value
    assert "Code segment" in " ".join(df["what"]) and len(df) >= 5
    at.button(key="audit_undo").click().run()
    check(at)
    with Store.open(project) as s:
        env = codebook.find_code(s, "Environment")
        assert env is not None and coding.codings(s, code_id=env.id) == []
    assert any("Undone" in m.value for m in at.success)


def test_initial_codes_blind_mode_hides_other_coders(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/initial_codes.py", coder="ben", ic_pos=1)
    assert any("Other coders: anna: Practices/Breathing" in c.value for c in at.caption)
    with Store.open(project) as s:
        from thematic import reliability

        reliability.set_blind_mode(s, True)
    at.run()
    check(at)
    assert "<mark>Loved the breathing.</mark>" in " ".join(m.value for m in at.markdown)
    assert not any("Other coders" in c.value for c in at.caption)


def test_themes_tree_create_theme_and_move_a_code(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/themes.py", th_tab="Arrange the theme tree")
    assert any("**Practices**" in m.value for m in at.markdown)
    at.text_input(key="tree_new_name").input("Setting")
    at.button(key="tree_create").click().run()
    check(at)
    with Store.open(project) as s:
        setting, env = codebook.find_code(s, "Setting"), codebook.find_code(s, "Environment")
    assert setting is not None and env is not None
    at.selectbox(key="tree_code").set_value(env.id)
    at.selectbox(key="tree_parent").set_value(setting.id)
    at.button(key="tree_move").click().run()
    check(at)
    with Store.open(project) as s:
        assert codebook.find_code(s, "Setting/Environment") is not None
        assert coding.code_counts(s)[setting.id] == (1, 1)  # the theme now holds its code's extract
    assert any("Setting" in m.value and "Environment" in m.value for m in at.markdown)


def test_project_switches_to_a_new_file(open_page: Callable[..., AppTest], tmp_path: Path) -> None:
    at = open_page("views/project.py")
    other = tmp_path / "second.db"
    at.text_input(key="project_new_path").input(str(other))
    at.button(key="project_open").click().run()
    check(at)
    assert other.exists() and at.session_state["project_path"] == str(other.resolve())
    assert any(f"Created {other}" in s.value for s in at.success)
    assert [m.value for m in at.metric][:1] == ["0"]


def test_themes_clusters_then_accepts_a_candidate_under_a_theme(
    open_page: Callable[..., AppTest], project: Path
) -> None:
    from thematic import cluster

    at = open_page("views/themes.py", coder="cara")
    assert any("No clustering run yet" in i.value for i in at.info)
    at.toggle(key="cl_bertopic").set_value(False)  # the same steps without BERTopic's import time
    at.button(key="cl_run").click().run()
    check(at)
    assert at.button(key="cl_run").disabled  # one clustering at a time; it runs in the background
    with Store.open(project) as s:
        deadline = time.monotonic() + 120
        while cluster.latest_run(s) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        run = cluster.latest_run(s)
        assert run is not None and run.n_segments == 6
        first = [c for c in cluster.candidates(s, run.id) if c.level == 1][0]
        practices = codebook.find_code(s, "Practices")
        assert practices is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the page's poller notices the finished job and reruns with its candidates
        at.run()
        check(at)
        if any("Clustered 6 segments" in m.value for m in at.success):
            break
        time.sleep(0.1)
    assert any("Clustered 6 segments" in m.value for m in at.success)
    assert any(first.label in m.value for m in at.markdown)
    at.selectbox(key=f"cl_parent_{first.id}").set_value(practices.id)
    at.text_input(key=f"cl_name_{first.id}").input("Exercises")
    at.button(key=f"cl_accept_{first.id}").click().run()  # opens the review of its segments
    at.button(key=f"cl_confirm_{first.id}").click().run()
    check(at)
    with Store.open(project) as s:
        code = codebook.find_code(s, "Practices/Exercises")
        assert code is not None
        got = coding.codings(s, coder="cara", code_id=code.id)
        assert len(got) == first.size and {c.origin for c in got} == {"cluster"}
        assert cluster.get_candidate(s, first.id).status == "accepted"


def test_initial_codes_panel_undo_names_and_reverts_the_last_coding(
    open_page: Callable[..., AppTest], project: Path
) -> None:
    at = open_page("views/initial_codes.py", coder="anna")
    at.session_state["ic_picked"] = ["Environment"]  # what the code picker chose
    at.button(key="ic_apply").click().run()
    check(at)
    undo = at.button(key="ic_undo")
    assert "Code segment" in undo.label
    with Store.open(project) as s:
        env = codebook.find_code(s, "Environment")
        assert env is not None and len(coding.codings(s, code_id=env.id)) == 2
    undo.click().run()
    check(at)
    with Store.open(project) as s:
        assert len(coding.codings(s, code_id=env.id)) == 1


def test_a_file_that_is_not_a_project_is_one_error_line_and_another_can_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("not a database", encoding="utf-8")
    monkeypatch.setenv("THEMATIC_PROJECT", str(bad))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("not a thematic project" in e.value for e in at.error)
    at.switch_page("views/review.py").run()
    assert not at.exception and any("Cannot open the project" in e.value for e in at.error)
    at.switch_page("views/project.py").run()
    good = tmp_path / "fresh.db"
    at.text_input(key="project_new_path").input(str(good))
    at.button(key="project_open").click().run()
    assert not at.exception and not at.error
    assert good.exists() and bad.read_text(encoding="utf-8") == "not a database"


def test_sidebar_journal_entry_from_any_page(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/project.py", coder="anna")
    assert at.sidebar.selectbox(key="journal_phase").value == 1  # the Project page is not a phase: phase 1
    at.sidebar.selectbox(key="journal_phase").set_value(3)
    at.sidebar.text_area(key="journal_body").input("Two candidates look like one theme.")
    at.sidebar.button(key="journal_save").click().run()
    check(at)
    with Store.open(project) as s:
        assert [(m.phase, m.body, m.coder) for m in memos.memos(s)] == [(3, "Two candidates look like one theme.", "anna")]


def test_project_imports_a_shipped_codebook(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/project.py", coder="anna")
    files = at.selectbox(key="project_cb_file").options
    pick = next(o for o in files if "cmt_for_all" in o)
    at.selectbox(key="project_cb_file").set_value(next(
        v for v in (Path(__file__).resolve().parents[1] / "codebooks").glob("*") if v.name in pick)).run()
    check(at)
    at.button(key="project_cb_import").click().run()
    check(at)
    assert any("new codes" in s.value for s in at.success)
    with Store.open(project) as s:
        assert len(codebook.list_codes(s)) > 3 + 10
        assert s.audit_log(limit=1)[0].action == "codebook.import"
