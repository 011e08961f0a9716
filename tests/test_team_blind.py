"""Blind coding enforced in the library reads: while a project is blind a coder sees only their own codings,
counts, memos, audit events and no agreement or adjudication, on every read path, until the lead reveals."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.team_fixtures import ANN, BOB, LEAD, VIC, TeamProject, make_team_project
from thematic import adjudicate, codebook, coding, memos, reliability
from thematic.errors import NotFound
from thematic.export import render


@pytest.fixture
def tp(tmp_path: Path) -> TeamProject:
    """Blind project: Ann codes F1's first segment Breathing; Bob codes it Breathing too and F1 Q2 'Heat'."""
    tp = make_team_project(tmp_path)
    s1, s3 = tp.segments[("F1", "Q1", 0)], tp.segments[("F1", "Q2", 0)]
    with tp.open(LEAD) as s:
        breathing, heat = codebook.add_code(s, "Breathing"), codebook.add_code(s, "Heat")
        reliability.set_blind_mode(s, True)
        memos.add_memo(s, "Lead's guidance: code every mention", coder="Lee")
    with tp.open(ANN) as s:
        coding.apply_code(s, s1, breathing, "Ann")
        memos.add_memo(s, "Ann's private note", coder="Ann")
    with tp.open(BOB) as s:
        coding.apply_code(s, s1, breathing, "Bob")
        coding.apply_code(s, s3, heat, "Bob")
        memos.add_memo(s, "Bob thinks the room was too hot", coder="Bob")
    return tp


def _ids(store: object) -> dict[str, int]:
    return {c.name: c.id for c in codebook.list_codes(store)}  # type: ignore[arg-type]


def test_coder_reads_only_their_own_codings_counts_and_memos(tp: TeamProject) -> None:
    with tp.open(ANN) as s:
        ids = _ids(s)
        assert [(c.coder, c.code_id) for c in coding.codings(s)] == [("Ann", ids["Breathing"])]
        assert coding.codings(s, coder="Bob") == []
        # The page asks for everyone's codings (blind=False): the library still gives only Ann's.
        assert {c.coder for c in reliability.visible_codings(s, "Ann", blind=False)} == {"Ann"}
        counts = coding.code_counts(s)
        assert counts[ids["Breathing"]][0] == 1 and counts.get(ids["Heat"], (0, 0))[0] == 0
        assert coding.code_counts(s, coder="Bob").get(ids["Heat"], (0, 0))[0] == 0
        bodies = {m.body for m in memos.memos(s)}
        assert bodies == {"Ann's private note", "Lead's guidance: code every mention"}
        summary = {r["coder"]: r["codings"] for r in reliability.coder_summary(s)}
        assert summary.get("Bob", 0) == 0 and summary["Ann"] == 1


def test_coder_sees_no_agreement_or_adjudication_while_blind(tp: TeamProject) -> None:
    with tp.open(LEAD) as s:
        overall = reliability.agreement_report(s, ["Ann", "Bob"], n_boot=0).to_dict()["overall"]["all_units"]
        assert overall["positives"] == [1, 2] and overall["kappa"]["value"] is not None
        adjudicate.record_round(s, ["Ann", "Bob"])
        assert len(adjudicate.rounds(s)) == 1
    with tp.open(ANN) as s:
        assert adjudicate.rounds(s) == []  # recorded agreement figures are hidden
        assert adjudicate.decisions(s) == []
        # Whether Bob has started coding is hidden too (a coder is recorded at their first coding), so asking
        # for agreement with him finds no such coder, and nothing of his work reaches any figure.
        with pytest.raises(NotFound, match="no coder 'Bob'"):
            reliability.agreement_report(s, ["Ann", "Bob"], n_boot=0)
        assert "Bob" not in [c["coder"] for c in reliability.coder_summary(s)]


def _text(data: bytes) -> str:
    """An export's text, with the members of a zip (xlsx, docx, qdpx) unpacked."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return data.decode("utf-8-sig", "replace")


@pytest.mark.parametrize("fmt", ["csv", "codings-csv", "json", "md", "xlsx", "docx", "qdpx"])
def test_exports_of_a_coder_leave_out_other_coders(tp: TeamProject, fmt: str) -> None:
    with tp.open(LEAD) as s:
        full = _text(render(s, fmt))
    with tp.open(ANN) as s:
        mine = _text(render(s, fmt))
    if fmt == "qdpx":  # carries the whole corpus and the coder list; the codings are what must be Ann's only
        assert full.count("<Coding ") == 3 and mine.count("<Coding ") == 1
        return
    assert "Bob" in full and "Bob" not in mine
    if fmt in ("csv", "codings-csv", "xlsx"):  # the formats that list coded extracts
        assert "Too hot in the room." in full and "Too hot in the room." not in mine  # coded by Bob only


def test_audit_trail_of_a_coder_hides_other_coders_work(tp: TeamProject) -> None:
    with tp.open(ANN) as s:
        actors = {e.actor for e in s.audit_log(limit=100)}
        assert "Bob" not in actors and {"Ann", "Lee"} <= actors
        shown = s.audit_log(limit=100)
        assert not [e for e in shown if e.action.startswith(("coding.", "memo.")) and e.actor not in ("Ann", "Lee")]
        assert [e.summary for e in shown if e.action == "coding.apply"] == [
            e.summary for e in shown if e.action == "coding.apply" and e.actor == "Ann"] != []


def test_lead_and_reveal(tp: TeamProject) -> None:
    with tp.open(LEAD) as lead, tp.open(ANN) as ann, tp.open(VIC) as vic:
        assert {c.coder for c in coding.codings(lead)} == {"Ann", "Bob"}
        assert coding.codings(vic) == []  # a viewer sees nobody's codings while blind
        assert {c.coder for c in coding.codings(ann)} == {"Ann"}
        reliability.set_blind_mode(lead, False)  # the lead reveals: open sessions see it at once
        assert {c.coder for c in coding.codings(ann)} == {"Ann", "Bob"}
        assert {c.coder for c in coding.codings(vic)} == {"Ann", "Bob"}
        assert "Bob" in {e.actor for e in ann.audit_log(limit=100)}
        reliability.set_blind_mode(lead, True)
        assert {c.coder for c in coding.codings(ann)} == {"Ann"}


def test_filter_survives_writes_and_undo(tp: TeamProject) -> None:
    with tp.open(ANN) as s:
        ids = _ids(s)
        coding.apply_code(s, tp.segments[("F1", "Q2", 0)], ids["Heat"], "Ann")  # same segment Bob coded
        assert sorted((c.coder, c.segment_id) for c in coding.codings(s)) == [
            ("Ann", tp.segments[("F1", "Q1", 0)]), ("Ann", tp.segments[("F1", "Q2", 0)])]
        s.undo()
        assert [c.coder for c in coding.codings(s)] == ["Ann"]
    with tp.open(LEAD) as s:
        assert sorted(c.coder for c in coding.codings(s)) == ["Ann", "Bob", "Bob"]


def test_a_lead_coding_in_the_blind_round_is_hidden_too(tp: TeamProject) -> None:
    with tp.open(LEAD) as s:
        coding.apply_code(s, tp.segments[("F2", "Q1", 0)], _ids(s)["Breathing"], "Lee")
    with tp.open(BOB) as s:
        assert {c.coder for c in coding.codings(s)} == {"Bob"}
        assert not [e for e in s.audit_log(limit=100) if e.action == "coding.apply" and e.actor == "Lee"]
        assert "code.add" in {e.action for e in s.audit_log(limit=100) if e.actor == "Lee"}


def test_suggestions_never_learn_from_another_coder_while_blind(tp: TeamProject) -> None:
    from thematic import suggest
    from thematic.embed import HashingEmbedder

    emb = HashingEmbedder(dim=128)
    segs = [tp.segments[k] for k in (("F1", "Q1", 1), ("F2", "Q1", 0), ("F2", "Q2", 0))]
    with tp.open(BOB) as s:
        heat = _ids(s)["Heat"]
        for seg in segs:  # enough of Bob's examples for a few-shot prototype of 'Heat'
            coding.apply_code(s, seg, heat, "Bob")
    suggest.clear_caches()
    with tp.open(LEAD) as lead, tp.open(ANN) as ann:
        model = suggest.code_model(lead, embedder=emb)
        index = model.index()
        _, lead_mask = suggest.coder_prototypes(lead, model, "Bob", embedder=emb)
        assert lead_mask[index[heat]]  # the lead's view learns from Bob's codings
        _, ann_mask = suggest.coder_prototypes(ann, model, "Bob", embedder=emb)
        assert not ann_mask.any()  # Ann's never does, even asking for Bob's and with the lead's result cached


# ---------------------------------------------------------------------- codes typed in while coding


def _type_in(s: object, seg: int, name: str, coder: str) -> None:
    """What the coding page does when a coder types a new name in the picker: the code is created in the step."""
    coding.apply_codes(s, seg, [lambda: codebook.ensure_path(s, name, actor=coder)], coder)  # type: ignore[arg-type]


def test_a_code_another_coder_typed_in_is_hidden_until_the_reveal(tp: TeamProject) -> None:
    from thematic import queries

    s2 = tp.segments[("F2", "Q1", 0)]
    with tp.open(BOB) as s:
        _type_in(s, s2, "Tinnitus", "Bob")
        assert "Tinnitus" in {c.name for c in codebook.list_codes(s)}  # Bob sees his own code
    with tp.open(ANN) as s:
        assert {c.name for c in codebook.list_codes(s)} == {"Breathing", "Heat"}  # the picker's list
        assert "Tinnitus" not in {n.code.name for n in codebook.tree(s)}
        assert codebook.find_code(s, "Tinnitus") is None
        assert s.counts()["codes"] == 2
        for fmt in ("csv", "codings-csv", "json", "md", "xlsx", "docx", "qdpx", "qdc", "dot", "mermaid", "svg"):
            assert "Tinnitus" not in _text(render(s, fmt)), fmt
        assert "Tinnitus" not in str(queries.cooccurrence(s).labels())
    with tp.open(LEAD) as s:  # the lead sees every code, and Bob's coding on it
        tinnitus = codebook.find_code(s, "Tinnitus")
        assert tinnitus is not None
        assert [(c.coder, c.segment_id) for c in coding.codings(s, code_id=tinnitus.id)] == [("Bob", s2)]
        reliability.set_blind_mode(s, False)
    with tp.open(ANN) as s:
        assert "Tinnitus" in {c.name for c in codebook.list_codes(s)}


def test_two_coders_typing_the_same_name_share_one_code(tp: TeamProject) -> None:
    """Names are unique under a parent, so Ann typing 'tinnitus' after Bob typed 'Tinnitus' codes with Bob's code
    (created inside her step, so she learns nothing she did not type); from then on it is in her picker because she
    coded with it, her codings and counts are still hers only, and her undo takes away only her coding."""
    s2, s4 = tp.segments[("F2", "Q1", 0)], tp.segments[("F3", "Q1", 0)]
    with tp.open(BOB) as s:
        _type_in(s, s2, "Tinnitus", "Bob")
    with tp.open(ANN) as s:
        _type_in(s, s4, "tinnitus", "Ann")
        tinnitus = codebook.find_code(s, "Tinnitus")
        assert tinnitus is not None
        assert [(c.coder, c.segment_id) for c in coding.codings(s, code_id=tinnitus.id)] == [("Ann", s4)]
        assert coding.code_counts(s)[tinnitus.id][0] == 1
        s.undo()
        assert codebook.find_code(s, "Tinnitus") is None  # hidden again: Bob's, and Ann no longer codes with it
    with tp.open(LEAD) as s:
        codes = [c for c in codebook.list_codes(s) if c.name.casefold() == "tinnitus"]
        assert len(codes) == 1
        assert [(c.coder, c.segment_id) for c in coding.codings(s, code_id=codes[0].id)] == [("Bob", s2)]


def test_a_coder_cannot_claim_or_disown_a_code(tp: TeamProject) -> None:
    from thematic.team import PermissionDenied

    with tp.open(BOB) as s:
        _type_in(s, tp.segments[("F2", "Q1", 0)], "Tinnitus", "Bob")
    with tp.open(ANN) as s, pytest.raises(PermissionDenied), s.action("memo.add", "sneak") as act:
        act.execute("DELETE FROM code_creators")
    with tp.open(LEAD) as s:
        assert [tuple(r) for r in s.query("SELECT c.name, k.coder FROM code_creators k JOIN codes c ON c.id = k.code_id")
                ] == [("Tinnitus", "Bob")]


def test_leads_events_carrying_coders_work_are_hidden_while_blind(tp: TeamProject) -> None:
    """A lead's adjudication, agreement round, merge of codes (its summary counts codings), deletion of a code
    (likewise), import of codings and undo are hidden from coders while blind; building the codebook is not."""
    with tp.open(LEAD) as s:
        ids = _ids(s)
        adjudicate.record_round(s, ["Ann", "Bob"])
        extra = codebook.add_code(s, "Temperature")
        codebook.merge_codes(s, ids["Heat"], extra)
        doomed = codebook.add_code(s, "Doomed")
        codebook.delete_code(s, doomed)
        s.undo()
        shown_to_lead = {e.action for e in s.audit_log(limit=100)}
        assert {"agreement.round", "code.merge", "code.delete", "undo"} <= shown_to_lead
    for user in (ANN, VIC):
        with tp.open(user) as s:
            lead_events = [e for e in s.audit_log(limit=100) if e.actor == "Lee"]
            actions = {e.action for e in lead_events}
            assert not actions & {"agreement.round", "code.merge", "code.delete", "undo"}, actions
            assert {"code.add", "project.setting", "memo.add"} <= actions
            assert not [e for e in lead_events if "codings" in e.summary]


def test_a_span_another_coder_highlighted_is_hidden_with_its_count(tp: TeamProject) -> None:
    from thematic import corpus, spans

    with tp.open(ANN) as s:
        before = s.counts()["segments"]
        answer = s.scalar("SELECT answer_id FROM segments WHERE id = ?", (tp.segments[("F1", "Q1", 1)],))
        listed = {r.id for r in corpus.segments(s)}
    with tp.open(BOB) as s:
        span, _ = spans.code_span(s, answer, 4, 11, "Bob", code_id=_ids(s)["Breathing"])  # "three c"
        assert s.counts()["segments"] == before + 1
    with tp.open(ANN) as s:
        assert s.counts()["segments"] == before  # neither the span nor how many Bob made
        assert {r.id for r in corpus.segments(s)} == listed
        assert [(c.coder, c.by_person) for c in spans.codings_in(s, [answer])] == [("Ann", False)]  # her own
        same, _ = spans.code_span(s, answer, 4, 11, "Ann", code_id=_ids(s)["Breathing"])
        assert same == span  # the same offsets are the same span (looked up inside her step)
        assert [(c.coder, c.start, c.end) for c in spans.codings_in(s, [answer]) if c.by_person] == [("Ann", 4, 11)]
    with tp.open(LEAD) as s:
        assert sorted(c.coder for c in spans.codings_in(s, [answer]) if c.by_person) == ["Ann", "Bob"]


def test_undo_and_redo_of_a_typed_in_code_keep_its_coder(tp: TeamProject) -> None:
    with tp.open(BOB) as s:
        _type_in(s, tp.segments[("F2", "Q1", 0)], "Tinnitus", "Bob")
        s.undo()
        assert codebook.find_code(s, "Tinnitus") is None
        s.redo()  # puts back the code and its coder as the step logged them (no second record)
        assert codebook.find_code(s, "Tinnitus") is not None
    with tp.open(LEAD) as s:
        s.undo()
        s.redo()
        assert [tuple(r) for r in s.query("SELECT c.name, k.coder FROM code_creators k JOIN codes c ON c.id = k.code_id")
                ] == [("Tinnitus", "Bob")]
    with tp.open(ANN) as s:
        assert codebook.find_code(s, "Tinnitus") is None


def test_undoing_a_typed_in_code_another_coder_also_used_loses_nothing(tp: TeamProject) -> None:
    """Ann typed 'Noise' in first, Bob then coded with it: Ann's undo would delete the code and, with it, Bob's
    coding, so it is refused (she can still remove her own coding); nothing of Bob's is lost."""
    from thematic.store import UndoConflict

    s1, s2 = tp.segments[("F2", "Q1", 0)], tp.segments[("F3", "Q1", 0)]
    with tp.open(ANN) as s:
        _type_in(s, s1, "Noise", "Ann")
    with tp.open(BOB) as s:
        _type_in(s, s2, "noise", "Bob")
    with tp.open(ANN) as s:
        with pytest.raises(UndoConflict, match="a later change in the project depends on it") as refused:
            s.undo()
        assert "Bob" not in str(refused.value) and f"segment {s2}" not in str(refused.value)  # nothing of his work
        noise = codebook.find_code(s, "Noise")
        assert noise is not None and coding.remove_coding(s, s1, noise.id, "Ann")
    with tp.open(LEAD) as s:
        noise = codebook.find_code(s, "Noise")
        assert noise is not None
        assert [(c.coder, c.segment_id) for c in coding.codings(s, code_id=noise.id)] == [("Bob", s2)]
