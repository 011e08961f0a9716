"""Whole answers as text: select any span with the mouse to code it; click a coded span to uncode it.

Data in: ``answers``, each ``{"id", "label", "text", "marks": [{"seg", "code", "name", "colour", "start", "end",
"mine"}]}`` with offsets in the answer's text, plus ``pending`` (the selection being coded, drawn outlined). The
component works in UTF-16 offsets (JavaScript strings); :func:`highlighter` converts from and to Python's
character offsets, so an emoji before a span never shifts it.

State out: ``selection`` = ``{"answer", "start", "end", "text"}`` (Python offsets, set when a mouse selection
ends inside one answer); trigger ``clicked`` = ``{"answer", "offset"}`` (a click on coded text) or
``{"seg", "code"}`` (a click on a code named in the margin).

Coded text is tinted with its code's colour; each coding adds a stripe under its text (several codes, several
stripes), and the margin beside each answer names every code with the start of its span.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

_CSS = """
.thl-answer { margin: 0 0 1rem 0; }
.thl-label { font-size: 0.85rem; color: var(--st-text-color, #31333f); opacity: 0.7; margin-bottom: 0.2rem; }
.thl-row { display: flex; gap: 1rem; align-items: flex-start; }
.thl-text { flex: 3; white-space: pre-wrap; line-height: 2.1; font-size: 1rem; cursor: text;
  border: 1px solid rgba(49, 51, 63, 0.15); border-radius: 0.5rem; padding: 0.5rem 0.75rem; user-select: text; }
.thl-text span.coded { cursor: pointer; border-radius: 2px; }
.thl-text span.pending { outline: 2px dashed #1f77b4; outline-offset: 1px; }
.thl-margin { flex: 1.2; font-size: 0.8rem; line-height: 1.3; min-width: 9rem; }
.thl-margin div { border-left: 4px solid #999; padding: 0.1rem 0.4rem; margin-bottom: 0.3rem; cursor: pointer; }
.thl-margin div b { display: block; }
.thl-margin div span { opacity: 0.7; }
.thl-margin div.theirs { opacity: 0.55; }
.thl-empty { opacity: 0.6; font-style: italic; }
"""

_JS = r"""
export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const answers = (data && data.answers) || [];
  const pending = (data && data.pending) || null;
  let root = parentElement.querySelector(":scope > .thl-root");
  if (!root) {
    root = document.createElement("div");
    root.className = "thl-root";
    parentElement.appendChild(root);
  }
  root.replaceChildren();
  const hex = (c, a) => {
    const m = /^#?([0-9a-f]{6})$/i.exec(c || "");
    if (!m) return "rgba(150,150,150," + a + ")";
    const n = parseInt(m[1], 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  };
  for (const ans of answers) {
    const box = document.createElement("div");
    box.className = "thl-answer";
    box.dataset.answer = ans.id;
    const label = document.createElement("div");
    label.className = "thl-label";
    label.textContent = ans.label;
    box.appendChild(label);
    const row = document.createElement("div");
    row.className = "thl-row";
    const textDiv = document.createElement("div");
    textDiv.className = "thl-text";
    textDiv.dataset.answer = ans.id;
    const text = ans.text || "";
    const marks = ans.marks || [];
    const cuts = new Set([0, text.length]);
    for (const m of marks) { cuts.add(m.start); cuts.add(m.end); }
    if (pending && pending.answer === ans.id) { cuts.add(pending.start); cuts.add(pending.end); }
    const pts = [...cuts].filter((x) => x >= 0 && x <= text.length).sort((a, b) => a - b);
    for (let i = 0; i + 1 < pts.length; i++) {
      const a = pts[i], b = pts[i + 1];
      if (a === b) continue;
      const piece = document.createElement("span");
      piece.textContent = text.slice(a, b);
      piece.dataset.off = a;
      const on = marks.filter((m) => m.start <= a && m.end >= b);
      if (on.length) {
        on.sort((x, y) => (y.end - y.start) - (x.end - x.start));   // innermost (shortest) last
        piece.className = "coded";
        piece.style.background = hex(on[on.length - 1].colour, 0.28);
        piece.style.boxShadow = on.map((m, k) => "inset 0 -" + (3 * (k + 1)) + "px 0 " + hex(m.colour, 1)).join(", ");
        piece.title = on.map((m) => m.name + (m.mine ? "" : " (" + m.coder + ")")).join("\n") + "\nClick to uncode";
      }
      if (pending && pending.answer === ans.id && pending.start <= a && pending.end >= b) piece.classList.add("pending");
      textDiv.appendChild(piece);
    }
    if (!text) { textDiv.textContent = "(no answer)"; textDiv.classList.add("thl-empty"); }
    const margin = document.createElement("div");
    margin.className = "thl-margin";
    for (const m of marks) {
      const d = document.createElement("div");
      d.style.borderLeftColor = hex(m.colour, 1);
      if (!m.mine) d.className = "theirs";
      const b = document.createElement("b");
      b.textContent = m.name;
      const s = document.createElement("span");
      const t = text.slice(m.start, m.end);
      s.textContent = (m.mine ? "" : m.coder + ": ") + "\u201c" + (t.length > 40 ? t.slice(0, 39) + "\u2026" : t) + "\u201d";
      d.append(b, s);
      d.title = "Click to uncode";
      d.dataset.seg = m.seg; d.dataset.code = m.code;
      d.addEventListener("click", () => setTriggerValue("clicked", { seg: m.seg, code: m.code }));
      margin.appendChild(d);
    }
    row.append(textDiv, margin);
    box.appendChild(row);
    root.appendChild(box);
    textDiv.addEventListener("mouseup", () => {
      const sel = window.getSelection();
      if (!sel || sel.rangeCount === 0) return;
      const r = sel.getRangeAt(0);
      if (sel.isCollapsed) return;
      if (!textDiv.contains(r.startContainer) || !textDiv.contains(r.endContainer)) return;
      const pre = document.createRange();
      pre.setStart(textDiv, 0);
      pre.setEnd(r.startContainer, r.startOffset);
      const start = pre.toString().length;
      const end = start + r.toString().length;
      if (end <= start) return;
      setStateValue("selection", { answer: ans.id, start: start, end: end, text: text.slice(start, end), n: Date.now() });
    });
    textDiv.addEventListener("click", (e) => {
      const sel = window.getSelection();
      if (sel && !sel.isCollapsed) return;
      const piece = e.target.closest && e.target.closest("span.coded");
      if (!piece) return;
      setTriggerValue("clicked", { answer: ans.id, offset: Number(piece.dataset.off) });
    });
  }
}
"""

_component = st.components.v2.component("thematic_highlighter", html="", css=_CSS, js=_JS, isolate_styles=False)


def to_utf16(text: str, i: int) -> int:
    """The JavaScript (UTF-16) offset of Python character offset ``i`` in ``text``."""
    return i + sum(1 for ch in text[:i] if ord(ch) > 0xFFFF)


def from_utf16(text: str, j: int) -> int:
    """The Python character offset of JavaScript (UTF-16) offset ``j`` in ``text``."""
    units = 0
    for i, ch in enumerate(text):
        if units >= j:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def highlighter(
    key: str,
    answers: Sequence[dict[str, Any]],
    *,
    pending: dict[str, Any] | None = None,
    on_select: Callable[[], None] | None = None,
    on_click: Callable[[], None] | None = None,
) -> Any:
    """Draw the answers; offsets in ``answers``/``pending`` are Python character offsets."""
    texts = {int(a["id"]): str(a["text"]) for a in answers}
    out = []
    for a in answers:
        t = texts[int(a["id"])]
        marks = [
            {**m, "start": to_utf16(t, int(m["start"])), "end": to_utf16(t, int(m["end"]))} for m in a.get("marks", [])
        ]
        out.append({**a, "marks": marks})
    pend = None
    if pending is not None and int(pending["answer"]) in texts:
        t = texts[int(pending["answer"])]
        pend = {"answer": int(pending["answer"]), "start": to_utf16(t, int(pending["start"])),
                "end": to_utf16(t, int(pending["end"]))}
    return _component(
        key=key,
        data={"answers": out, "pending": pend},
        default={"selection": None},
        on_selection_change=on_select or (lambda: None),
        on_clicked_change=on_click or (lambda: None),
    )


def selection_in(value: Any, answers: dict[int, str]) -> dict[str, Any] | None:
    """The component's ``selection`` state in Python offsets (None if absent or not in these answers)."""
    sel = value.get("selection") if isinstance(value, dict) else getattr(value, "selection", None)
    if not isinstance(sel, dict) or int(sel.get("answer", -1)) not in answers:
        return None
    text = answers[int(sel["answer"])]
    start, end = from_utf16(text, int(sel["start"])), from_utf16(text, int(sel["end"]))
    if not 0 <= start < end <= len(text):
        return None
    return {"answer": int(sel["answer"]), "start": start, "end": end, "text": text[start:end]}
