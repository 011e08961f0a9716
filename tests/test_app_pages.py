"""AppTest for every page of the workbench: each loads without an exception, and one key interaction per page
changes the project as it should (checked in the project file, not in the page)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
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
    at = open_page("views/project.py", coder="anna")
    assert any("Undo would revert" in c.value and "Environment" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="sidebar_undo").click().run()
    check(at)
    with Store.open(project) as s:
        assert coding.code_counts(s)[codebook.find_code(s, "Environment").id] == (0, 0)  # type: ignore[union-attr]
    # AppTest (1.67) drops the sidebar from the tree on reruns of an st.navigation app: redo from a fresh session.
    at = open_page("views/project.py", coder="anna")
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
    assert "A path on this computer" not in at.radio(key="project_source").options  # no typed server paths
    at.file_uploader(key="project_upload").set_value(("more.csv", csv.read_bytes(), "text/csv")).run()
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
    at.checkbox(key=f"df_quote_{theme.id}_{breathing[1].id}").check()
    at.button(key="df_save_quotes").click().run()
    check(at)
    with Store.open(project) as s:
        code = codebook.get_code(s, theme.id)
        assert (code.definition, code.excludes) == ("Exercises practised on the day.", "Theory without practice.")
        assert codebook.quotes(s, theme.id) == [breathing[1].id]
    # a second quote follows the first; unticking the first keeps only the second
    at.checkbox(key=f"df_quote_{theme.id}_{breathing[0].id}").check()
    at.button(key="df_save_quotes").click().run()
    with Store.open(project) as s:
        assert codebook.quotes(s, theme.id) == [breathing[1].id, breathing[0].id]
    at.checkbox(key=f"df_quote_{theme.id}_{breathing[1].id}").uncheck()
    at.button(key="df_save_quotes").click().run()
    check(at)
    with Store.open(project) as s:
        assert codebook.quotes(s, theme.id) == [breathing[0].id]


def test_define_finds_quotes_among_all_coded_extracts_by_words(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Quotes were offered from the first 60 coded segments only; a search reaches every one."""
    path = tmp_path / "many.db"
    forms = [(f"F{i:03d}", {}, {"Q1": [f"Answer number {i} about the course."]}) for i in range(80)]
    forms.append(("F999", {}, {"Q1": ["The zebra crossing outside was dangerous."]}))
    with Store(path) as s:
        seg = make_corpus(s, forms, questions=("Q1",))
        theme = codebook.add_code(s, "Everything")
        coding.apply_code_many(s, sorted(seg.values()), theme, "anna")
        zebra = seg[("F999", "Q1", 0)]
    monkeypatch.setenv("THEMATIC_PROJECT", str(path))
    at = open_app("views/define.py")
    at.selectbox(key="df_code").set_value(theme).run()
    assert not [c for c in at.checkbox if c.key == f"df_quote_{theme}_{zebra}"]  # beyond the first 60
    at.text_input(key=f"df_quote_search_{theme}").input("zebra").run()
    at.checkbox(key=f"df_quote_{theme}_{zebra}").check()
    at.button(key="df_save_quotes").click().run()
    check(at)
    with Store.open(path) as s:
        assert codebook.quotes(s, theme) == [zebra]


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


def test_qdpx_download_counts_positions_for_the_program_chosen(open_page: Callable[..., AppTest], project: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """QualCoder counts positions in characters, NVivo/ATLAS.ti/MAXQDA in UTF-16 units: the page asks which."""
    from ui import downloads

    built: dict[str, dict[str, object]] = {}
    real = downloads.deferred

    def spy(store: Store, fmt: str, options: dict[str, object], actor: str | None):  # type: ignore[no-untyped-def]
        built[fmt] = dict(options)
        return real(store, fmt, options, actor)

    monkeypatch.setattr(downloads, "deferred", spy)
    at = open_page("views/report.py")
    at.session_state["rp_tab"] = "Downloads"
    at.run()
    check(at)
    assert built["qdpx"]["offsets"] == "utf16" and "offsets" not in built["svg"]
    at.selectbox(key="rp_qdpx_for").select("QualCoder").run()
    check(at)
    assert built["qdpx"]["offsets"] == "codepoints"


def test_each_download_has_its_own_file_name(project: Path) -> None:
    """The two CSV downloads (coded extracts, codings per coder) were both saved as '<title>.csv'."""
    from thematic import export

    from ui import downloads

    with Store.open(project) as s:
        names = {fmt: downloads.file_name(s, fmt) for fmt in export.FORMATS}
    assert len(set(names.values())) == len(names), names
    for fmt, name in names.items():
        assert name.endswith(export.FORMATS[fmt].extension), (fmt, name)
    assert names["csv"] == "test_study_extracts.csv" and names["codings-csv"] == "test_study_codings.csv"
    assert names["docx"] == "test_study.docx"


def test_audit_lists_events_and_undo_reverts(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/audit.py", coder="anna")
    check(at)
    df = at.dataframe[0].value
    assert "Code segment" in " ".join(df["what"]) and len(df) >= 5
    at.button(key="audit_undo").click().run()
    check(at)
    with Store.open(project) as s:
        env = codebook.find_code(s, "Environment")
        assert env is not None and coding.codings(s, code_id=env.id) == []
    assert any("Undone" in m.value for m in at.info)


def _colleague_codes_last(project: Path) -> tuple[int, int]:
    """bea codes a segment, then anna codes another (the newest change); returns (bea's, anna's) code ids."""
    with Store.open(project) as s:
        seg = corpus.segments(s)
        mine = codebook.add_code(s, "Bea's code", actor="bea")
        coding.apply_code(s, seg[4].id, mine, "bea")
        theirs = codebook.find_code(s, "Environment")
        assert theirs is not None
        coding.apply_code(s, seg[5].id, theirs.id, "anna")
        return mine, theirs.id


def test_sidebar_undo_never_reverts_a_colleagues_change(open_page: Callable[..., AppTest], project: Path) -> None:
    mine, theirs = _colleague_codes_last(project)
    at = open_page("views/project.py", coder="bea")
    undo_button = next(b for b in at.sidebar.button if b.key == "sidebar_undo")
    with Store.open(project) as s:
        before = len(coding.codings(s, code_id=theirs))
    # the sidebar names bea's own newest change, not anna's newer one, and reverts it
    assert "Code segment" in (undo_button.help or "") and "Bea's code" in (undo_button.help or "")
    undo_button.click().run()
    check(at)
    with Store.open(project) as s:
        assert coding.codings(s, code_id=mine) == []
    with Store.open(project) as s:
        assert len(coding.codings(s, code_id=theirs)) == before  # anna's change stands


def test_audit_page_undoes_any_change_only_after_confirmation(open_page: Callable[..., AppTest],
                                                               project: Path) -> None:
    _, theirs = _colleague_codes_last(project)
    at = open_page("views/audit.py", coder="lead")
    assert at.button(key="audit_undo_all").disabled
    assert any("by **anna**" in c.value for c in at.caption)
    at.checkbox(key="audit_undo_all_confirm").check().run()
    at.button(key="audit_undo_all").click().run()
    check(at)
    with Store.open(project) as s:
        assert len(coding.codings(s, code_id=theirs)) == 1  # anna's newest coding was reverted
        assert s.audit_log(limit=1)[0].actor == "lead"
    assert at.button(key="audit_undo_all").disabled  # the confirmation is asked again for the next one
    assert at.checkbox(key="audit_undo_all_confirm").value is False


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


def test_project_switches_to_a_new_project_by_name(open_page: Callable[..., AppTest], tmp_path: Path) -> None:
    at = open_page("views/project.py")
    assert at.query_params["project"] == "study"  # the address names the open project
    at.text_input(key="project_new_name").input("second")
    at.button(key="project_create").click().run()
    check(at)
    other = tmp_path / "second.db"
    assert other.exists() and at.session_state["project_name"] == "second"
    assert at.query_params["project"] == "second"
    assert any("Created 'second'" in s.value for s in at.success)
    assert [m.value for m in at.metric][:1] == ["0"]
    # nothing of the previous project is shown (or saved) in the new one's widgets
    assert at.text_input(key="project_title").value == ""
    at.button(key="project_title_save").click().run()
    with Store.open(other) as s:
        assert s.get_setting("title") in (None, "")


def test_a_path_typed_as_a_project_name_is_refused(open_page: Callable[..., AppTest], tmp_path: Path) -> None:
    at = open_page("views/project.py")
    outside = tmp_path / "elsewhere" / "x.db"
    at.text_input(key="project_new_name").input(str(outside))
    at.button(key="project_create").click().run()
    assert not at.exception
    assert any("folder separator" in e.value for e in at.error)
    assert not outside.exists() and not outside.parent.exists()
    assert at.query_params["project"] == "study"


def test_the_address_keeps_the_project_across_a_new_session(open_page: Callable[..., AppTest],
                                                            tmp_path: Path) -> None:
    """A reload is a new session with the same address: it must open the project the address names, and a name
    that is not a project is an error line, never a silent switch to another project."""
    from thematic import projects

    projects.create(tmp_path, "second", title="Second study")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["project"] = "second"
    at.run()
    check(at)
    assert at.session_state["project_name"] == "second"
    assert any("Second study" in c.value for c in at.sidebar.caption)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["project"] = "missing"
    at.run()
    assert not at.exception
    assert any("Cannot open the project 'missing'" in e.value for e in at.error)
    assert not (tmp_path / "missing.db").exists()


def test_an_uploaded_project_file_is_checked_then_opened(open_page: Callable[..., AppTest], tmp_path: Path,
                                                         project: Path) -> None:
    at = open_page("views/project.py")
    at.file_uploader(key="project_db_upload").set_value(
        ("notes.db", b"SQLite format 3\x00" + b"\x00" * 200, "application/octet-stream")).run()
    at.button(key="project_db_add").click().run()
    assert not at.exception
    assert at.error and "notes.db" not in {p.name for p in tmp_path.iterdir()}
    assert at.query_params["project"] == "study"
    # a real project (a colleague's copy of this one) lands under a new name and is opened
    with Store.open(project) as s:
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    at = open_page("views/project.py")
    at.file_uploader(key="project_db_upload").set_value(
        ("Study copy.db", project.read_bytes(), "application/octet-stream")).run()
    assert at.text_input(key="project_db_name").value == "Study copy"
    at.button(key="project_db_add").click().run()
    check(at)
    assert at.query_params["project"] == "Study copy"
    with Store.open(tmp_path / "Study copy.db") as s:
        assert s.get_setting("title") == "Test study"


def test_themes_clusters_then_accepts_a_candidate_under_a_theme(
    open_page: Callable[..., AppTest], project: Path
) -> None:
    from thematic import cluster

    at = open_page("views/themes.py", coder="cara")
    assert any("No clustering run yet" in i.value for i in at.info)
    at.toggle(key="cl_bertopic").set_value(False)  # the same steps without BERTopic's import time
    at.button(key="cl_run").click().run()
    check(at)
    with Store.open(project) as s:
        # one clustering at a time: while the background job runs, the button is disabled (a 6-segment job may
        # already have finished by the time the rerun is drawn)
        assert at.button(key="cl_run").disabled or cluster.latest_run(s) is not None
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
        if any(first.label in m.value for m in at.markdown):
            break
        time.sleep(0.1)
    # The new run's candidates are shown (with "Clustered 6 segments ..." when the poller saw the job finish; a
    # job that ended before the page was drawn again is simply selected)
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
    at.text_input(key="project_new_name").input("fresh")
    at.button(key="project_create").click().run()
    assert not at.exception and not at.error
    assert (tmp_path / "fresh.db").exists() and bad.read_text(encoding="utf-8") == "not a database"


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


def test_queries_page_kwic_crosstab_and_cooccurrence(open_page: Callable[..., AppTest], project: Path) -> None:
    at = open_page("views/queries.py", strict=True)
    at.text_input(key="qy_words").input("breathing").run()
    check(at)
    kwic = at.dataframe[0].value
    # "Loved the breathing." (F1) and "Soothing rhythm breathing was calming." (F2)
    assert list(kwic["respondent"]) == ["F1", "F2"] and list(kwic["match"]) == ["breathing", "breathing"]
    assert any("2 occurrences in 2 answers" in c.value for c in at.caption)
    assert "qy_kwic_xlsx" in {b.key for b in at.get("download_button")}
    at.session_state["qy_tab"] = "Codes by respondent group"
    at.run()
    check(at)
    at.selectbox(key="qy_field").set_value("profession").run()
    table = at.dataframe[0].value
    # Breathing: F1 (Nurse) and F2 (Doctor); Environment: F1 (Nurse); the theme Practices rolls Breathing up
    assert list(table.columns) == ["Nurse", "Doctor", "Total"]
    assert table.loc["1 Practices"].tolist() == [1, 1, 2] and table.loc["2 Environment"].tolist() == [1, 0, 1]
    at.radio(key="qy_show").set_value("Column %").run()
    assert at.dataframe[0].value.loc["2 Environment"].tolist() == [50.0, 0.0]
    at.session_state["qy_tab"] = "Co-occurrence"
    at.run()
    check(at)
    cooc = at.dataframe[0].value
    assert cooc.loc["1 Practices", "2"] == 0 and cooc.loc["1.1 Breathing", "1.1"] == 2
    assert pd.isna(cooc.loc["1 Practices", "1.1"])  # a theme and its own subcode are not compared


def test_projects_folder_and_default_name_from_the_environment(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "evaluations"
    from thematic import projects

    projects.create(folder, "ward-3", title="Ward 3")
    monkeypatch.setenv("THEMATIC_PROJECTS", str(folder))
    monkeypatch.setenv("THEMATIC_PROJECT", "ward-3")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    check(at)
    assert at.query_params["project"] == "ward-3"
    assert at.selectbox(key="project_target").options == ["ward-3"]
    assert any("Ward 3" in c.value for c in at.sidebar.caption)


def test_define_does_not_show_the_clustering_note_as_a_definition(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_cluster import corpus as cluster_corpus
    from thematic import cluster as cl
    from thematic.embed import HashingEmbedder

    path = tmp_path / "clustered.db"
    monkeypatch.setenv("THEMATIC_PROJECT", str(path))
    with Store(path) as s:
        cluster_corpus(s, 30)
        run = cl.propose(s, seed=5, embedder=HashingEmbedder(dim=128), params={"n_candidates": 4}, actor="anna")
        cand = next(c for c in cl.candidates(s, run.id) if c.level == 1 and not c.unclustered)
        code_id = cl.accept_candidate(s, cand.id, coder="anna", name="From the machine")
        machine_text = codebook.get_code(s, code_id).definition
    at = open_app("views/define.py")
    at.selectbox(key="df_code").set_value(code_id).run()
    check(at)
    if machine_text:  # a store where accepting still writes the clustering note into the definition
        assert at.text_area(key=f"df_definition_{code_id}").value == ""
        assert any("Not a definition yet" in c.value for c in at.caption)
    assert "no definition yet" in at.selectbox(key="df_code").format_func(code_id)
    at.text_area(key=f"df_definition_{code_id}").input("What staff said about the course.")
    at.button(key="df_save").click().run()
    check(at)
    assert "no definition yet" not in at.selectbox(key="df_code").format_func(code_id)
