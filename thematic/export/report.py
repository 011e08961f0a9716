"""Reports: Word (python-docx), Markdown and JSON, generated from the project's data and audit trail.

The report has: the title; a method section that states, for each of Braun & Clarke's six phases, what the audit
trail shows was done and when (ingest, coding, candidate themes, reviewing moves and merges, definitions and
quotes, exports); the theme-tree figure (Word); a table of themes and subthemes with definitions and counts; per
theme its definition and illustrative quotes (the chosen ones, or the first coded segments, which it says); and a
summary of respondents by profession and gender when such metadata fields exist (forms without a value counted as
"(missing)", so each table adds up to every form). :func:`build_report` returns the
plain data, so the Streamlit page can show the same content.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ..memos import PHASES
from ..models import Code
from ..queries import meta_counts
from ..store import Store
from .safety import xml_text

# Audit actions (by prefix) that belong to each phase.
PHASE_ACTIONS: dict[int, tuple[str, ...]] = {
    1: ("ingest.", "source.", "import.", "form.", "segment.", "redact."),
    2: ("coding.", "codings.", "suggestion."),
    3: ("cluster.", "candidate.", "topic.", "codebook.import", "code.add", "code.ensure"),
    4: ("code.move", "code.merge", "code.delete", "code.promote", "code.demote", "agreement.", "adjudication."),
    5: ("code.update", "code.quotes"),
    6: ("export.",),
}
RESPONDENT_FIELDS = ("profession", "role", "job", "occupation", "staff group", "discipline", "gender", "sex")


@dataclass
class Quote:
    text: str
    respondent: str
    question: str
    chosen: bool


@dataclass
class ThemeEntry:
    code_id: int
    name: str
    path: list[str]
    definition: str
    includes: str
    excludes: str
    colour: str
    segments: int
    respondents: int
    quotes: list[Quote] = field(default_factory=list)
    quotes_chosen: bool = False
    children: list[ThemeEntry] = field(default_factory=list)


@dataclass
class Report:
    title: str
    method: list[str]
    themes: list[ThemeEntry]
    respondents: dict[str, list[tuple[str, int]]]
    counts: dict[str, int]
    coders: list[str]


# ---------------------------------------------------------------------- building the report data


def _date(ts: str) -> str:
    d = datetime.fromisoformat(ts)
    return f"{d.day} {d.strftime('%B %Y')}"


def _span(first: str, last: str) -> str:
    a, b = _date(first), _date(last)
    return f"on {a}" if a == b else f"between {a} and {b}"


def _events(store: Store) -> dict[int, list[Any]]:
    rows = store.query(
        "SELECT ts, actor, action, details FROM audit WHERE undone_by IS NULL AND action NOT IN ('undo', 'redo') "
        "ORDER BY id"
    )
    out: dict[int, list[Any]] = {p: [] for p in PHASES}
    for r in rows:
        for phase, prefixes in PHASE_ACTIONS.items():
            if any(r["action"] == p.rstrip(".") or r["action"].startswith(p) for p in prefixes):
                out[phase].append(r)
                break
    return out


def _n(count: int, one: str, many: str | None = None) -> str:
    """``1 move``, ``2 moves``, ``1 journal entry``/``3 journal entries`` (pass ``many`` when not ``one + 's'``)."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


# Keys under which an accept of a candidate theme records the members the analyst left out (a list or a count).
_EXCLUDE_KEYS = ("excluded", "exclude", "n_excluded", "left_out")


def _left_out(details: dict[str, Any]) -> int:
    for k in _EXCLUDE_KEYS:
        v = details.get(k)
        if isinstance(v, list):
            return len(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return 0


def _created_codes(store: Store) -> dict[str, int]:
    """How many codes each kind of change in effect created, counted from the undo log of the audit trail (each
    inserted code leaves one inverse statement). Incomplete once the undo history was purged (the caller checks)."""
    rows = store.query(
        "SELECT a.action, count(*) FROM undo_log u JOIN audit a ON a.id = u.event_id "
        "WHERE a.undone_by IS NULL AND a.action NOT IN ('undo', 'redo') "
        "AND u.stmt LIKE 'DELETE FROM \"codes\" WHERE rowid = %' GROUP BY a.action")
    return {str(r[0]): int(r[1]) for r in rows}


def written_definitions(store: Store) -> set[int]:
    """Ids of the codes whose definition a person wrote (typed it, or imported it from a codebook file).

    The text the machine put into ``definition`` when a candidate theme was accepted ("Accepted candidate theme
    from clustering run ...") is not a definition: a code made from a candidate counts as defined only once a
    person edited its definition (a ``code.update`` with a definition, still in effect, in the audit trail)."""
    from_candidates = {int(r[0]) for r in store.query(
        "SELECT code_id FROM cluster_candidates WHERE status = 'accepted' AND code_id IS NOT NULL")}
    edited: set[int] = set()
    for r in store.query(
        "SELECT details FROM audit WHERE action = 'code.update' AND undone_by IS NULL AND undo_of IS NULL"
    ):
        d = json.loads(r[0] or "{}")
        if "definition" in d and "code_id" in d:
            edited.add(int(d["code_id"]))
    out = set()
    for r in store.query("SELECT id FROM codes WHERE trim(definition) != ''"):
        cid = int(r[0])
        if cid not in from_candidates or cid in edited:
            out.add(cid)
    return out


@dataclass
class _MethodFacts:
    """What the Method section draws on: the audit events per phase, the memos per phase, the project's counts,
    its codes and the cluster accepts."""

    ev: dict[int, list[Any]]
    memo_n: dict[int, int]
    counts: dict[str, int]
    codes: list[Code]
    accepts: list[dict[str, Any]]

    def when(self, phase: int) -> str:
        rows = self.ev[phase]
        return _span(rows[0]["ts"], rows[-1]["ts"]) if rows else ""

    def memos(self, phase: int) -> str:
        n = self.memo_n.get(phase, 0)
        return f" {_n(n, 'reflexive memo')} {_was(n)} written in this phase." if n else ""


def _method_facts(store: Store) -> _MethodFacts:
    from ..codebook import list_codes

    ev = _events(store)
    memo_n = {int(r[0]): int(r[1]) for r in store.query(
        "SELECT phase, count(*) FROM memos WHERE phase IS NOT NULL GROUP BY phase")}
    accepts = [json.loads(r["details"] or "{}") for r in ev[3] if r["action"] == "cluster.accept"]
    return _MethodFacts(ev=ev, memo_n=memo_n, counts=store.counts(), codes=list_codes(store), accepts=accepts)


def _phase1_ingest(f: _MethodFacts) -> str:
    c = f.counts
    p1 = (f"{_n(c['forms'], 'feedback form')} with {_n(c['questions'], 'open question')} {_was(c['forms'])} imported "
          f"({_n(c['answers'], 'non-empty answer')}, split into {_n(c['segments'], 'segment')} for coding)")
    return f"Phase 1 ({PHASES[1].lower()}): {p1}" + (f" {f.when(1)}." if f.ev[1] else ".") + f.memos(1)


def _coding_origins(origins: dict[str, int], accepts: list[dict[str, Any]]) -> list[str]:
    """How the codings were made, one clause per origin that has any."""
    parts = []
    if origins.get("human", 0):
        parts.append(f"{origins['human']:,} by hand")
    if origins.get("suggestion", 0):
        parts.append(f"{origins['suggestion']:,} accepted one by one from suggested codes")
    if origins.get("cluster", 0) or accepts:
        left = sum(_left_out(d) for d in accepts)
        parts.append(
            f"{origins.get('cluster', 0):,} accepted in bulk, all members of a candidate theme at once, when "
            f"{_n(len(accepts), 'candidate theme')} from clustering {_was(len(accepts))} accepted as codes "
            f"({_n(left, 'segment')} left out by the analyst)")
    if origins.get("import", 0):
        parts.append(f"{origins['import']:,} imported from another program or file")
    if origins.get("adjudication", 0):
        parts.append(f"{origins['adjudication']:,} decided in adjudication")
    if origins.get("merge", 0):
        parts.append(f"{origins['merge']:,} merged from another coder's project")
    return parts


def _phase2_coding(store: Store, f: _MethodFacts) -> str:
    c = f.counts
    if not c["codings"]:
        return f"Phase 2 ({PHASES[2].lower()}): no codings have been recorded yet." + f.memos(2)
    coders = [r[0] for r in store.query(
        "SELECT DISTINCT k.name FROM codings c JOIN coders k ON k.id = c.coder_id ORDER BY k.name")]
    origins = {r[0]: int(r[1]) for r in store.query("SELECT origin, count(*) FROM codings GROUP BY origin")}
    coded_segments = int(store.scalar("SELECT count(DISTINCT segment_id) FROM codings") or 0)
    who = f"{_n(len(coders), 'coder')} ({', '.join(coders)})" if coders else "no coder"
    text = (f"{who} applied {_n(c['codings'], 'coding')} to {_n(coded_segments, 'segment')}"
            + (f" {f.when(2)}" if f.ev[2] else "") + ":")
    text += " " + "; ".join(_coding_origins(origins, f.accepts)) + "."
    return f"Phase 2 ({PHASES[2].lower()}): " + text + f.memos(2)


def _codes_made(created: dict[str, int]) -> tuple[int, list[str]]:
    """How many codes the audit trail shows were created, and the clauses saying how."""
    by_hand = created.get("code.add", 0) + created.get("code.ensure", 0) + sum(
        n for a, n in created.items() if a.startswith(("coding.", "suggestion.")))
    from_cands = created.get("cluster.accept", 0)
    imported = created.get("codebook.import", 0) + sum(n for a, n in created.items() if a.startswith("import."))
    made = [f"{by_hand:,} by hand"] if by_hand else []
    if from_cands:
        made.append(f"{from_cands:,} from accepted candidate themes")
    if imported:
        made.append(f"{imported:,} imported from a codebook")
    other = sum(created.values()) - by_hand - from_cands - imported
    if other:
        made.append(f"{other:,} in other recorded steps")
    return by_hand + from_cands + imported + other, made


def _code_creation(store: Store, f: _MethodFacts) -> str:
    """The codes created and how, or, once the undo history was purged, only what the codes show."""
    total, made = _codes_made(_created_codes(store))
    text = (f"{_n(total, 'code')} {_was(total)} created ({', '.join(made)})" + (f" {f.when(3)}" if f.ev[3] else "")
            if total else "no code creation is recorded")
    codes = f.codes
    if (codes and not total) or store.scalar("SELECT count(*) FROM audit WHERE action = 'purge-history'"):
        # The undo history (which records each code made) was purged: say only what the codes show.
        machine = int(store.scalar(
            "SELECT count(*) FROM codes WHERE id IN (SELECT code_id FROM cluster_candidates WHERE status = 'accepted')")
            or 0)
        text = (f"the project has {_n(len(codes), 'code')} ({machine:,} made from accepted candidate themes, "
                f"{len(codes) - machine:,} created by hand or imported); how many each step made is not known "
                "since the undo history was purged")
    return text


def _phase3_codes(store: Store, f: _MethodFacts) -> str:
    text = _code_creation(store, f)
    clusters = [r for r in f.ev[3] if r["action"].startswith(("cluster.", "candidate.", "topic."))
                and r["action"] != "cluster.accept"]
    if clusters:
        text += (f"; segments were also clustered automatically into candidate themes "
                 f"{_span(clusters[0]['ts'], clusters[-1]['ts'])} ({_n(len(clusters), 'clustering step')})")
        if f.accepts:
            text += f", of which the analysts accepted {_n(len(f.accepts), 'candidate theme')}"
    return f"Phase 3 ({PHASES[3].lower()}): " + text + "." + f.memos(3)


def _phase4_review(f: _MethodFacts) -> str:
    if not f.ev[4]:
        return f"Phase 4 ({PHASES[4].lower()}): no moves, merges or agreement checks are recorded." + f.memos(4)
    kinds: dict[str, int] = {}
    for r in f.ev[4]:
        kinds[r["action"]] = kinds.get(r["action"], 0) + 1
    parts = [_n(n, one) for one, n in (
        ("move", kinds.get("code.move", 0) + kinds.get("code.promote", 0) + kinds.get("code.demote", 0)),
        ("merge", kinds.get("code.merge", 0)), ("deletion", kinds.get("code.delete", 0)),
        ("agreement check", sum(v for k, v in kinds.items() if k.startswith(("agreement.", "adjudication.")))),
    ) if n]
    return (f"Phase 4 ({PHASES[4].lower()}): the themes were reviewed against the coded data {f.when(4)} "
            f"({', '.join(parts)})." + f.memos(4))


def _phase5_definitions(store: Store, f: _MethodFacts) -> str:
    codes = f.codes
    depth_n = {0: 0, 1: 0}
    for code in codes:
        if code.depth in depth_n:
            depth_n[code.depth] += 1
    defined = len(written_definitions(store) & {code.id for code in codes})
    n_quotes = int(store.scalar("SELECT count(*) FROM quotes") or 0)
    if len(codes) == 1:
        defs = f"the only code has {'a' if defined else 'no'} definition written by a person"
    else:
        defs = f"{defined:,} of {len(codes):,} codes {'has' if defined == 1 else 'have'} a definition written by a person"
    text = (f"the final tree has {_n(depth_n[0], 'theme')} and {_n(depth_n[1], 'subtheme')}; {defs} and "
            f"{_n(n_quotes, 'illustrative quote')} {_was(n_quotes)} chosen")
    if f.ev[5]:
        text += f" (names, definitions and quotes edited {f.when(5)})"
    return f"Phase 5 ({PHASES[5].lower()}): " + text + "." + f.memos(5)


def _phase6_exports(f: _MethodFacts) -> str:
    if not f.ev[6]:
        return f"Phase 6 ({PHASES[6].lower()}): this report was generated from the project file." + f.memos(6)
    fmts = sorted({r["action"].split(".", 1)[1] for r in f.ev[6]})
    return (f"Phase 6 ({PHASES[6].lower()}): results were exported {f.when(6)} ({', '.join(fmts)}); this report "
            "was generated from the project file." + f.memos(6))


def method_paragraphs(store: Store) -> list[str]:
    """One factual sentence or two per phase, every figure from the audit trail and the project's contents."""
    f = _method_facts(store)
    return [
        _phase1_ingest(f),
        _phase2_coding(store, f),
        _phase3_codes(store, f),
        _phase4_review(f),
        _phase5_definitions(store, f),
        _phase6_exports(f),
    ]


def _quotes(store: Store, code_id: int, limit: int) -> tuple[list[Quote], bool]:
    from ..codebook import descendant_ids, quotes
    from ..corpus import get_segments

    chosen = quotes(store, code_id)
    ids = chosen
    if not ids:
        codes = [code_id, *descendant_ids(store, code_id)]
        marks = ",".join("?" * len(codes))
        ids = [r[0] for r in store.query(
            f"SELECT DISTINCT s.id FROM codings c JOIN segments s ON s.id = c.segment_id "
            f"JOIN answers a ON a.id = s.answer_id JOIN questions q ON q.id = a.question_id "
            f"WHERE c.code_id IN ({marks}) ORDER BY a.form_id, q.position, s.position LIMIT ?", [*codes, limit])]
    labels = {r[0]: r[1] for r in store.query("SELECT key, label FROM questions")}
    segs = get_segments(store, ids)
    return [Quote(xml_text(s.text.strip()), xml_text(s.external_id), xml_text(labels.get(s.question, s.question)),
                  bool(chosen)) for s in segs], bool(chosen)


def build_report(store: Store, *, counts: str = "respondents", depth: int = 2, coder: str | None = None,
                 title: str | None = None, quotes_per_theme: int = 3) -> Report:
    from ..codebook import tree
    from ..coding import code_counts
    from ..corpus import meta_fields

    totals = code_counts(store, coder=coder)
    written = written_definitions(store)

    def entry(node: Any, level: int) -> ThemeEntry:
        c = node.code
        seg, resp = totals.get(c.id, (0, 0))
        qs, chosen = _quotes(store, c.id, quotes_per_theme if level == 0 else 2)
        definition = c.definition if c.id in written else ""  # machine text is not a definition
        e = ThemeEntry(c.id, xml_text(c.name), [xml_text(p) for p in c.path], xml_text(definition),
                       xml_text(c.includes), xml_text(c.excludes), c.colour, seg, resp, qs, chosen)
        if level + 1 < depth:
            e.children = [entry(ch, level + 1) for ch in node.children]
        return e

    resp: dict[str, list[tuple[str, int]]] = {}
    for f in meta_fields(store):
        if any(k in f.casefold() for k in RESPONDENT_FIELDS):
            values = meta_counts(store, f)  # forms without a value count as "(missing)"
            if len(values) <= 40:
                resp[xml_text(f)] = [(xml_text(v), n) for v, n in values]
    coders = [r[0] for r in store.query(
        "SELECT DISTINCT k.name FROM codings c JOIN coders k ON k.id = c.coder_id ORDER BY k.name")]
    return Report(
        title=xml_text(title if title is not None else (store.get_setting("title", "") or "Thematic analysis")),
        method=method_paragraphs(store),
        themes=[entry(n, 0) for n in tree(store)],
        respondents=resp,
        counts=store.counts(),
        coders=coders,
    )


def _theme_rows(themes: list[ThemeEntry]) -> list[tuple[str, str, str, int, int]]:
    rows = []
    for t in themes:
        rows.append((t.name, "", t.definition, t.segments, t.respondents))
        for s in t.children:
            rows.append(("", s.name, s.definition, s.segments, s.respondents))
    return rows


def _heading(t: ThemeEntry, counts: str) -> str:
    if counts == "none":
        return t.name
    return f"{t.name} (n = {t.segments if counts == 'segments' else t.respondents})"


def _attribution(q: Quote) -> str:
    return f"respondent {q.respondent}, {q.question}"


# ---------------------------------------------------------------------- renderers


def render_json(store: Store, *, counts: str = "respondents", depth: int = 2, coder: str | None = None,
                title: str | None = None) -> bytes:
    rep = build_report(store, counts=counts, depth=max(depth, 3), coder=coder, title=title)
    doc = {
        "format": "thematic-tree/1",
        "title": rep.title,
        "counts": rep.counts,
        "coders": rep.coders,
        "count_meaning": {"segments": "distinct coded segments, subcodes included",
                          "respondents": "distinct forms with a coded segment, subcodes included"},
        "themes": [asdict(t) for t in rep.themes],
        "respondents": {k: [{"value": v, "n": n} for v, n in vals] for k, vals in rep.respondents.items()},
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _md_cell(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render_markdown(store: Store, *, counts: str = "respondents", depth: int = 2, coder: str | None = None,
                    title: str | None = None) -> bytes:
    rep = build_report(store, counts=counts, depth=depth, coder=coder, title=title)
    out = [f"# {rep.title}", "", "## Method", ""]
    for p in rep.method:
        out += [p, ""]
    out += ["## Themes", "", "| Theme | Subtheme | Definition | Segments | Respondents |", "|---|---|---|---:|---:|"]
    for row in _theme_rows(rep.themes):
        out.append("| " + " | ".join(_md_cell(x) for x in row) + " |")
    out.append("")
    for t in rep.themes:
        out += [f"### {_heading(t, counts)}", ""]
        if t.definition:
            out += [t.definition, ""]
        out += _md_quotes(t)
        for s in t.children:
            out += [f"#### {_heading(s, counts)}", ""]
            if s.definition:
                out += [s.definition, ""]
            out += _md_quotes(s)
    if rep.respondents:
        out += ["## Respondents", ""]
        for f, vals in rep.respondents.items():
            out += [f"| {_md_cell(f)} | Forms |", "|---|---:|"]
            out += [f"| {_md_cell(v or '(blank)')} | {n} |" for v, n in vals]
            out.append("")
    return ("\n".join(out).rstrip() + "\n").encode("utf-8")


def _md_quotes(t: ThemeEntry) -> list[str]:
    if not t.quotes:
        return ["*No coded segments yet.*", ""]
    out = [] if t.quotes_chosen else ["*No quotes were chosen for this theme; the first coded segments are shown.*", ""]
    for q in t.quotes:
        out += [f"> \u201c{q.text}\u201d ({_attribution(q)})", ""]
    return out


def _docx_document(title: str) -> Any:
    """A new A4 Word document with 2.5 cm margins, the report's title and 10.5 pt body text."""
    from docx import Document
    from docx.shared import Cm, Mm, Pt

    doc = Document()
    for section in doc.sections:  # A4 with 2.5 cm margins (python-docx's template is US Letter)
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = Cm(2.5)
    doc.core_properties.title = title
    doc.core_properties.author = "thematic"
    doc.styles["Normal"].font.size = Pt(10.5)
    return doc


def _docx_figure(doc: Any, store: Store, *, counts: str, depth: int, coder: str | None, title: str | None,
                 greyscale: bool, orientation: str) -> None:
    """The theme-tree figure (300 dpi PNG, 16 cm wide) and its caption."""
    from docx.shared import Cm

    from . import diagram
    from .tree import layout_tree, tree_spec

    png = diagram.to_png(layout_tree(tree_spec(store, counts=counts, depth=depth, title=title, coder=coder),
                                     greyscale=greyscale, orientation=orientation), dpi=300)
    doc.add_picture(io.BytesIO(png), width=Cm(16))
    cap = doc.add_paragraph("Figure 1. Superordinate themes and subthemes" + (
        " with the number of respondents" if counts == "respondents" else
        " with the number of coded segments" if counts == "segments" else "") + ".")
    cap.runs[0].italic = True


def _docx_theme_table(doc: Any, themes: list[ThemeEntry]) -> None:
    """The table of themes and subthemes (bold header and theme names, fixed column widths, 9 pt text)."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.shared import Cm, Pt

    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell_, name in zip(table.rows[0].cells, ("Theme", "Subtheme", "Definition", "Segments", "Respondents")):
        cell_.text = ""
        cell_.paragraphs[0].add_run(name).bold = True
    for row in _theme_rows(themes):
        cells = table.add_row().cells
        for i, v in enumerate(row):
            cells[i].text = str(v)
            if i == 0 and v:
                cells[i].paragraphs[0].runs[0].bold = True
    table.autofit = False
    widths = (Cm(3.0), Cm(3.4), Cm(6.0), Cm(1.6), Cm(2.0))
    for row_ in table.rows:
        for cell_, width in zip(row_.cells, widths):
            cell_.width = width
            for par in cell_.paragraphs:
                for run in par.runs:
                    run.font.size = Pt(9)


def _docx_themes(doc: Any, themes: list[ThemeEntry], counts: str) -> None:
    """Per theme, then per subtheme: a heading, its definition and its quotes."""
    for t in themes:
        doc.add_heading(_heading(t, counts), level=2)
        if t.definition:
            doc.add_paragraph(t.definition)
        _docx_quotes(doc, t)
        for s in t.children:
            doc.add_heading(_heading(s, counts), level=3)
            if s.definition:
                doc.add_paragraph(s.definition)
            _docx_quotes(doc, s)


def _docx_respondents(doc: Any, respondents: dict[str, list[tuple[str, int]]]) -> None:
    """The Respondents section: one two-column table per metadata field."""
    doc.add_heading("Respondents", level=1)
    for f, vals in respondents.items():
        tbl = doc.add_table(rows=1, cols=2)
        tbl.style = "Table Grid"
        tbl.rows[0].cells[0].paragraphs[0].add_run(f.capitalize()).bold = True
        tbl.rows[0].cells[1].paragraphs[0].add_run("Forms").bold = True
        for v, n in vals:
            cells = tbl.add_row().cells
            cells[0].text, cells[1].text = v or "(blank)", str(n)
        doc.add_paragraph()


def render_docx(store: Store, *, counts: str = "respondents", depth: int = 2, coder: str | None = None,
                title: str | None = None, figure: bool = True, greyscale: bool = False, orientation: str = "auto") -> bytes:
    rep = build_report(store, counts=counts, depth=depth, coder=coder, title=title)
    doc = _docx_document(rep.title)
    doc.add_heading(rep.title, level=0)
    doc.add_heading("Method", level=1)
    for p in rep.method:
        doc.add_paragraph(p)
    if figure and rep.themes:
        _docx_figure(doc, store, counts=counts, depth=depth, coder=coder, title=title, greyscale=greyscale,
                     orientation=orientation)
    doc.add_heading("Themes", level=1)
    _docx_theme_table(doc, rep.themes)
    _docx_themes(doc, rep.themes, counts)
    if rep.respondents:
        _docx_respondents(doc, rep.respondents)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _docx_quotes(doc: Any, t: ThemeEntry) -> None:
    if not t.quotes:
        doc.add_paragraph("No coded segments yet.").runs[0].italic = True
        return
    if not t.quotes_chosen:
        doc.add_paragraph("No quotes were chosen for this theme; the first coded segments are shown.").runs[0].italic = True
    for q in t.quotes:
        p = doc.add_paragraph(style="Quote")
        p.add_run(f"\u201c{q.text}\u201d")
        p.add_run(f" ({_attribution(q)})").italic = False
