"""The code tree as rows you drag: drop between two rows to move a code there (same order kept for the others),
drop onto a code to put it under that code or merge it in (the page asks which). Each row shows the code's colour
swatch, its name, and its respondent/segment counts.

Data in: ``nodes`` in tree order, each ``{"id", "name", "depth", "colour", "counts", "defined"}``. Trigger out:
``drop`` = ``{"code", "target", "where"}`` with ``where`` one of ``before``, ``after``, ``onto``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

_CSS = """
.ttree { font-size: 0.95rem; user-select: none; }
.ttree .row { display: flex; align-items: center; gap: 0.4rem; padding: 0.22rem 0.4rem; border-radius: 0.35rem;
  cursor: grab; border-top: 2px solid transparent; border-bottom: 2px solid transparent; }
.ttree .row:hover { background: rgba(151, 166, 195, 0.15); }
.ttree .row.dragging { opacity: 0.4; }
.ttree .row.drop-before { border-top-color: #1f77b4; }
.ttree .row.drop-after { border-bottom-color: #1f77b4; }
.ttree .row.drop-onto { background: rgba(31, 119, 180, 0.18); outline: 2px solid #1f77b4; }
.ttree .sw { width: 0.85rem; height: 0.85rem; border-radius: 3px; flex: none; border: 1px solid rgba(0,0,0,0.2); }
.ttree .name { font-weight: 400; }
.ttree .row.top .name { font-weight: 600; }
.ttree .counts { opacity: 0.65; font-size: 0.82rem; margin-left: 0.3rem; }
.ttree .grip { opacity: 0.35; font-size: 0.8rem; }
.ttree .hint { opacity: 0.6; font-size: 0.8rem; margin-top: 0.4rem; }
"""

_JS = r"""
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(":scope > .ttree");
  if (!root) { root = document.createElement("div"); root.className = "ttree"; parentElement.appendChild(root); }
  root.replaceChildren();
  const nodes = (data && data.nodes) || [];
  let dragged = null;
  const clear = () => root.querySelectorAll(".row").forEach((r) =>
    r.classList.remove("drop-before", "drop-after", "drop-onto"));
  const zone = (row, e) => {
    const b = row.getBoundingClientRect();
    const y = (e.clientY - b.top) / Math.max(1, b.height);
    return y < 0.28 ? "before" : y > 0.72 ? "after" : "onto";
  };
  for (const n of nodes) {
    const row = document.createElement("div");
    row.className = "row" + (n.depth === 0 ? " top" : "");
    row.draggable = true;
    row.dataset.code = n.id;
    row.style.paddingLeft = (0.4 + 1.4 * n.depth) + "rem";
    row.title = "Drag: drop between two codes to move it there, onto a code to put it under that code or merge it";
    const grip = document.createElement("span"); grip.className = "grip"; grip.textContent = "\u2630";
    const sw = document.createElement("span"); sw.className = "sw"; sw.style.background = n.colour || "transparent";
    const name = document.createElement("span"); name.className = "name"; name.textContent = n.name;
    const counts = document.createElement("span"); counts.className = "counts"; counts.textContent = n.counts || "";
    row.append(grip, sw, name, counts);
    row.addEventListener("dragstart", (e) => {
      dragged = n.id; row.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", String(n.id));
    });
    row.addEventListener("dragend", () => { row.classList.remove("dragging"); clear(); dragged = null; });
    row.addEventListener("dragover", (e) => {
      if (dragged === null || dragged === n.id) return;
      e.preventDefault();
      clear();
      row.classList.add("drop-" + zone(row, e));
    });
    row.addEventListener("dragleave", () => row.classList.remove("drop-before", "drop-after", "drop-onto"));
    row.addEventListener("drop", (e) => {
      e.preventDefault();
      const code = dragged !== null ? dragged : Number(e.dataTransfer.getData("text/plain"));
      clear();
      if (!code || code === n.id) return;
      setTriggerValue("drop", { code: code, target: n.id, where: zone(row, e) });
    });
    root.appendChild(row);
  }
  const hint = document.createElement("div");
  hint.className = "hint";
  hint.textContent = nodes.length ? "Drag a code: between two codes to move it there; onto a code to put it " +
    "under that code or merge it into it. Every change can be undone." : "";
  root.appendChild(hint);
}
"""

_component = st.components.v2.component("thematic_code_tree", html="", css=_CSS, js=_JS, isolate_styles=False)


def code_tree(key: str, nodes: Sequence[dict[str, Any]], *, on_drop: Callable[[], None] | None = None) -> Any:
    return _component(key=key, data={"nodes": list(nodes)}, on_drop_change=on_drop or (lambda: None))


def dropped(value: Any) -> dict[str, Any] | None:
    """The ``drop`` trigger of the component's state (None when absent or malformed)."""
    drop = value.get("drop") if isinstance(value, dict) else getattr(value, "drop", None)
    if not isinstance(drop, dict) or drop.get("where") not in ("before", "after", "onto"):
        return None
    try:
        return {"code": int(drop["code"]), "target": int(drop["target"]), "where": str(drop["where"])}
    except (KeyError, TypeError, ValueError):
        return None


def colours(codes: Sequence[Any]) -> dict[int, str]:
    """Each code's colour: its own, else its nearest ancestor's (codes in tree order, parents first)."""
    out: dict[int, str] = {}
    for c in codes:
        out[c.id] = c.colour or (out.get(c.parent_id, "") if c.parent_id is not None else "")
    return out
