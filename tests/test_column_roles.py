"""Column roles -> Mapping: one rule in the library, used by the import preview and the Project page."""

from __future__ import annotations

import pytest

from thematic.errors import InvalidInput
from thematic.ingest.preview import Mapping, mapping_from_roles, role_in


def test_wide_roles_make_a_wide_mapping() -> None:
    roles = [("ID", "id"), ("Profession", "meta"), ("Liked", "question"), ("Disliked", "question"), ("x", "ignore")]
    assert mapping_from_roles(roles, "wide", sheet="S", header_row=2) == Mapping(
        layout="wide", id_column="ID", question_columns=("Liked", "Disliked"), meta_columns=("Profession",),
        answer_column=None, sheet="S", header_row=2)


def test_long_roles_make_a_long_mapping() -> None:
    roles = [("Form", "id"), ("Question", "question_key"), ("Text", "answer"), ("Site", "meta")]
    m = mapping_from_roles(roles, "long")
    assert (m.layout, m.id_column, m.question_columns, m.answer_column, m.meta_columns) == (
        "long", "Form", ("Question",), "Text", ("Site",))


def test_guessed_roles_follow_a_switched_layout() -> None:
    assert role_in("answer", "wide") == "question" and role_in("question", "long") == "answer"
    assert role_in("question_key", "wide") == "ignore" and role_in("meta", "long") == "meta"
    # a file guessed long, switched to wide by the analyst: its answer column becomes a question
    m = mapping_from_roles([("F", "id"), ("Q", "question_key"), ("A", "answer")], "wide")
    assert m.question_columns == ("A",) and m.answer_column is None


def test_two_id_columns_are_refused() -> None:
    with pytest.raises(InvalidInput, match="only one id column"):
        mapping_from_roles([("A", "id"), ("B", "id")], "wide")
    with pytest.raises(InvalidInput, match="only one answer column"):
        mapping_from_roles([("A", "answer"), ("B", "answer")], "long")
