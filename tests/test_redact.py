"""Redaction of person names: titles, a staff list, spaCy PERSON entities; few false positives."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from thematic.errors import InvalidInput
from thematic.redact import Redactor, read_staff_names

DATA = Path(__file__).resolve().parent / "data"


def rules(staff: tuple[str, ...] = ()) -> Redactor:
    return Redactor(staff, use_ner=False)


def test_titles_keep_the_title_and_replace_the_name() -> None:
    r = rules()
    assert r.redact("Dr Khan and Nurse Gabbitas were great.") == ("Dr [NAME] and Nurse [NAME] were great.", 2)
    assert r.redact("Thanks to Mrs Watson-O'Neil.") == ("Thanks to Mrs [NAME].", 1)
    assert r.redact("Dr. Pierzschniak listened.") == ("Dr. [NAME] listened.", 1)
    assert r.redact("District Nurse Sharon came") == ("District Nurse [NAME] came", 1)
    assert r.redact("Dr Ryan Lawty is fantastic") == ("Dr [NAME] is fantastic", 1)


@pytest.mark.parametrize(
    "text",
    [
        "The Nurse was kind.",
        "Regular Doctor. \nStaff not trusting me",
        "District Nurse Team visited",
        "Compassion is key, said the Nurse.",
        "Sister Ward was closed on Monday",
        "Doctor Monday appointment",
        "I miss my appointments",
    ],
)
def test_titles_without_a_name_are_left_alone(text: str) -> None:
    assert rules().redact(text) == (text, 0)


def test_staff_list_full_and_first_names_case_insensitive() -> None:
    r = rules(("Jane Smith", "Hope Brown", "Dr Omar Farouk"))
    assert r.redact("jane smith and JANE were lovely") == ("[NAME] and [NAME] were lovely", 2)
    # "Hope" is also a word: only the capitalised one is a name
    assert r.redact("I hope Hope Brown stays. Hope was great.") == ("I hope [NAME] stays. [NAME] was great.", 2)
    assert r.redact("Omar Farouk was helpful") == ("Omar Farouk was helpful", 0)  # the list says "Dr Omar Farouk"
    assert r.redact("Janet was there") == ("Janet was there", 0)  # word boundaries


def test_staff_names_file(tmp_path: Path) -> None:
    f = tmp_path / "staff.txt"
    f.write_bytes("# facilitators\nZoë Adams\n\n  Priya Shah  \n".encode("cp1252"))
    assert read_staff_names(f) == ["Zoë Adams", "Priya Shah"]
    with pytest.raises(InvalidInput, match="not found"):
        read_staff_names(tmp_path / "missing.txt")


def test_ner_finds_names_without_titles_and_spares_course_words() -> None:
    r = Redactor()
    out = r.redact_many(
        [
            "Natasha is wonderful and has been very understanding.",
            "Compassion and the three circles. Soothe was my favourite. On Monday we did breathing.",
            "Thanks to Paul the physio and Faye, my CPN.",
        ]
    )
    assert out[0] == ("[NAME] is wonderful and has been very understanding.", 1)
    assert out[1][1] == 0
    assert "Paul" not in out[2][0] and "Faye" not in out[2][0] and "physio" in out[2][0]


def test_real_rows_naming_staff() -> None:
    """Real NHS rows that name staff: every titled name goes; most rows lose at least one name."""
    with (DATA / "nhs_named_staff.csv").open(encoding="utf-8", newline="") as fh:
        texts = [r["feedback"] for r in csv.DictReader(fh)]
    out = Redactor().redact_many(texts)
    assert sum(1 for _t, n in out if n > 0) >= 0.9 * len(texts)
    for name in ("Khan", "Gabbitas", "Schofield", "Natasha", "Sriddran", "Chatterjee"):
        assert all(name not in t for t, _n in out), name
    # the rest of the text is untouched: removing the placeholders leaves only words of the original
    for (t, _n), original in zip(out, texts):
        for part in t.split("[NAME]"):
            assert part in original


def test_redaction_count_merges_adjacent_matches() -> None:
    r = rules(("Jen Thompson",))
    assert r.redact("Jen Thompson and Jen") == ("[NAME] and [NAME]", 2)


def test_no_false_positives_in_the_demo_workbook() -> None:
    """The demo answers name no one: threat/drive/soothe, Monday, "Merci", "my nan" must all survive."""
    from thematic.ingest import read_forms

    result = read_forms(Path(__file__).resolve().parents[1] / "thematic" / "data" / "cmt_workshop_evaluations.xlsx")
    texts = [t for f in result.forms for t, _row in f.answers.values()]
    out = Redactor().redact_many(texts)
    assert [t for t, n in out if n] == []
