"""Word, Markdown and JSON reports: method from the audit trail, theme table, quotes, respondents."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from tests.test_export_tree import CMT, build_project
from thematic import export
from thematic.codebook import add_code, list_codes, move_code, set_quotes, update_code
from thematic.coding import code_counts
from thematic.corpus import get_segments
from thematic.export.report import build_report, method_paragraphs
from thematic.memos import add_memo
from thematic.purge import purge_history
from thematic.store import Store


@pytest.fixture(scope="module")
def proj() -> Iterator[Store]:
    s = Store(":memory:")
    build_project(s, codebook=CMT, n_forms=30)
    codes = list_codes(s)
    theme = codes[0]
    coded = [r[0] for r in s.query(
        "SELECT DISTINCT c.segment_id FROM codings c WHERE c.code_id IN (SELECT id FROM codes WHERE parent_id = ?) "
        "ORDER BY c.segment_id LIMIT 2", (theme.id,))]
    set_quotes(s, theme.id, coded)
    update_code(s, theme.id, definition=theme.definition + " (revised)")
    add_memo(s, "First impressions of the forms.", phase=1, coder="alice")
    export.export_project(s, "svg", io.BytesIO())
    yield s
    s.close()


def test_method_covers_six_phases_from_the_audit_trail(proj: Store) -> None:
    paras = method_paragraphs(proj)
    assert [p.split(" (")[0] for p in paras] == [f"Phase {i}" for i in range(1, 7)]
    assert "30 feedback forms with 2 open questions" in paras[0] and "1 reflexive memo" in paras[0]
    assert "2 coders (alice, bob)" in paras[1]
    assert "4 themes and 12 subthemes" in paras[4] and "2 illustrative quotes" in paras[4]
    assert "svg" in paras[5]
    assert "no moves" in paras[3]
    year = proj.query_one("SELECT ts FROM audit ORDER BY id")[0][:4]
    assert year in paras[1]


def test_reviewing_phase_counts_moves(store: Store) -> None:
    build_project(store, themes=2, subthemes=2, n_forms=5)
    sub = [c for c in list_codes(store) if c.depth == 1][0]
    other = [c for c in list_codes(store) if c.depth == 0][1]
    move_code(store, sub.id, other.id)
    assert "(1 move)" in method_paragraphs(store)[3]
    store.undo()
    assert "no moves" in method_paragraphs(store)[3]  # undone changes are not reported


def test_quotes_chosen_or_first_coded_segments(proj: Store) -> None:
    rep = build_report(proj)
    first, second = rep.themes[0], rep.themes[1]
    assert first.quotes_chosen and len(first.quotes) == 2
    from thematic.codebook import quotes

    assert [q.text for q in first.quotes] == [s.text.strip() for s in get_segments(proj, quotes(proj, first.code_id))]
    assert not second.quotes_chosen and 1 <= len(second.quotes) <= 3
    assert second.respondents == code_counts(proj)[second.code_id][1]
    assert rep.respondents.keys() == {"gender", "profession"}


def test_docx_opens_with_headings_table_figure_and_quotes(proj: Store) -> None:
    import docx

    doc = docx.Document(io.BytesIO(export.render(proj, "docx")))
    heads = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading") or p.style.name == "Title"]
    assert heads[0].startswith("Compassionate") and "Method" in heads and "Themes" in heads and "Respondents" in heads
    assert any(h.startswith("Workshop delivery (n = ") for h in heads)
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["Theme", "Subtheme", "Definition", "Segments", "Respondents"]
    assert len(table.rows) == 1 + 16
    assert len(doc.inline_shapes) == 1  # the theme-tree figure
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "the first coded segments are shown" in body and "Phase 6" in body
    assert sum(p.style.name == "Quote" for p in doc.paragraphs) >= 4


def test_markdown_and_json(proj: Store) -> None:
    md = export.render(proj, "md").decode()
    assert md.startswith("# Compassionate") and "## Method" in md and "| Theme | Subtheme |" in md
    assert "> \u201c" in md and "No quotes were chosen" in md
    doc = json.loads(export.render(proj, "json"))
    assert doc["format"] == "thematic-tree/1" and len(doc["themes"]) == 4
    t = doc["themes"][0]
    assert {"name", "definition", "segments", "respondents", "children", "quotes"} <= t.keys()
    assert sum(len(x["children"]) for x in doc["themes"]) == 12
    assert t["definition"].endswith("(revised)")


def test_clustering_and_imports_are_reported(store: Store) -> None:
    build_project(store, themes=2, subthemes=2, n_forms=4)
    with store.action("cluster.propose", "Cluster 16 segments into 3 candidate themes", keep_if_unchanged=True):
        pass
    paras = method_paragraphs(store)
    assert "clustered automatically into candidate themes" in paras[2] and "(1 clustering step)" in paras[2]
    with store.action("ingest", "Import forms.csv", keep_if_unchanged=True):
        pass
    assert "imported (8 non-empty answers, split into 16 segments for coding) on " in method_paragraphs(store)[0]
    assert method_paragraphs(store)[0].rstrip().endswith(".")


def test_plurals_are_correct_for_one(store: Store) -> None:
    from tests.helpers import make_corpus
    from thematic.coding import apply_code

    seg = make_corpus(store, [("F1", {}, {"Q1": ["The circles made sense.", "Loved the breathing."]})],
                      questions=("Q1",))
    code = add_code(store, "Breathing")
    apply_code(store, seg[("F1", "Q1", 0)], code, "ana")
    add_memo(store, "One thought.", phase=1, coder="ana")
    add_memo(store, "Another.", phase=2, coder="ana")
    paras = method_paragraphs(store)
    assert paras[0].startswith("Phase 1 (familiarising with the data): 1 feedback form with 1 open question "
                               "was imported (1 non-empty answer, split into 2 segments for coding)")
    assert "1 reflexive memo was written in this phase." in paras[0]
    assert "1 coder (ana) applied 1 coding to 1 segment" in paras[1] and ": 1 by hand." in paras[1]
    assert "1 code was created (1 by hand)" in paras[2]
    assert "1 theme and 0 subthemes; the only code has no definition written by a person" in paras[4]
    assert " were written" not in " ".join(paras) and "1 moves" not in " ".join(paras)


def test_a_bulk_accept_is_reported_as_such_and_its_text_is_no_definition(store: Store) -> None:
    from tests.test_cluster import corpus
    from thematic import cluster as cl
    from thematic.codebook import get_code
    from thematic.coding import apply_code
    from thematic.embed import HashingEmbedder
    from thematic.suggest import accept_suggestion

    corpus(store, 40)
    run = cl.propose(store, seed=5, embedder=HashingEmbedder(dim=128),
                     params={"n_candidates": 6, "n_groups": 2}, actor="ana")
    cands = [c for c in cl.candidates(store, run.id) if c.level == 1 and not c.unclustered]
    first, second = cands[0], cands[1]
    members = cl.segment_ids(store, first.id)
    code_id = cl.accept_candidate(store, first.id, coder="ana", name="Accepted in bulk")
    assert get_code(store, code_id).definition == ""  # the machine writes no definition
    hand = add_code(store, "By hand", definition="Written by a person.")
    free = [i for i in cl.segment_ids(store, second.id) if i not in members][:3]
    apply_code(store, free[0], hand, "bea")
    accept_suggestion(store, free[1], hand, "bea")
    paras = method_paragraphs(store)
    n = len(members)
    assert (f"{n} accepted in bulk, all members of a candidate theme at once, when 1 candidate theme from "
            "clustering was accepted as codes (0 segments left out by the analyst)") in paras[1]
    assert "1 by hand" in paras[1] and "1 accepted one by one from suggested codes" in paras[1]
    assert "after a human read the segment" not in " ".join(paras)
    assert "2 codes were created (1 by hand, 1 from accepted candidate themes)" in paras[2]
    assert "of which the analysts accepted 1 candidate theme" in paras[2]
    # Only the person's definition counts; the machine's text appears nowhere as a definition.
    assert "1 of 2 codes has a definition written by a person" in paras[4]
    md = export.render(store, "md").decode()
    assert "Written by a person." in md and "Accepted candidate theme from clustering run" not in md
    # Once a person writes the accepted code's definition, it counts.
    update_code(store, code_id, definition="Staff describe the course as practical.")
    assert "2 of 2 codes have a definition written by a person" in method_paragraphs(store)[4]
    store.undo()
    assert "1 of 2 codes has a definition written by a person" in method_paragraphs(store)[4]


def test_left_out_members_recorded_by_the_accept_are_reported(store: Store) -> None:
    from tests.helpers import SMALL, make_corpus
    from thematic.coding import apply_code_many

    seg = sorted(make_corpus(store, SMALL).values())
    with store.action("cluster.accept", "Accept candidate theme 1 as a code", actor="ana",
                      details={"candidate_id": 1, "excluded": seg[3:]}):
        apply_code_many(store, seg[:3], add_code(store, "Candidate"), "ana", origin="cluster")
    assert "(3 segments left out by the analyst)" in method_paragraphs(store)[1]


def test_docx_pages_are_a4(proj: Store) -> None:
    import docx
    from docx.shared import Mm

    doc = docx.Document(io.BytesIO(export.render(proj, "docx")))
    for section in doc.sections:
        assert abs(section.page_width - Mm(210)) < Mm(1) and abs(section.page_height - Mm(297)) < Mm(1)


def test_respondent_tables_count_forms_without_a_value(store: Store) -> None:
    """57 of 60 forms were listed when 3 had no profession: the table must add up to every form."""
    from tests.helpers import SMALL, make_corpus

    make_corpus(store, [*SMALL, ("F4", {"gender": "Female"}, {"Q1": ["No profession given."]}),
                        ("F5", {"profession": " ", "gender": "Male"}, {"Q1": ["Blank profession."]})])
    rep = build_report(store)
    assert rep.respondents["profession"] == [("Nurse", 2), ("Doctor", 1), ("(missing)", 2)]
    assert sum(n for _, n in rep.respondents["profession"]) == store.counts()["forms"]
    md = export.render(store, "md").decode()
    assert "| (missing) | 2 |" in md


def test_code_origins_after_the_undo_history_was_purged(store: Store) -> None:
    build_project(store, themes=2, subthemes=2, n_forms=5)
    assert "4 codes were created (4 by hand)" in method_paragraphs(store)[2]
    purge_history(store, actor="lead")
    para = method_paragraphs(store)[2]
    assert "the project has 4 codes (0 made from accepted candidate themes, 4 created by hand or imported)" in para
    assert "no code creation is recorded" not in para
