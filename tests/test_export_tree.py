"""Theme-tree diagrams: pure layout, SVG/PNG/PDF/DOT/Mermaid backends, legibility for small and large trees."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from thematic.codebook import add_code
from thematic.coding import apply_code_many
from thematic.store import Store, now

REPO = Path(__file__).resolve().parents[1]
CMT = REPO / "codebooks" / "cmt_for_all.yaml"

QUESTIONS = [("interested", "What interested you most and why?"), ("unhelpful", "What was unhelpful?")]
PROFESSIONS = ["Nurse", "Psychologist", "Occupational therapist", "Support worker", "Doctor"]
TEXTS = [
    "Learning about the three circles made sense of my stress at work.",
    "The breathing exercise was calming and I will use it with patients.",
    "Sharing with colleagues in a safe space felt supportive.",
    "=SUM(A1:A2) the room was too cold",
    "I want follow-up sessions to keep practising.",
    "The facilitators were warm and knowledgeable, with lived experience.",
]


def add_corpus(store: Store, n_forms: int = 40) -> list[int]:
    """Forms with two answers each, one segment per sentence, and profession/gender metadata."""
    segs: list[int] = []
    with store.action("test.ingest", "Add test corpus") as act:
        qids = [act.insert("INSERT INTO questions (key, label, position) VALUES (?, ?, ?)", (k, lab, i))
                for i, (k, lab) in enumerate(QUESTIONS)]
        for f in range(n_forms):
            fid = act.insert("INSERT INTO forms (external_id, source_row) VALUES (?, ?)", (f"R{f + 1:03d}", f + 2))
            act.execute("INSERT INTO form_meta VALUES (?, 'profession', ?)", (fid, PROFESSIONS[f % len(PROFESSIONS)]))
            act.execute("INSERT INTO form_meta VALUES (?, 'gender', ?)", (fid, "Female" if f % 3 else "Male"))
            for qi, qid in enumerate(qids):
                a, b = TEXTS[(f + qi) % len(TEXTS)], TEXTS[(f * 7 + qi + 1) % len(TEXTS)]
                text = f"{a} {b}"
                aid = act.insert("INSERT INTO answers (form_id, question_id, text) VALUES (?, ?, ?)", (fid, qid, text))
                segs.append(act.insert(
                    "INSERT INTO segments (answer_id, position, start, \"end\", text) VALUES (?, 0, 0, ?, ?)",
                    (aid, len(a) + 1, a + " ")))
                segs.append(act.insert(
                    "INSERT INTO segments (answer_id, position, start, \"end\", text) VALUES (?, 1, ?, ?, ?)",
                    (aid, len(a) + 1, len(text), b)))
    return segs


def build_project(store: Store, themes: int = 4, subthemes: int = 12, n_forms: int = 40, seed: int = 1,
                  codebook: Path | None = None, codes_per_sub: int = 0) -> None:
    """A coded project: the CMT codebook (4 x 12) when available, else generated names; seeded random codings."""
    store.set_setting("title", "Compassionate Mind Training for All: staff evaluation")
    segs = add_corpus(store, n_forms)
    if codebook is not None and codebook.exists():
        from thematic.codebook.files import import_codebook, read_codebook
        import_codebook(store, read_codebook(codebook))
    else:
        words = ["Understanding", "Practice", "Group", "Delivery", "Barriers", "Wellbeing", "Workplace",
                 "Self-criticism", "Relationships", "Follow-up support"]
        per = [subthemes // themes + (1 if i < subthemes % themes else 0) for i in range(themes)]
        for t in range(themes):
            tid = add_code(store, f"{words[t % len(words)]} and the experience of theme {t + 1}",
                           definition=f"Definition of theme {t + 1}.")
            for s in range(per[t]):
                sid = add_code(store, f"Subtheme {t + 1}.{s + 1}: a longer descriptive name that needs wrapping",
                               parent_id=tid, definition=f"What subtheme {t + 1}.{s + 1} covers.")
                for c in range(codes_per_sub):
                    add_code(store, f"Code {t + 1}.{s + 1}.{c + 1}", parent_id=sid)
    rng = random.Random(seed)
    leaves = [r[0] for r in store.query("SELECT id FROM codes WHERE id NOT IN (SELECT parent_id FROM codes "
                                         "WHERE parent_id IS NOT NULL) ORDER BY id")]
    for i, cid in enumerate(leaves):
        chosen = rng.sample(segs, k=min(len(segs), rng.randint(2, 14)))
        apply_code_many(store, chosen, cid, "alice" if i % 2 else "bob")


# ---------------------------------------------------------------------------------------------- tests

from lxml import etree  # noqa: E402

from thematic import export  # noqa: E402
from thematic.errors import InvalidInput  # noqa: E402
from thematic.export.tree import PAD_X, layout_tree, page_scale, text_width, tree_spec, wrap  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def cmt() -> Iterator[Store]:
    s = Store(":memory:")
    build_project(s, codebook=CMT, n_forms=40)
    yield s
    s.close()


@pytest.fixture(scope="module")
def big() -> Iterator[Store]:
    s = Store(":memory:")
    build_project(s, themes=10, subthemes=40, n_forms=30)
    yield s
    s.close()


def _overlap(a, b) -> bool:  # type: ignore[no-untyped-def]
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _check_legible(layout) -> None:  # type: ignore[no-untyped-def]
    boxes = layout.boxes
    for i, a in enumerate(boxes):
        assert 0 <= a.x and a.x + a.w <= layout.width + 0.01 and 0 <= a.y and a.y + a.h <= layout.height + 0.01
        for b in boxes[i + 1 :]:
            assert not _overlap(a, b), (a.name, b.name)
        for line in a.lines:  # every line fits inside its box, measured with the real font
            assert text_width(line.text, a.font_size, a.bold) <= a.w - 2 * PAD_X + 0.01
            assert a.y < line.y < a.y + a.h


def test_wrap_uses_font_metrics_and_breaks_long_words() -> None:
    lines = wrap("Psychoeducation facilitating an understanding of compassion", 90, 9)
    assert len(lines) >= 3 and all(text_width(x, 9) <= 90 for x in lines)
    assert " ".join(lines) == "Psychoeducation facilitating an understanding of compassion"
    assert text_width("WWWW", 10) > text_width("iiii", 10)  # proportional, not a character count
    long = wrap("Supercalifragilisticexpialidocious" * 2, 60, 9)
    assert len(long) > 1 and all(text_width(x, 9) <= 60 for x in long)


def test_spec_reads_title_themes_subthemes_and_rolled_up_counts(cmt: Store) -> None:
    from thematic.coding import code_counts

    spec = tree_spec(cmt)
    assert spec.title.startswith("Compassionate") and spec.total == 40
    assert [len(t.children) for t in spec.nodes] == [4, 4, 2, 2]
    counts = code_counts(cmt)
    for t in spec.nodes:
        assert t.n == counts[t.code_id][1] and t.colour.startswith("#")
        assert t.n >= max(c.n for c in t.children)  # a theme counts its subthemes' respondents
        assert all(c.children == () for c in t.children)  # depth 2
    seg = tree_spec(cmt, counts="segments")
    assert seg.nodes[0].n == counts[seg.nodes[0].code_id][0]
    assert tree_spec(cmt, counts="none").nodes[0].n is None


def test_four_by_twelve_layout_is_top_down_legible_and_fits_a4(cmt: Store) -> None:
    lay = layout_tree(tree_spec(cmt))
    assert lay.orientation == "tb"
    _check_legible(lay)
    themes = [b for b in lay.boxes if b.level == 1]
    assert len(themes) == 4 and len({b.y for b in themes}) == 1  # in one row
    subs = [b for b in lay.boxes if b.level == 2]
    assert len(subs) == 12
    for s in subs:  # stacked under their own theme
        owner = next(t for t in themes if t.key == s.key.rsplit(".", 1)[0])
        assert owner.x <= s.x and s.x + s.w <= owner.x + owner.w + 0.01 and s.y > owner.y + owner.h
    assert page_scale(lay) >= 0.8  # subtheme text stays >= ~6.8 pt at A4 text width
    for e in lay.edges:  # orthogonal connectors only
        for (x0, y0), (x1, y1) in zip(e.points, e.points[1:]):
            assert x0 == x1 or y0 == y1


def test_ten_by_forty_stays_legible(big: Store) -> None:
    lay = layout_tree(tree_spec(big))
    _check_legible(lay)
    assert sum(b.level == 2 for b in lay.boxes) == 40
    assert page_scale(lay) >= 0.65  # wraps into rows instead of one 1,300 pt wide row
    assert page_scale(lay) > page_scale(layout_tree(tree_spec(big), orientation="tb", max_columns=10))
    lr = layout_tree(tree_spec(big), orientation="lr")
    _check_legible(lr)
    assert lr.orientation == "lr"


def test_depth_three_and_greyscale(cmt: Store) -> None:
    s = Store(":memory:")
    build_project(s, themes=2, subthemes=3, n_forms=10, codes_per_sub=2)
    lay = layout_tree(tree_spec(s, depth=3), greyscale=True)
    _check_legible(lay)
    assert sum(b.level == 3 for b in lay.boxes) == 6
    for b in lay.boxes:
        for colour in (b.fill, b.stroke, b.text_colour):
            r, g, bl = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
            assert r == g == bl, colour
    coloured = layout_tree(tree_spec(s, depth=2))
    assert sum(b.level == 3 for b in coloured.boxes) == 0
    theme = next(b for b in coloured.boxes if b.level == 1)
    sub = next(b for b in coloured.boxes if b.level == 2)
    assert theme.fill != sub.fill and sub.stroke == theme.fill  # subthemes: a lighter tint of their theme


def test_svg_is_clean_deterministic_and_has_text_as_text(cmt: Store) -> None:
    a = export.render(cmt, "svg")
    assert a == export.render(cmt, "svg")
    root = etree.fromstring(a)
    assert root.tag == SVG + "svg" and root.get("viewBox", "").startswith("0 0 ")
    assert "DejaVu Sans" in root.get("font-family", "")
    texts = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    for name in ("Comprehension of", "Workshop delivery", "The power of group", "Future reflective"):
        assert name in texts
    assert len(root.findall(f".//{SVG}rect")) == 1 + 1 + 4 + 12  # background, title, themes, subthemes


def test_png_is_300_dpi_and_pdf_has_the_text(cmt: Store) -> None:
    from PIL import Image
    from pypdf import PdfReader

    png = export.render(cmt, "png")
    img = Image.open(io.BytesIO(png))
    lay = layout_tree(tree_spec(cmt))
    assert round(img.info["dpi"][0]) == 300
    assert abs(img.width - lay.width / 72 * 300) <= 2 and abs(img.height - lay.height / 72 * 300) <= 2
    pdf = export.render(cmt, "pdf")
    assert pdf == export.render(cmt, "pdf")  # no timestamps
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert "Workshop delivery" in text and "power of group" in text
    w = float(reader.pages[0].mediabox.width)
    assert abs(w - lay.width) < 1


def test_dot_and_mermaid_escape_quotes(store: Store) -> None:
    store.set_setting("title", 'A "quoted" study # 1 <b>')
    t = add_code(store, 'Theme "one" \\ back')
    add_code(store, "Sub <two> & #3", parent_id=t)
    dot = export.render(store, "dot", counts="none").decode()
    assert 'label="A \\"quoted\\" study # 1 <b>"' in dot and 'label="Theme \\"one\\" \\\\ back"' in dot
    assert "root -> n0;" in dot and "n0 -> n0_0;" in dot
    mmd = export.render(store, "mermaid", counts="none").decode()
    assert 'root["A #quot;quoted#quot; study #35; 1 #lt;b#gt;"]' in mmd
    assert 'n0_0["Sub #lt;two#gt; #amp; #35;3"]' in mmd
    assert '"' not in mmd.replace('["', "").replace('"]', "")


def test_empty_project_still_draws_the_title(store: Store) -> None:
    root = etree.fromstring(export.render(store, "svg"))
    assert [t.text for t in root.iter(SVG + "text")][0].startswith("Thematic analysis")


def test_export_project_writes_path_or_file_and_audits(cmt: Store, tmp_path: Path) -> None:
    out = tmp_path / "tree.svg"
    export.export_project(cmt, "svg", out)
    assert out.read_bytes() == export.render(cmt, "svg")
    buf = io.BytesIO()
    export.export_project(cmt, "mermaid", buf)
    assert buf.getvalue().startswith(b"flowchart")
    assert cmt.audit_log(limit=1)[0].action == "export.mermaid"
    with pytest.raises(InvalidInput, match="does not exist"):
        export.export_project(cmt, "svg", tmp_path / "missing" / "x.svg")
    with pytest.raises(InvalidInput, match="unknown export format"):
        export.render(cmt, "gif")
