"""The theme-tree diagram: from the code tree to positioned boxes and connectors (pure; no drawing here).

``tree_spec(store, ...)`` reads the study title, the themes (depth 0), subthemes (depth 1) and optionally codes
(depth 2) with their counts into a :class:`TreeSpec`. ``layout_tree(spec, ...)`` turns that into a :class:`Layout`:
boxes with wrapped text lines and orthogonal connectors, in points (1/72 inch). The backends in
:mod:`thematic.export.diagram` only draw a layout, so SVG, PNG and PDF show the same picture.

Two publication-style arrangements:

* ``tb`` (top-down): the title box on top, theme boxes in a row beneath it, each theme's subthemes stacked under it
  (and codes under their subtheme) with a spine and elbow connectors. More than ``max_columns`` themes wrap into
  further rows hanging from a trunk at the left.
* ``lr`` (left-right): title on the left, themes in a column, subthemes (and codes) in further columns, each parent
  centred on its children. It suits many themes: the figure grows down the page instead of across it.

``orientation="auto"`` chooses ``tb`` for up to ``max_columns`` themes and ``lr`` otherwise. Text is measured with
the real metrics of DejaVu Sans (the font that ships inside matplotlib), so wrapping needs no system fonts and the
layout is identical on every machine.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import InvalidInput
from ..store import Store

FONT_FAMILY = "DejaVu Sans"
COUNT_MODES = ("respondents", "segments", "none")
ORIENTATIONS = ("auto", "tb", "lr")
PALETTE = (
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377",
    "#332288", "#117733", "#999933", "#882255", "#44AA99", "#DDCC77",
)

# Typography (points) per level: 0 title, 1 theme, 2 subtheme, 3 code.
FONT_SIZE = {0: 12.0, 1: 9.5, 2: 8.5, 3: 7.5}
BOLD = {0: True, 1: True, 2: False, 3: False}
LINE = 1.22
PAD_X = 5.0
PAD_Y = 3.5
MARGIN = 12.0
EDGE_COLOUR = "#555555"
EDGE_WIDTH = 0.8
CAPTION_SIZE = 7.0


# ---------------------------------------------------------------------- the tree to draw


@dataclass(frozen=True)
class TreeNode:
    name: str
    n: int | None = None
    colour: str = ""
    children: tuple[TreeNode, ...] = ()
    code_id: int | None = None
    definition: str = ""


@dataclass(frozen=True)
class TreeSpec:
    title: str
    nodes: tuple[TreeNode, ...]
    total: int | None = None
    counts: str = "respondents"
    depth: int = 2


def tree_spec(
    store: Store, *, counts: str = "respondents", depth: int = 2, title: str | None = None, coder: str | None = None
) -> TreeSpec:
    """The study title and the code tree down to ``depth`` levels (2: themes and subthemes; 3: with codes)."""
    from ..codebook import tree
    from ..coding import code_counts

    if counts not in COUNT_MODES:
        raise InvalidInput(f"counts must be one of {', '.join(COUNT_MODES)}, not {counts!r}")
    if depth not in (1, 2, 3):
        raise InvalidInput(f"depth must be 1, 2 or 3, not {depth}")
    n_by_code = code_counts(store, coder=coder) if counts != "none" else {}
    index = 0 if counts == "segments" else 1

    def node(cn: Any, level: int, colour: str) -> TreeNode:
        c = cn.code
        kids = tuple(node(ch, level + 1, colour) for ch in cn.children) if level + 1 < depth else ()
        n = n_by_code.get(c.id, (0, 0))[index] if counts != "none" else None
        return TreeNode(_printable(c.name), n, colour, kids, c.id, c.definition)

    roots = []
    for i, cn in enumerate(tree(store)):
        roots.append(node(cn, 0, _valid_colour(cn.code.colour) or PALETTE[i % len(PALETTE)]))
    total: int | None = None
    if counts == "respondents":
        total = int(store.scalar("SELECT count(*) FROM forms") or 0)
    elif counts == "segments":
        total = int(store.scalar("SELECT count(*) FROM segments") or 0)
    study = _printable(title if title is not None else (store.get_setting("title", "") or "Thematic analysis"))
    return TreeSpec(study, tuple(roots), total, counts, depth)


def _printable(text: str) -> str:
    """One line of drawable text: control characters and runs of whitespace become single spaces."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())


def _valid_colour(colour: str) -> str:
    c = (colour or "").strip()
    if re.fullmatch(r"#[0-9a-fA-F]{6}", c):
        return c.upper()
    if re.fullmatch(r"#[0-9a-fA-F]{3}", c):
        return ("#" + "".join(ch * 2 for ch in c[1:])).upper()
    return ""


# ---------------------------------------------------------------------- text metrics


def font_path(bold: bool = False) -> str:
    """DejaVu Sans from matplotlib's data folder (found without importing matplotlib)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInput("matplotlib is needed for diagram fonts; install requirements.txt")
    base = list(spec.submodule_search_locations)[0]
    return os.path.join(base, "mpl-data", "fonts", "ttf", "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")


@lru_cache(maxsize=4)
def _font(bold: bool) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(font_path(bold), 200, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=20000)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """The advance width of ``text`` in points at ``size`` points."""
    return float(_font(bold).getlength(text)) * size / 200.0


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to ``width`` points (a word longer than a line is broken between characters)."""
    words = text.split(" ")
    lines: list[str] = []
    line = ""
    for word in words:
        if not word:
            continue
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size, bold) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        while text_width(word, size, bold) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut] + "-", size, bold) > width:
                cut -= 1
            lines.append(word[:cut] + "-")
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines or [""]


# ---------------------------------------------------------------------- the layout


@dataclass(frozen=True)
class TextLine:
    text: str
    x: float
    y: float  # baseline
    anchor: str  # "start" or "middle"


@dataclass(frozen=True)
class Box:
    key: str
    level: int
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str
    text_colour: str
    font_size: float
    bold: bool
    lines: tuple[TextLine, ...]
    name: str
    n: int | None = None
    code_id: int | None = None


@dataclass(frozen=True)
class Edge:
    points: tuple[tuple[float, float], ...]
    colour: str = EDGE_COLOUR
    width: float = EDGE_WIDTH


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    caption: tuple[TextLine, ...]
    orientation: str
    greyscale: bool
    title: str


def _mix(colour: str, amount: float) -> str:
    """``colour`` mixed with white (``amount`` 0: unchanged, 1: white)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02X}{:02X}{:02X}".format(*(round(v + (255 - v) * amount) for v in (r, g, b)))


def _ink_on(fill: str) -> str:
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#FFFFFF" if lum < 0.5 else "#1A1A1A"


def _style(level: int, colour: str, greyscale: bool) -> tuple[str, str, str]:
    """(fill, stroke, text colour) of a box."""
    if level == 0:
        return "#FFFFFF", "#333333", "#1A1A1A"
    if greyscale:
        return {1: ("#D9D9D9", "#333333", "#1A1A1A"), 2: ("#FFFFFF", "#666666", "#1A1A1A")}.get(
            level, ("#FFFFFF", "#A6A6A6", "#333333")
        )
    if level == 1:
        return colour, colour, _ink_on(colour)
    if level == 2:
        return _mix(colour, 0.78), colour, "#1A1A1A"
    return _mix(colour, 0.92), _mix(colour, 0.45), "#333333"


def _label(name: str, n: int | None, counts: str, level: int) -> str:
    if n is None or counts == "none":
        return name
    nb = "\u00a0"
    if level == 0:
        return f"{name} (N{nb}={nb}{n})"
    return f"{name} (n{nb}={nb}{n})"


def _make_box(
    key: str, level: int, x: float, y: float, w: float, label: str, colour: str, greyscale: bool,
    *, centred: bool, name: str, n: int | None, code_id: int | None, min_h: float = 0.0,
) -> Box:
    size, bold = FONT_SIZE[level], BOLD[level]
    lines = wrap(label, w - 2 * PAD_X, size, bold)
    lh = size * LINE
    h = max(min_h, 2 * PAD_Y + lh * len(lines))
    top = y + (h - lh * len(lines)) / 2
    fill, stroke, ink = _style(level, colour, greyscale)
    tl = tuple(
        TextLine(t, x + w / 2 if centred else x + PAD_X, top + lh * i + lh / 2 + 0.34 * size, "middle" if centred else "start")
        for i, t in enumerate(lines)
    )
    return Box(key, level, x, y, w, h, fill, stroke, ink, size, bold, tl, name, n, code_id)


def _box_height(label: str, level: int, w: float) -> float:
    return 2 * PAD_Y + FONT_SIZE[level] * LINE * len(wrap(label, w - 2 * PAD_X, FONT_SIZE[level], BOLD[level]))


def _moved(box: Box, dy: float) -> Box:
    lines = tuple(TextLine(t.text, t.x, t.y + dy, t.anchor) for t in box.lines)
    return Box(box.key, box.level, box.x, box.y + dy, box.w, box.h, box.fill, box.stroke, box.text_colour,
               box.font_size, box.bold, lines, box.name, box.n, box.code_id)


def _caption(spec: TreeSpec, width: float, y: float) -> tuple[tuple[TextLine, ...], float]:
    if spec.counts == "respondents":
        text = ("n = respondents (forms) with at least one segment coded at the theme, subtheme or any code below it; "
                "N = all respondents.")
    elif spec.counts == "segments":
        text = "n = coded segments at the theme, subtheme or any code below it; N = all segments."
    else:
        return (), y
    lines = wrap(text, width - 2 * MARGIN, CAPTION_SIZE)
    lh = CAPTION_SIZE * LINE
    out = tuple(TextLine(t, MARGIN, y + lh * i + lh * 0.8, "start") for i, t in enumerate(lines))
    return out, y + lh * len(lines)


def layout_tree(
    spec: TreeSpec, *, orientation: str = "auto", greyscale: bool = False, max_columns: int = 6,
    column_width: float | None = None,
) -> Layout:
    """Place the boxes and connectors of ``spec``. Same input, same output, to the last digit.

    ``column_width`` (points) defaults to what lets one row of themes fit about 1.2 x the width of an A4 text
    block, between 96 and 124 points."""
    if orientation not in ORIENTATIONS:
        raise InvalidInput(f"orientation must be one of {', '.join(ORIENTATIONS)}, not {orientation!r}")
    if orientation == "lr":
        return _layout_lr(spec, greyscale)

    def tb(per_row: int) -> Layout:
        cols = max(1, min(per_row, len(spec.nodes)))
        width = column_width or max(96.0, min(124.0, (ROW_TARGET - 2 * MARGIN - (cols - 1) * GAP_X) / cols))
        return _layout_tb(spec, greyscale, per_row, width)

    if orientation == "tb":
        return tb(max_columns)
    one_row = tb(max(1, len(spec.nodes)))
    if len(spec.nodes) <= max_columns and page_scale(one_row) >= 0.7:
        return one_row
    # Many themes: the arrangement that needs the least shrinking to fit an A4 text block (16.5 x 24 cm).
    candidates = [tb(k) for k in range(min(max_columns, len(spec.nodes)), 2, -1)]
    candidates.append(_layout_lr(spec, greyscale))
    return max(candidates, key=lambda lay: (round(page_scale(lay), 2), lay.orientation == "tb"))


ROW_TARGET = 570.0
GAP_X = 12.0
A4_TEXT = (468.0, 680.0)


def page_scale(layout: Layout, page: tuple[float, float] = A4_TEXT) -> float:
    """How much ``layout`` must be scaled to fit ``page`` (points); 1 means it fits at full size."""
    return min(1.0, page[0] / layout.width, page[1] / layout.height)


def _layout_tb(spec: TreeSpec, greyscale: bool, max_columns: int, col_w: float) -> Layout:
    gap_x, gap_y, indent, sub_indent = GAP_X, 5.0, 14.0, 10.0
    themes = list(spec.nodes)
    per_row = max(1, min(max_columns, len(themes) or 1))
    n_rows = max(1, -(-len(themes) // per_row))
    sizes = [len(themes) // n_rows + (1 if i < len(themes) % n_rows else 0) for i in range(n_rows)]
    rows = [themes[sum(sizes[:i]) : sum(sizes[: i + 1])] for i in range(n_rows)]
    per_row = max(sizes)
    multi = len(rows) > 1
    left = MARGIN + (12.0 if multi else 0.0)
    width = max(left + per_row * col_w + (per_row - 1) * gap_x + MARGIN, 240.0)
    boxes: list[Box] = []
    edges: list[Edge] = []
    title_label = _label(spec.title, spec.total, spec.counts, 0)
    tw = min(width - 2 * MARGIN, max(160.0, text_width(title_label, FONT_SIZE[0], True) + 2 * PAD_X + 24))
    title = _make_box("title", 0, (width - tw) / 2, MARGIN, tw, title_label, "#333333", greyscale,
                      centred=True, name=spec.title, n=spec.total, code_id=None)
    boxes.append(title)
    y = title.y + title.h + 10.0
    trunk_x = MARGIN + 4.0
    bus_ys: list[float] = []
    for r, row in enumerate(rows):
        bus_y = y
        bus_ys.append(bus_y)
        top = bus_y + 10.0
        labels = [_label(t.name, t.n, spec.counts, 1) for t in row]
        row_h = max((_box_height(lab, 1, col_w) for lab in labels), default=0.0)
        bottom = top + row_h
        centres = []
        for i, (t, lab) in enumerate(zip(row, labels)):
            x = left + i * (col_w + gap_x)
            tb = _make_box(f"t{r}.{i}", 1, x, top, col_w, lab, t.colour, greyscale, centred=True, name=t.name,
                           n=t.n, code_id=t.code_id, min_h=row_h)
            boxes.append(tb)
            centres.append(x + col_w / 2)
            edges.append(Edge(((x + col_w / 2, bus_y), (x + col_w / 2, top))))
            col_bottom = _stack(t.children, 2, x + indent, x + 7.0, tb.y + tb.h, col_w - indent, gap_y, sub_indent,
                                t.colour, spec.counts, greyscale, boxes, edges, f"t{r}.{i}")
            bottom = max(bottom, col_bottom)
        if centres:
            x0 = trunk_x if multi else min(centres + [width / 2])
            x1 = max(centres + ([width / 2] if r == 0 else []))
            edges.append(Edge(((x0, bus_y), (x1, bus_y))))
        y = bottom + 18.0
    edges.insert(0, Edge(((width / 2, title.y + title.h), (width / 2, bus_ys[0]))))
    if multi:
        edges.insert(1, Edge(((trunk_x, bus_ys[0]), (trunk_x, bus_ys[-1]))))
        edges.insert(1, Edge(((trunk_x, bus_ys[0]), (width / 2, bus_ys[0]))))
    caption, end = _caption(spec, width, y - 6.0)
    return Layout(round(width, 2), round(end + MARGIN, 2), tuple(boxes), tuple(edges), caption, "tb", greyscale,
                  spec.title)


def _stack(
    nodes: tuple[TreeNode, ...], level: int, x: float, spine_x: float, parent_bottom: float, w: float, gap_y: float,
    sub_indent: float, colour: str, counts: str, greyscale: bool, boxes: list[Box], edges: list[Edge], key: str,
) -> float:
    """Stack ``nodes`` under a parent box (bottom at ``parent_bottom``), with a spine at ``spine_x``; returns the
    bottom of the stack."""
    y = parent_bottom + gap_y + 2.0
    mids: list[float] = []
    for j, nd in enumerate(nodes):
        lab = _label(nd.name, nd.n, counts, level)
        b = _make_box(f"{key}.{j}", level, x, y, w, lab, colour, greyscale, centred=False, name=nd.name, n=nd.n,
                      code_id=nd.code_id)
        boxes.append(b)
        mid = y + b.h / 2
        mids.append(mid)
        edges.append(Edge(((spine_x, mid), (x, mid))))
        y = b.y + b.h
        if nd.children and level + 1 in FONT_SIZE:
            y = _stack(nd.children, level + 1, x + sub_indent, x + 5.0, y, w - sub_indent, gap_y - 1.5, sub_indent,
                       colour, counts, greyscale, boxes, edges, f"{key}.{j}")
        y += gap_y
    if mids:
        edges.append(Edge(((spine_x, parent_bottom), (spine_x, mids[-1]))))
        return y - gap_y
    return parent_bottom


def _layout_lr(spec: TreeSpec, greyscale: bool) -> Layout:
    widths = {0: 110.0, 1: 130.0, 2: 176.0, 3: 150.0}
    title_label = _label(spec.title, spec.total, spec.counts, 0)
    longest = max((text_width(w, FONT_SIZE[0], True) for w in title_label.split(" ")), default=0.0)
    widths[0] = min(190.0, max(widths[0], longest + 2 * PAD_X + 2))
    gap_x, gap_sib, gap_group = 22.0, 4.0, 9.0
    xs = {0: MARGIN}
    for lv in (1, 2, 3):
        xs[lv] = xs[lv - 1] + widths[lv - 1] + gap_x
    max_level = 1 + max((_depth(n) for n in spec.nodes), default=0)
    width = xs[max_level] + widths[max_level] + MARGIN if spec.nodes else xs[0] + widths[0] + MARGIN
    boxes: list[Box] = []
    edges: list[Edge] = []

    def heights(nd: TreeNode, level: int) -> tuple[float, float]:
        own = _box_height(_label(nd.name, nd.n, spec.counts, level), level, widths[level])
        kids = [heights(c, level + 1)[1] for c in nd.children]
        block = sum(kids) + gap_sib * max(0, len(kids) - 1)
        return own, max(own, block)

    def place(nd: TreeNode, level: int, top: float, key: str, colour: str) -> Box:
        own, total = heights(nd, level)
        kid_boxes: list[Box] = []
        if nd.children:
            block = sum(heights(c, level + 1)[1] for c in nd.children) + gap_sib * (len(nd.children) - 1)
            y = top + (total - block) / 2
            for j, c in enumerate(nd.children):
                kid_boxes.append(place(c, level + 1, y, f"{key}.{j}", colour))
                y += heights(c, level + 1)[1] + gap_sib
        if kid_boxes:
            centre = (kid_boxes[0].y + kid_boxes[0].h / 2 + kid_boxes[-1].y + kid_boxes[-1].h / 2) / 2
            y0 = min(max(centre - own / 2, top), top + total - own)
        else:
            y0 = top + (total - own) / 2
        b = _make_box(key, level, xs[level], y0, widths[level], _label(nd.name, nd.n, spec.counts, level), colour,
                      greyscale, centred=level <= 1, name=nd.name, n=nd.n, code_id=nd.code_id)
        boxes.append(b)
        if kid_boxes:
            _elbows(b, kid_boxes, edges)
        return b

    y = MARGIN
    theme_boxes = []
    for i, t in enumerate(spec.nodes):
        theme_boxes.append(place(t, 1, y, f"t{i}", t.colour))
        y += heights(t, 1)[1] + gap_group
    body_bottom = y - gap_group if spec.nodes else MARGIN
    th = _box_height(title_label, 0, widths[0])
    if theme_boxes:
        centre = (theme_boxes[0].y + theme_boxes[0].h / 2 + theme_boxes[-1].y + theme_boxes[-1].h / 2) / 2
    else:
        centre = MARGIN + th / 2
    title = _make_box("title", 0, xs[0], max(MARGIN, centre - th / 2), widths[0], title_label, "#333333", greyscale,
                      centred=True, name=spec.title, n=spec.total, code_id=None)
    boxes.insert(0, title)
    if theme_boxes:
        _elbows(title, theme_boxes, edges)
    bottom = max(body_bottom, title.y + title.h) + 8.0
    caption, end = _caption(spec, width, bottom)
    boxes.sort(key=lambda b: (b.level, b.y, b.x))
    return Layout(round(width, 2), round(end + MARGIN, 2), tuple(boxes), tuple(edges), caption, "lr", greyscale,
                  spec.title)


def _elbows(parent: Box, kids: list[Box], edges: list[Edge]) -> None:
    px, py = parent.x + parent.w, parent.y + parent.h / 2
    mx = px + (kids[0].x - px) / 2
    edges.append(Edge(((px, py), (mx, py))))
    ys = [k.y + k.h / 2 for k in kids]
    edges.append(Edge(((mx, min(ys + [py])), (mx, max(ys + [py])))))
    for k, ky in zip(kids, ys):
        edges.append(Edge(((mx, ky), (k.x, ky))))


def _depth(nd: TreeNode) -> int:
    return 1 + max((_depth(c) for c in nd.children), default=0) if nd.children else 0
