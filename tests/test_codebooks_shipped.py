"""The codebooks shipped in ``codebooks/``: well-formed, complete, faithful to their sources, and importable."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CODEBOOKS = REPO / "codebooks"
NHS_CSV = REPO.parent / "shared" / "data" / "nhs_patient_feedback_phase1.csv"
FILES = sorted(CODEBOOKS.glob("*.yaml"))

TOP_FIELDS = {"format", "name", "title", "description", "source", "codes"}
CODE_FIELDS = {"name", "definition", "includes", "excludes", "colour", "examples", "children"}

CMT_FRAMEWORK = {
    "Comprehension of compassion": [
        "Psychoeducation facilitating an understanding of compassion",
        "Realisation of compassionate flows",
        "Negative associations to prioritising self and self-compassion",
        "Group discussion aiding understanding of compassion",
    ],
    "Workshop delivery": [
        "Integrative teaching methods",
        "Safe space agreement and non-judgemental, relaxed environment",
        "Facilitated by a lived experience practitioner",
        "Clear explanations, examples, analogies and applications",
    ],
    "Effectiveness of CMT exercises, practices, techniques and theory": [
        "Finding new techniques to soothe",
        "Utilising CMT practices beyond the workshop, at home and work",
    ],
    "The power of group": [
        "Enjoyment of group and group reflection",
        "Future reflective groups",
    ],
}


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path.name}: top level is not a mapping"
    return doc


def walk(entries: list[dict[str, Any]], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    for e in entries:
        p = (*path, e["name"])
        yield p, e
        yield from walk(e.get("children") or [], p)


def label(s: str) -> str:
    """A data label and its code name compare equal after this (whitespace folded, as code names are)."""
    return " ".join(unicodedata.normalize("NFKC", s).split())


def test_the_three_codebooks_are_shipped() -> None:
    assert {p.stem for p in FILES} >= {"cmt_for_all", "nhs_patient_experience", "training_evaluation"}
    assert (CODEBOOKS / "README.md").is_file()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_documented_top_level_fields(path: Path) -> None:
    doc = load(path)
    assert set(doc) <= TOP_FIELDS, f"undocumented fields {set(doc) - TOP_FIELDS}"
    assert doc["format"] == "thematic-codebook/1"
    assert doc["name"] == path.stem
    for fld in ("title", "description", "source"):
        assert isinstance(doc[fld], str) and len(doc[fld].strip()) > 20, fld
    assert isinstance(doc["codes"], list) and doc["codes"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_code_is_well_formed(path: Path) -> None:
    doc = load(path)
    for p, e in walk(doc["codes"]):
        where = "/".join(p)
        assert isinstance(e, dict) and set(e) <= CODE_FIELDS, f"{where}: undocumented fields {set(e) - CODE_FIELDS}"
        name = e["name"]
        assert isinstance(name, str) and name == " ".join(name.split()) and name, f"{where}: untidy name"
        assert len(name) < 200, f"{where}: name too long"
        assert isinstance(e.get("definition"), str) and len(e["definition"].split()) >= 8, f"{where}: thin definition"
        for fld in ("includes", "excludes"):
            assert isinstance(e.get(fld, ""), str), f"{where}: {fld} must be text"
        if "colour" in e:
            assert re.fullmatch(r"#[0-9A-Fa-f]{6}", e["colour"]), f"{where}: colour {e['colour']!r}"
        examples = e.get("examples", [])
        assert isinstance(examples, list) and all(isinstance(x, str) and x.strip() for x in examples), where
        children = e.get("children", [])
        assert isinstance(children, list), where
        if not children:
            assert len(examples) >= 2, f"{where}: a leaf code needs at least two example segments"
    for siblings in [doc["codes"], *(e.get("children") or [] for _, e in walk(doc["codes"]))]:
        names = Counter(c["name"].casefold() for c in siblings)
        assert not [n for n, k in names.items() if k > 1], f"duplicate sibling names {names}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_examples_are_distinct_across_codes(path: Path) -> None:
    seen = Counter(x.casefold() for _, e in walk(load(path)["codes"]) for x in e.get("examples", []))
    assert not [x for x, k in seen.items() if k > 1]


def _parenthesised(text: str) -> list[str]:
    """Top-level parenthesised groups, allowing nesting: 'a (B (c)); d (E)' -> ['B (c)', 'E']."""
    groups, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth == 1:
                start = i + 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                groups.append(text[start:i])
    return groups


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_excludes_point_to_codes_that_exist(path: Path) -> None:
    """Each '(...)' in an excludes note says where the near-miss goes, so it must name a code of this codebook."""
    entries = list(walk(load(path)["codes"]))
    names = {e["name"] for _, e in entries}
    checked = 0
    for p, e in entries:
        for ref in _parenthesised(e.get("excludes", "")):
            checked += 1
            assert any(n in ref for n in names), f"{'/'.join(p)}: excludes refers to '({ref})', which is no code"
    assert checked >= 5


def test_cmt_for_all_has_the_published_framework() -> None:
    doc = load(CODEBOOKS / "cmt_for_all.yaml")
    got = {t["name"]: [s["name"] for s in t.get("children", [])] for t in doc["codes"]}
    assert got == CMT_FRAMEWORK
    assert list(got) == list(CMT_FRAMEWORK)
    assert sum(map(len, got.values())) == 12
    assert all(not s.get("children") for t in doc["codes"] for s in t["children"])
    assert "Lucre" in doc["source"] and "2026" in doc["source"]


def test_training_evaluation_follows_kirkpatrick_plus_delivery_and_environment() -> None:
    doc = load(CODEBOOKS / "training_evaluation.yaml")
    themes = {t["name"]: {s["name"] for s in t["children"]} for t in doc["codes"]}
    assert list(themes) == ["Reaction", "Learning", "Behaviour", "Results", "Delivery", "Environment"]
    assert {"Intention to apply", "Applied at work", "Barriers to applying"} <= themes["Behaviour"]
    assert {"Facilitator", "Pace and timing", "Materials", "Teaching methods"} <= themes["Delivery"]
    assert {"Venue and room", "Refreshments", "Online and technical"} <= themes["Environment"]
    assert all(len(subs) >= 2 for subs in themes.values())


@pytest.fixture(scope="module")
def nhs_rows() -> list[dict[str, str]]:
    from .conftest import require_shared

    with require_shared(NHS_CSV).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_nhs_framework_matches_the_shared_data(nhs_rows: list[dict[str, str]]) -> None:
    doc = load(CODEBOOKS / "nhs_patient_experience.yaml")
    in_codebook = {label(c["name"]): [label(s["name"]) for s in c["children"]] for c in doc["codes"]}
    by_sub: dict[str, Counter[str]] = defaultdict(Counter)
    for r in nhs_rows:
        by_sub[label(r["subcategory"])][label(r["label"])] += 1
    categories = {label(r["label"]) for r in nhs_rows}
    assert len(categories) == 9 and len(by_sub) == 44
    assert set(in_codebook) == categories
    subs = [s for children in in_codebook.values() for s in children]
    assert len(subs) == 44 and set(subs) == set(by_sub)  # each subcategory exactly once
    for sub, cats in by_sub.items():
        majority = cats.most_common(1)[0][0]
        assert sub in in_codebook[majority], f"{sub!r} belongs under {majority!r}"
    # The known quirk: filed under two categories in the data, placed once, and the description says so.
    assert len(by_sub["Nothing to improve"]) == 2
    assert "Nothing to improve" in in_codebook["Couldn't be improved"]
    assert "Nothing to improve" in doc["description"] and "Miscellaneous" in doc["description"]


def test_nhs_examples_are_paraphrases_not_rows(nhs_rows: list[dict[str, str]]) -> None:
    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()

    feedback = {norm(r["feedback"]) for r in nhs_rows}
    doc = load(CODEBOOKS / "nhs_patient_experience.yaml")
    copied = [x for _, e in walk(doc["codes"]) for x in e.get("examples", []) if norm(x) in feedback]
    assert not copied


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_loads_and_imports_through_thematic(path: Path, tmp_path: Path) -> None:
    from thematic.codebook import list_codes, tree
    from thematic.codebook.files import import_codebook, read_codebook, write_codebook_yaml
    from thematic.store import Store

    doc = load(path)
    entries = list(walk(doc["codes"]))
    cb = read_codebook(path)
    assert cb.name == path.stem and cb.title == doc["title"]
    assert len(cb) == len(entries)

    store = Store(":memory:")
    try:
        assert import_codebook(store, cb, actor="tester") == len(entries)
        codes = list_codes(store)
        assert [c.path for c in codes] == [p for p, _ in entries]
        by_path = {c.path: c for c in codes}
        for p, e in entries:
            c = by_path[p]
            assert c.definition == e["definition"].strip()
            assert c.excludes == e.get("excludes", "").strip()
            assert c.colour == e.get("colour", "")
        n_examples = sum(len(e.get("examples", [])) for _, e in entries)
        assert store.scalar("SELECT count(*) FROM code_examples") == n_examples
        assert sum(len(n.examples) for n in _nodes(tree(store))) == n_examples

        # Importing again reuses every code and changes nothing; one undo takes the import away completely.
        assert import_codebook(store, read_codebook(path), actor="tester") == 0
        assert store.scalar("SELECT count(*) FROM codes") == len(entries)
        store.undo()
        assert store.scalar("SELECT count(*) FROM codes") == 0
        assert store.scalar("SELECT count(*) FROM code_examples") == 0
    finally:
        store.close()

    # The writer reproduces the same codebook.
    out = tmp_path / f"{path.stem}.yaml"
    write_codebook_yaml(cb, out)
    again = read_codebook(out)
    assert [(p, e.definition, e.includes, e.excludes, e.colour, e.examples) for p, e in again.walk()] == [
        (p, e.definition, e.includes, e.excludes, e.colour, e.examples) for p, e in cb.walk()
    ]


def _nodes(nodes: list[Any]) -> Iterator[Any]:
    for n in nodes:
        yield n
        yield from _nodes(n.children)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_survives_a_refi_qda_codebook_round_trip(path: Path, tmp_path: Path) -> None:
    """Exported as a REFI-QDA .qdc (for NVivo, ATLAS.ti, MAXQDA) and read back, nothing of the codebook is lost."""
    from thematic.codebook.files import import_codebook, read_codebook
    from thematic.commands import read_codebook_file
    from thematic.refi import render_qdc
    from thematic.store import Store

    cb = read_codebook(path)
    store = Store(":memory:")
    try:
        import_codebook(store, cb)
        qdc = tmp_path / f"{path.stem}.qdc"
        qdc.write_bytes(render_qdc(store))
    finally:
        store.close()
    back = read_codebook_file(qdc)

    def fields(c: Any) -> list[tuple[Any, ...]]:
        return [(p, e.definition, e.includes, e.excludes, e.colour.upper(), e.examples) for p, e in c.walk()]

    assert fields(back) == fields(cb)


def test_the_readme_csv_example_reads_as_documented(tmp_path: Path) -> None:
    from thematic.codebook.files import read_codebook

    readme = (CODEBOOKS / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```csv\n(.*?)```", readme, re.S)
    assert block, "README has no CSV example"
    f = tmp_path / "example.csv"
    f.write_text(block.group(1), encoding="utf-8")
    cb = read_codebook(f)
    paths = [p for p, _ in cb.walk()]
    assert paths[0] == ("Workshop delivery",) and len(paths) == len(block.group(1).strip().splitlines()) - 1
    assert all(len(p) == 2 and p[0] == "Workshop delivery" for p in paths[1:])
    assert all(e.definition for _, e in cb.walk())
    assert "path,definition,includes,excludes" in block.group(1)


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        ("top.yaml", "codes:\n  - name: Delivery\n    definition: one\n  - name: delivery\n    definition: two\n"),
        ("nested.yaml", "codes:\n  - name: T\n    children:\n      - name: Pace\n      - name: PACE\n"),
        ("top.csv", "path,definition\nDelivery/Pace,one\ndelivery/Pace,two\n"),
    ],
)
def test_documented_problems_stop_the_import_and_import_nothing(filename: str, text: str, tmp_path: Path) -> None:
    """The README promises: duplicate sibling names (ignoring case, at any level) stop the
    import with a one-line message, and nothing is imported."""
    from thematic.codebook.files import import_codebook, read_codebook
    from thematic.errors import InvalidInput
    from thematic.store import Store

    f = tmp_path / filename
    f.write_text(text, encoding="utf-8")
    store = Store(":memory:")
    try:
        with pytest.raises(InvalidInput) as err:
            import_codebook(store, read_codebook(f))
        assert "\n" not in str(err.value)
        assert store.scalar("SELECT count(*) FROM codes") == 0
    finally:
        store.close()
