"""Drawing a theme-tree :class:`~thematic.export.tree.Layout`: SVG (written by hand), PNG and PDF (matplotlib,
Agg/PDF backends, no pyplot, no cairo, no Graphviz), plus DOT and Mermaid text for people who restyle elsewhere.

All outputs are deterministic: the same layout gives byte-identical SVG, DOT and Mermaid, and PNG/PDF carry no
timestamps.
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr

from .safety import xml_text
from .tree import CAPTION_SIZE, EDGE_COLOUR, FONT_FAMILY, Layout, TreeNode, TreeSpec, _label, _style

SVG_FONTS = "'DejaVu Sans', 'Bitstream Vera Sans', 'Liberation Sans', Arial, Helvetica, sans-serif"
RADIUS = 2.5
_LOCK = threading.Lock()  # rc_context changes matplotlib's global settings: one render at a time
if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

_RC: dict[RcKeyType, Any] = {"text.hinting": "none", "text.hinting_factor": 1, "svg.fonttype": "none"}
BOX_STROKE = 0.9


def escape(s: str) -> str:
    return _escape(xml_text(s))


def _f(v: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (stable across runs)."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


# ---------------------------------------------------------------------- SVG


def to_svg(layout: Layout) -> bytes:
    w, h = layout.width, layout.height
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_f(w)}pt" height="{_f(h)}pt" '
        f'viewBox="0 0 {_f(w)} {_f(h)}" font-family={quoteattr(SVG_FONTS)}>',
        f"<title>{escape(layout.title)}</title>",
        "<desc>Theme tree exported by thematic: study title, superordinate themes and their subthemes.</desc>",
        f'<rect x="0" y="0" width="{_f(w)}" height="{_f(h)}" fill="#FFFFFF"/>',
        f'<g id="connectors" fill="none" stroke="{EDGE_COLOUR}" stroke-width="{_f(layout.edges[0].width) if layout.edges else "0.8"}" '
        'stroke-linecap="square">',
    ]
    for e in layout.edges:
        d = "M" + " L".join(f"{_f(x)} {_f(y)}" for x, y in e.points)
        out.append(f'<path d="{d}"/>')
    out.append("</g>")
    out.append('<g id="boxes">')
    for b in layout.boxes:
        kind = {0: "title", 1: "theme", 2: "subtheme"}.get(b.level, "code")
        out.append(f'<g class="{kind}" id={quoteattr(b.key)}>')
        out.append(
            f'<rect x="{_f(b.x)}" y="{_f(b.y)}" width="{_f(b.w)}" height="{_f(b.h)}" rx="{_f(RADIUS)}" '
            f'fill="{b.fill}" stroke="{b.stroke}" stroke-width="{_f(BOX_STROKE)}"/>'
        )
        weight = ' font-weight="bold"' if b.bold else ""
        for t in b.lines:
            out.append(
                f'<text x="{_f(t.x)}" y="{_f(t.y)}" font-size="{_f(b.font_size)}"{weight} '
                f'text-anchor="{t.anchor}" fill="{b.text_colour}">{escape(t.text)}</text>'
            )
        out.append("</g>")
    out.append("</g>")
    if layout.caption:
        out.append(f'<g id="caption" font-size="{_f(CAPTION_SIZE)}" fill="#4D4D4D">')
        for t in layout.caption:
            out.append(f'<text x="{_f(t.x)}" y="{_f(t.y)}">{escape(t.text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode("utf-8")


# ---------------------------------------------------------------------- PNG and PDF (matplotlib)


def _figure(layout: Layout) -> object:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch

    fig = Figure(figsize=(layout.width / 72.0, layout.height / 72.0), facecolor="white")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)
    ax.set_axis_off()
    for e in layout.edges:
        xs = [p[0] for p in e.points]
        ys = [p[1] for p in e.points]
        ax.add_line(Line2D(xs, ys, color=e.colour, linewidth=e.width, solid_capstyle="projecting", zorder=1))
    for b in layout.boxes:
        ax.add_patch(
            FancyBboxPatch(
                (b.x, b.y), b.w, b.h, boxstyle=f"round,pad=0,rounding_size={RADIUS}", facecolor=b.fill,
                edgecolor=b.stroke, linewidth=BOX_STROKE, zorder=2,
            )
        )
        for t in b.lines:
            ax.text(
                t.x, t.y, t.text, fontsize=b.font_size, fontfamily=FONT_FAMILY,
                fontweight="bold" if b.bold else "normal", color=b.text_colour,
                ha="center" if t.anchor == "middle" else "left", va="baseline", zorder=3,
            )
    for t in layout.caption:
        ax.text(t.x, t.y, t.text, fontsize=CAPTION_SIZE, fontfamily=FONT_FAMILY, color="#4D4D4D", ha="left",
                va="baseline")
    return fig


def to_png(layout: Layout, *, dpi: int = 300) -> bytes:
    """A PNG at ``dpi`` (300 by default), with the resolution recorded in the file."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # Unhinted glyphs keep the advance widths the layout measured, at any resolution.
    with _LOCK, matplotlib.rc_context(_RC):
        fig = _figure(layout)
        FigureCanvasAgg(fig)  # type: ignore[arg-type]
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})  # type: ignore[attr-defined]
    return buf.getvalue()


def to_pdf(layout: Layout) -> bytes:
    """A vector PDF with the font embedded as TrueType (text stays selectable and searchable)."""
    import matplotlib
    from matplotlib.backends.backend_pdf import FigureCanvasPdf

    with _LOCK, matplotlib.rc_context({**_RC, "pdf.fonttype": 42}):
        fig = _figure(layout)
        FigureCanvasPdf(fig)  # type: ignore[arg-type]
        buf = io.BytesIO()
        fig.savefig(  # type: ignore[attr-defined]
            buf, format="pdf", metadata={"CreationDate": None, "Title": layout.title, "Creator": "thematic"}
        )
    return buf.getvalue()


# ---------------------------------------------------------------------- DOT and Mermaid


def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "") + '"'


def _walk(spec: TreeSpec) -> list[tuple[str, str, int, TreeNode | None, str]]:
    """(id, parent id, level, node, colour) for the title and every node, in tree order."""
    rows: list[tuple[str, str, int, TreeNode | None, str]] = [("root", "", 0, None, "#333333")]

    def rec(nodes: tuple[TreeNode, ...], parent: str, level: int) -> None:
        for i, nd in enumerate(nodes):
            nid = f"{parent}_{i}" if parent != "root" else f"n{i}"
            rows.append((nid, parent, level, nd, nd.colour))
            rec(nd.children, nid, level + 1)

    rec(spec.nodes, "root", 1)
    return rows


def _colours(level: int, colour: str, greyscale: bool) -> tuple[str, str, str]:
    return _style(level, colour, greyscale)


def to_dot(spec: TreeSpec, *, orientation: str = "tb", greyscale: bool = False) -> str:
    rankdir = "LR" if orientation == "lr" else "TB"
    out = [
        "digraph themes {",
        f'  graph [rankdir={rankdir}, splines=ortho, nodesep=0.25, ranksep=0.4, fontname="{FONT_FAMILY}"];',
        f'  node [shape=box, style="rounded,filled", fontname="{FONT_FAMILY}", fontsize=10, margin="0.12,0.06"];',
        f'  edge [arrowhead=none, color="{EDGE_COLOUR}"];',
    ]
    for nid, parent, level, nd, colour in _walk(spec):
        name = spec.title if nd is None else nd.name
        n = spec.total if nd is None else nd.n
        fill, stroke, ink = _colours(level, colour, greyscale)
        weight = ', fontname="DejaVu Sans Bold"' if level <= 1 else ""
        out.append(
            f"  {nid} [label={_dot_str(_label(name, n, spec.counts, level).replace(chr(160), ' '))}, "
            f'fillcolor="{fill}", color="{stroke}", fontcolor="{ink}"{weight}];'
        )
        if parent:
            out.append(f"  {parent} -> {nid};")
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_str(s: str) -> str:
    table = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "\n": " ", "\r": " "}
    return '"' + "".join(table.get(ch, ch) for ch in s) + '"'


def to_mermaid(spec: TreeSpec, *, orientation: str = "tb", greyscale: bool = False) -> str:
    out = [f"flowchart {'LR' if orientation == 'lr' else 'TB'}"]
    styles = []
    for nid, parent, level, nd, colour in _walk(spec):
        name = spec.title if nd is None else nd.name
        n = spec.total if nd is None else nd.n
        out.append(f"  {nid}[{_mermaid_str(_label(name, n, spec.counts, level).replace(chr(160), ' '))}]")
        if parent:
            out.append(f"  {parent} --- {nid}")
        fill, stroke, ink = _colours(level, colour, greyscale)
        styles.append(f"  style {nid} fill:{fill},stroke:{stroke},color:{ink}")
    return "\n".join(out + styles) + "\n"


__all__ = ["to_dot", "to_mermaid", "to_pdf", "to_png", "to_svg"]
