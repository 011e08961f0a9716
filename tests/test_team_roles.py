"""Roles are enforced in the library: every audited action has a rule, and each role is refused what it may not do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.team_fixtures import ANN, BOB, LEAD, VIC, TeamProject, make_team_project
from thematic import adjudicate, codebook, coding, memos, reliability
from thematic.errors import ThematicError
from thematic.export import export_project
from thematic.team import PermissionDenied, User, add_member, members, open_project, visible_projects
from thematic.team.permissions import PERMISSIONS, ROLES, allowed, rule

REPO = Path(__file__).resolve().parents[1]
ACTION_CALL = re.compile(r"\baction\(\s*(f?)\"([^\"]*)\"")


def action_names() -> set[str]:
    """Every action name passed to ``store.action(...)`` in thematic/ (an f-string name as its ``prefix.*``)."""
    names = set()
    for path in (REPO / "thematic").rglob("*.py"):
        for is_f, name in ACTION_CALL.findall(path.read_text(encoding="utf-8")):
            names.add(name.split("{", 1)[0] + "*" if is_f and "{" in name else name)
    return names


def test_every_audited_action_in_the_library_has_a_permission_rule() -> None:
    names = action_names()
    # The scan itself must work: these are spread over several modules.
    assert {"coding.apply", "code.move", "ingest", "project.setting", "export.*", "memo.add"} <= names
    missing = sorted(n for n in names if rule(n.replace("*", "x")) is None)
    assert missing == [], f"actions without a rule in thematic/team/permissions.py: {missing}"


def test_an_action_without_a_rule_is_refused_for_everyone(tmp_path: Path) -> None:
    tp = make_team_project(tmp_path)
    for user in (LEAD, ANN, VIC):
        with tp.open(user) as s, pytest.raises(PermissionDenied, match="no permission rule"):
            with s.action("something.new", "A change nobody has a rule for"):
                pass


def test_the_table_gives_the_lead_everything_and_the_viewer_only_exports() -> None:
    assert all("lead" in roles for roles in PERMISSIONS.values())
    assert [a for a in PERMISSIONS if allowed("viewer", a)] == ["export.*"]
    assert allowed("lead", "import.qdc") and not allowed("coder", "import.qdc") and not allowed("coder", "cluster.x")
    assert allowed("viewer", "export.docx") and not allowed("viewer", "exporter")
    for a in ("coding.apply", "memo.add", "undo", "code.add", "suggestion.accept"):
        assert allowed("coder", a)
    for a in ("ingest", "codebook.import", "code.move", "code.delete", "code.merge", "cluster.propose",
              "adjudication.decide", "project.setting", "project.members", "project.create", "codings.import"):
        assert not allowed("coder", a), a
    assert set(ROLES) == {"lead", "coder", "viewer"}


@pytest.fixture
def tp(tmp_path: Path) -> TeamProject:
    return make_team_project(tmp_path)


@pytest.fixture
def code_id(tp: TeamProject) -> int:
    with tp.open(LEAD) as s:
        return codebook.add_code(s, "Breathing")


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    assert isinstance(exc.value, ThematicError)
    return text


def test_viewer_reads_and_exports_but_changes_nothing(tp: TeamProject, code_id: int, tmp_path: Path) -> None:
    seg = tp.segments[("F1", "Q1", 1)]
    with tp.open(VIC) as s:
        assert [c.name for c in codebook.list_codes(s)] == ["Breathing"]
        refusals = [
            lambda: codebook.add_code(s, "Mine"),
            lambda: coding.apply_code(s, seg, code_id, "Vic"),
            lambda: memos.add_memo(s, "a thought", coder="Vic"),
            lambda: reliability.set_blind_mode(s, True),
            lambda: s.undo(),
        ]
        for attempt in refusals:
            with pytest.raises(PermissionDenied) as exc:
                attempt()
            assert "Vic is a viewer" in _one_line(exc)
        export_project(s, "csv", tmp_path / "out.csv")
        assert (tmp_path / "out.csv").is_file()
        assert s.audit_log(limit=1)[0].action == "export.csv" and s.audit_log(limit=1)[0].actor == "Vic"
    with tp.open(LEAD) as s:
        assert coding.codings(s) == [] and s.scalar("SELECT count(*) FROM memos") == 0


def test_coder_codes_as_themselves_and_the_audit_names_them(tp: TeamProject, code_id: int) -> None:
    seg = tp.segments[("F1", "Q1", 1)]
    with tp.open(ANN) as s:
        start = s.audit_log(limit=1)[0].id
        assert coding.apply_code(s, seg, code_id, "Ann")
        # A coder may add a code while coding; whatever actor a caller passes, the signed-in name is recorded.
        new = codebook.add_code(s, "Heat", actor="Somebody else")
        memos.add_memo(s, "breathing comes up a lot", code_id=code_id, coder="Ann")
        coding.apply_code_many(s, [seg], new, "Ann")
        events = [e for e in s.audit_log(limit=50) if e.id > start]
    assert [e.action for e in events] == ["coding.apply", "memo.add", "code.add", "coding.apply"]
    assert {e.actor for e in events} == {"Ann"}
    with tp.open(LEAD) as s:
        assert [(c.coder, c.code_id) for c in coding.codings(s)] == [("Ann", code_id), ("Ann", new)]


def test_coder_cannot_code_or_write_memos_as_someone_else(tp: TeamProject, code_id: int) -> None:
    seg = tp.segments[("F1", "Q1", 0)]
    with tp.open(BOB) as s:
        coding.apply_code(s, seg, code_id, "Bob")
        memo = memos.add_memo(s, "Bob's note", coder="Bob")
    with tp.open(ANN) as s:
        with pytest.raises(PermissionDenied) as exc:
            coding.apply_code(s, tp.segments[("F2", "Q1", 0)], code_id, "Bob")
        assert "Ann may change only their own codings" in _one_line(exc)
        with pytest.raises(PermissionDenied, match="Ann may add only themselves as a coder"):
            coding.apply_code(s, seg, code_id, "Carl")
        with pytest.raises(PermissionDenied, match="own codings"):
            coding.remove_coding(s, seg, code_id, "Bob")
        with pytest.raises(PermissionDenied, match="own memos"):
            memos.update_memo(s, memo, body="Ann was here")
        with pytest.raises(PermissionDenied, match="own memos"):
            memos.delete_memo(s, memo)
    with tp.open(LEAD) as s:
        assert [(c.coder, c.segment_id) for c in coding.codings(s)] == [("Bob", seg)]
        assert memos.get_memo(s, memo).body == "Bob's note"
        assert coding.coders(s) == ["Bob"]


@pytest.mark.parametrize("attempt", ["move", "delete", "rename", "merge", "blind", "adjudicate", "ingest", "members"])
def test_coder_is_refused_lead_work(tp: TeamProject, code_id: int, attempt: str) -> None:
    with tp.open(LEAD) as s:
        other = codebook.add_code(s, "Environment")
    for u in (ANN, BOB):
        with tp.open(u) as s:
            coding.apply_code(s, tp.segments[("F1", "Q1", 0)], code_id, u.name)
    with tp.open(ANN) as s:
        before = [tuple(r) for r in s.query("SELECT * FROM main.audit ORDER BY id")]
        calls = {
            "move": lambda: codebook.move_code(s, code_id, other),
            "delete": lambda: codebook.delete_code(s, code_id),
            "rename": lambda: codebook.update_code(s, code_id, name="Breath"),
            "merge": lambda: codebook.merge_codes(s, code_id, other),
            "blind": lambda: reliability.set_blind_mode(s, False),
            "adjudicate": lambda: adjudicate.accept_agreements(s, "Ann", "Bob"),
            "ingest": lambda: s.action("ingest", "Import forms").__enter__(),
            "members": lambda: add_member(s, tp.team, "Bob", "coder"),
        }
        with pytest.raises(PermissionDenied) as exc:
            calls[attempt]()
        assert "Ann is a coder: only a lead may do" in _one_line(exc)
        assert [tuple(r) for r in s.query("SELECT * FROM main.audit ORDER BY id")] == before


def test_lead_restructures_reveals_and_undoes_anyones_change(tp: TeamProject, code_id: int) -> None:
    seg = tp.segments[("F2", "Q1", 0)]
    with tp.open(ANN) as s:
        coding.apply_code(s, seg, code_id, "Ann")
    with tp.open(LEAD) as s:
        other = codebook.add_code(s, "Calm")
        codebook.move_code(s, other, code_id)
        reliability.set_blind_mode(s, True)
        reliability.set_blind_mode(s, False)
        undone = [s.undo() for _ in range(5)]  # a lead undoes project-wide, Ann's coding included
        assert [e.action for e in undone] == ["project.setting", "project.setting", "code.move", "code.add", "coding.apply"]
        assert undone[-1].actor == "Ann"
        assert coding.codings(s) == []
        assert s.audit_log(limit=1)[0].actor == "Lee"


def test_coder_undoes_only_their_own_changes(tp: TeamProject, code_id: int) -> None:
    seg_a, seg_b = tp.segments[("F1", "Q1", 0)], tp.segments[("F2", "Q1", 0)]
    with tp.open(ANN) as ann, tp.open(BOB) as bob:
        coding.apply_code(ann, seg_a, code_id, "Ann")
        with pytest.raises(PermissionDenied, match="undo only their own"):
            bob.undo(coder="Ann")
        coding.apply_code(bob, seg_b, code_id, "Bob")
        # The newest change is Bob's: Ann's undo reverts her own newest change and leaves Bob's coding alone.
        assert ann.undo().actor == "Ann"
        assert ann.audit_log(limit=1)[0].actor == "Ann"
        with tp.open(LEAD) as s:
            assert [(c.segment_id, c.coder) for c in coding.codings(s)] == [(seg_b, "Bob")]
        bob.undo()
    with tp.open(LEAD) as s:
        assert coding.codings(s) == []


def test_members_decide_who_opens_a_project_and_in_which_role(tp: TeamProject) -> None:
    tp.team.add_user("Eve", "coder", "another long password")
    eve = User("Eve", "coder")
    assert visible_projects(tp.team, eve) == []
    with pytest.raises(PermissionDenied, match="not a member"):
        open_project(tp.team, "study", eve)
    assert visible_projects(tp.team, ANN) == ["study"] and visible_projects(tp.team, LEAD) == ["study"]
    with tp.open(LEAD) as s:
        add_member(s, tp.team, "Eve", "viewer")  # a coder account may be a viewer in one project
        with pytest.raises(ThematicError, match="cannot be a lead"):
            add_member(s, tp.team, "Eve", "lead")
        assert [(m.name, m.role) for m in members(s)] == [
            ("Ann", "coder"), ("Bob", "coder"), ("Eve", "viewer"), ("Lee", "lead"), ("Vic", "viewer")]
    with open_project(tp.team, "study", eve) as s:
        assert s.user.role == "viewer"
        with pytest.raises(PermissionDenied, match="Eve is a viewer"):
            codebook.add_code(s, "x")
    tp.team.remove_user("Eve")
    with pytest.raises(PermissionDenied, match="no account"):
        open_project(tp.team, "study", eve)


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    yield
