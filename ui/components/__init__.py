"""Small custom components (Streamlit components v2, inline HTML/JS/CSS; nothing to build).

* :mod:`ui.components.code_picker`: choose codes one at a time by typing (no bulk selection, ever).
* :mod:`ui.components.highlighter`: show whole answers as text, select any span with the mouse to code it,
  click a coded span to uncode it.
"""
