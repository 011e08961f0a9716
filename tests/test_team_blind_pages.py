"""Blind coding on every page and every export, as a coder of a blind team project: nothing another coder did
(codings, codes they typed in, counts, memos, suggestions learnt from them, agreement figures, the lead's
adjudications) reaches what the server sends to the coder's browser or what the coder downloads."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import APP, TIMEOUT
from tests.team_fixtures import ANN, BOB, LEAD, VIC, TeamProject, make_team_project
from thematic import adjudicate, codebook, coding, codings_io, memos, queries, reliability
from thematic.export import FORMATS, render
from ui import signin

PAGES = sorted(str(p.relative_to(Path(APP).parent)) for p in (Path(APP).parent / "views").glob("*.py"))
# What only Bob's work or the lead's adjudication of it holds: none of it may reach Ann or Vic while blind.
SECRETS = ("Tinnitus", "Bob thinks the room was too hot", "Bob's tinnitus note", "Lead settled it with both coders")


@pytest.fixture(scope="module")
def tp(tmp_path_factory: pytest.TempPathFactory) -> TeamProject:
    """Blind project. Ann: F1 Q1 #0 'Breathing'. Bob: the same, F1 Q2 'Heat', F2 Q1 'Tinnitus' (typed in), two
    memos. The lead records an agreement round and adjudicates F1 Q2 (Bob's 'Heat', which Ann did not apply)."""
    tp = make_team_project(tmp_path_factory.mktemp("blind-pages"))
    s1, s3, s4 = (tp.segments[k] for k in (("F1", "Q1", 0), ("F1", "Q2", 0), ("F2", "Q1", 0)))
    with tp.open(LEAD) as s:
        breathing, heat = codebook.add_code(s, "Breathing"), codebook.add_code(s, "Heat")
        reliability.set_blind_mode(s, True)
    with tp.open(ANN) as s:
        coding.apply_code(s, s1, breathing, "Ann")
        memos.add_memo(s, "Ann's own note", coder="Ann")
    with tp.open(BOB) as s:
        coding.apply_code(s, s1, breathing, "Bob")
        coding.apply_code(s, s3, heat, "Bob")
        coding.apply_codes(s, s4, [lambda: codebook.ensure_path(s, "Tinnitus", actor="Bob")], "Bob")
        memos.add_memo(s, "Bob thinks the room was too hot", coder="Bob")
        tin = codebook.find_code(s, "Tinnitus")
        assert tin is not None
        memos.add_memo(s, "Bob's tinnitus note", coder="Bob", code_id=tin.id)
    with tp.open(LEAD) as s:
        adjudicate.record_round(s, ["Ann", "Bob"])
        adjudicate.decide(s, s3, heat, "Ann", "Bob", "keep_b", "Lead settled it with both coders")
    return tp


@pytest.fixture
def env(tp: TeamProject, monkeypatch: pytest.MonkeyPatch) -> TeamProject:
    monkeypatch.setenv("THEMATIC_TEAM", str(tp.team.path))
    monkeypatch.setenv("THEMATIC_FAKE_EMBEDDER", "1")
    monkeypatch.delenv("THEMATIC_PROJECT", raising=False)
    return tp


def _sent(node: Any) -> str:
    """Everything of a page the server would send to the browser (every element's message, tables included)."""
    parts = [str(node.proto)] if getattr(node, "proto", None) is not None else []
    children = getattr(node, "children", None) or {}
    parts += [_sent(c) for c in children.values()]
    return "\n".join(parts)


def _text(data: bytes) -> str:
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return data.decode("utf-8-sig", "replace")


@pytest.mark.parametrize("user", [ANN, VIC], ids=["coder", "viewer"])
@pytest.mark.parametrize("page", PAGES)
def test_no_page_shows_another_coders_work(env: TeamProject, page: str, user: Any) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[signin.USER_KEY] = (user.name, user.role)
    at.session_state[signin.SEEN_KEY] = time.time()
    at.run()
    if page != "views/project.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    sent = _sent(at._tree)
    if page == "views/audit.py":  # the lead adding members is shown (the members list names them anyway)
        sent = sent.replace("Add Bob as coder", "")
    assert len(sent) > 500  # the page was drawn
    for secret in SECRETS:
        assert secret not in sent, f"{secret!r} on {page}"
    if page != "views/project.py":  # the members list names Bob; nothing else may
        assert "Bob" not in sent, f"Bob's name on {page}"
    if page == "views/project.py":
        codings = next(m for m in at.metric if m.label == "Codings")
        assert codings.value == ("1" if user is ANN else "0")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_no_export_holds_another_coders_work(env: TeamProject, fmt: str) -> None:
    if fmt in ("png", "pdf"):  # images: the same tree as svg, checked there
        pytest.skip("binary image of the svg's tree")
    with env.open(LEAD) as s:
        full = _text(render(s, fmt))
    with env.open(ANN) as s:
        mine = _text(render(s, fmt))
    assert "Tinnitus" in full  # the lead's export has Bob's code: the check below can see it
    for secret in SECRETS:
        assert secret not in mine, (fmt, secret)
    assert "Bob" not in mine, fmt


def test_other_downloads_of_a_coder(env: TeamProject) -> None:
    """The codings CSV of the Coders page, the queries workbook, the adjudication CSV and the agreement figures."""
    with env.open(ANN) as s:
        csv = codings_io.render_codings_csv(s).decode("utf-8-sig")
        assert "Bob" not in csv and "Tinnitus" not in csv and "Breathing" in csv
        table = queries.cooccurrence(s)
        assert "Tinnitus" not in " ".join(table.labels())
        heat = codebook.find_code(s, "Heat")
        assert heat is not None and coding.code_counts(s).get(heat.id, (0, 0))[0] == 0
        buf = io.StringIO()
        assert adjudicate.export_decisions_csv(s, buf) == 0
        assert "Lead settled" not in buf.getvalue()
        assert adjudicate.rounds(s) == [] and adjudicate.decisions(s) == []
        assert {m.body for m in memos.memos(s)} == {"Ann's own note"}
