"""A code picker that can only add what the analyst points at.

Streamlit's multiselect commits the first row of its menu on Enter, and that row is "Select all" / "Select N
matches" when it shows (Ctrl+Enter included), so a keyboard user could code a segment with every code by accident.
This picker has no bulk action: Enter adds the highlighted match (moved with ↑/↓), or the one code whose name is
exactly what was typed, or, when no code matches at all, a new code of that name (shown as "new"). When several
codes match and none is highlighted, Enter adds nothing and says so. Ctrl+Enter is left to the page (the "Apply
and next" button's shortcut); Escape clears the text, and in an empty box leaves it (so ← and → move between
segments again). The chosen codes are the component state ``chosen``: a list of code paths; new
names are prefixed ``NEW_PREFIX``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

NEW_PREFIX = "\u2795 "

_CSS = """
.picker { font-family: var(--st-font, sans-serif); font-size: 0.95rem; }
.picker label { display:block; font-size: 0.875rem; margin-bottom: 0.25rem; color: var(--st-text-color); }
.picker .box { display:flex; flex-wrap:wrap; gap:0.25rem; align-items:center; border:1px solid
  var(--st-border-color, #d5d5d5); border-radius:0.5rem; padding:0.25rem 0.4rem; background:
  var(--st-secondary-background-color, #f0f2f6); }
.picker .chip { display:inline-flex; align-items:center; gap:0.2rem; background: var(--st-primary-color, #ff4b4b);
  color:white; border-radius:0.3rem; padding:0.05rem 0.4rem; font-size:0.85rem; }
.picker .chip.new { background:#555; }
.picker .chip button { border:none; background:transparent; color:white; cursor:pointer; padding:0 0.1rem; }
.picker input { flex:1; min-width:10rem; border:none; outline:none; background:transparent; padding:0.35rem 0.2rem;
  font-size:0.95rem; color: var(--st-text-color); }
.picker ul { list-style:none; margin:0.2rem 0 0 0; padding:0; border:1px solid var(--st-border-color, #d5d5d5);
  border-radius:0.4rem; max-height:14rem; overflow-y:auto; }
.picker li { padding:0.3rem 0.6rem; cursor:pointer; }
.picker li.hl, .picker li:hover { background: var(--st-secondary-background-color, #eef); }
.picker li.newopt { font-style: italic; }
.picker li.more { cursor: default; opacity: 0.6; font-size: 0.85rem; }
.picker .hint { font-size:0.8rem; color:#666; min-height:1.1rem; margin-top:0.15rem; }
"""

_JS = r"""
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let st = parentElement.__picker;
  if (!st) {
    st = { chosen: [], text: "", hl: -1 };
    parentElement.__picker = st;
    const root = document.createElement("div");
    root.className = "picker";
    root.innerHTML = '<label></label><div class="box"><span class="chips"></span>' +
      '<input type="text" autocomplete="off" spellcheck="false"></div><ul hidden></ul><div class="hint"></div>';
    parentElement.appendChild(root);
    st.root = root;
    st.input = root.querySelector("input");
    st.input.addEventListener("input", () => { st.text = st.input.value; st.hl = -1; st.hint = ""; draw(); });
    st.input.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;          // Ctrl+Enter belongs to the page
      const opts = st.options;
      if (e.key === "ArrowDown" && opts.length) { e.preventDefault(); st.hl = Math.min(opts.length - 1, st.hl + 1); draw(); }
      else if (e.key === "ArrowUp" && opts.length) { e.preventDefault(); st.hl = Math.max(-1, st.hl - 1); draw(); }
      else if (e.key === "Escape") {                              // clears the text; when empty, leaves the box
        if (!st.input.value) { st.input.blur(); return; }
        st.text = ""; st.input.value = ""; st.hl = -1; draw();
      }
      else if (e.key === "Backspace" && !st.input.value && st.chosen.length) { st.chosen.pop(); commit(); }
      else if (e.key === "Enter") {
        e.preventDefault(); e.stopPropagation();
        const t = st.text.trim();
        if (!t) return;
        if (st.hl >= 0 && st.hl < opts.length) { add(opts[st.hl]); return; }
        const low = t.toLowerCase();
        const exact = st.codes.filter((p) => p.toLowerCase() === low ||
          p.split("/").pop().toLowerCase() === low);
        if (exact.length === 1) { add({ path: exact[0], isNew: false }); return; }
        const matching = opts.filter((o) => !o.isNew);
        if (matching.length === 0) { add({ path: t, isNew: true }); return; }
        st.hint = matching.length + " codes contain \u201c" + t + "\u201d: press \u2193 to pick one, or click it.";
        draw();
      }
    });
  }
  if (data && data.autofocus && !st.focused) { st.focused = true; setTimeout(() => st.input.focus(), 0); }
  st.codes = (data && data.codes) || [];
  st.label = (data && data.label) || "Codes";
  st.root.querySelector("label").textContent = st.label;
  st.input.placeholder = (data && data.placeholder) || "Type to find a code\u2026";
  st.input.setAttribute("aria-label", st.label);

  function add(opt) {
    const path = opt.isNew ? __NEW__ + opt.path : opt.path;
    if (!st.chosen.includes(path)) st.chosen.push(path);
    st.text = ""; st.input.value = ""; st.hl = -1; st.hint = "";
    commit();
    st.input.focus();
  }
  function commit() { draw(); setStateValue("chosen", st.chosen.slice()); }
  function draw() {
    const chips = st.root.querySelector(".chips");
    chips.replaceChildren();
    st.chosen.forEach((p, i) => {
      const c = document.createElement("span");
      const isNew = p.startsWith(__NEW__);
      c.className = "chip" + (isNew ? " new" : "");
      c.textContent = isNew ? "new: " + p.slice(__NEW__.length) : p;
      const x = document.createElement("button");
      x.type = "button"; x.textContent = "\u00d7"; x.title = "Remove " + p; x.tabIndex = -1;
      x.onclick = () => { st.chosen.splice(i, 1); commit(); };
      c.appendChild(x); chips.appendChild(c);
    });
    const t = st.text.trim(), low = t.toLowerCase();
    let opts = [];
    st.more = 0;
    if (t) {
      const all = st.codes.filter((p) => p.toLowerCase().includes(low) && !st.chosen.includes(p));
      st.more = Math.max(0, all.length - 12);
      opts = all.slice(0, 12).map((p) => ({ path: p, isNew: false }));
      if (!st.codes.some((p) => p.toLowerCase() === low)) opts.push({ path: t, isNew: true });
    }
    st.options = opts;
    const ul = st.root.querySelector("ul");
    ul.replaceChildren();
    ul.hidden = opts.length === 0;
    opts.forEach((o, i) => {
      const li = document.createElement("li");
      li.textContent = o.isNew ? "New code: " + o.path : o.path;
      if (o.isNew) li.className = "newopt";
      if (i === st.hl) li.classList.add("hl");
      li.onmousedown = (e) => { e.preventDefault(); add(o); };
      ul.appendChild(li);
    });
    if (st.more > 0 && opts.length) {
      const li = document.createElement("li");
      li.className = "more";
      li.textContent = "\u2026 " + st.more + " more: keep typing";
      ul.appendChild(li);
    }
    st.root.querySelector(".hint").textContent = st.hint || "";
  }
  draw();
}
""".replace("__NEW__", repr(NEW_PREFIX).replace("'", '"'))

_picker = st.components.v2.component("thematic_code_picker", html="", css=_CSS, js=_JS)


def code_picker(
    key: str,
    codes: Sequence[str],
    *,
    label: str,
    placeholder: str = "Type to find a code…",
    on_change: Callable[[], None] | None = None,
    autofocus: bool = False,
) -> list[str]:
    """Draw the picker; returns the chosen paths (new names keep ``NEW_PREFIX``). ``autofocus``: put the cursor in
    it when it appears (after "Apply and next", so the next segment is coded without reaching for the mouse)."""
    result: Any = _picker(
        key=key,
        data={"codes": list(codes), "label": label, "placeholder": placeholder, "autofocus": autofocus},
        default={"chosen": []},
        on_chosen_change=on_change or (lambda: None),
    )
    return list(getattr(result, "chosen", None) or [])


def strip_new(path: str) -> tuple[str, bool]:
    """``(name, is_new)`` of one chosen entry."""
    return (path[len(NEW_PREFIX):], True) if path.startswith(NEW_PREFIX) else (path, False)
