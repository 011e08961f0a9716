"""Arranging codes into a tree of themes and subthemes (phase 3): a live tree view and the moves
(create a theme, move under, promote, demote, rename, merge, delete), each one undoable step."""

from __future__ import annotations

import streamlit as st

from thematic import codebook, coding
from thematic.models import CodeNode
from thematic.store import Store

from . import store as ui_store
from .components.code_tree import code_tree, colours, dropped
from .errors import attempt, show
from .widgets import md_escape, shown_as

TOP = 0  # the "top level" choice in parent pickers


def tree_markdown(nodes: list[CodeNode], counts: dict[int, tuple[int, int]], depth: int = 0) -> list[str]:
    lines = []
    for n in nodes:
        segs, resp = counts.get(n.code.id, (0, 0))
        mark = "**" if depth == 0 else ""
        flag = "" if n.code.definition else " ·  _no definition_"
        lines.append(f"{'    ' * depth}- {mark}{md_escape(n.code.name)}{mark} — {resp} respondent{'' if resp == 1 else 's'}, "
                     f"{segs} segment{'' if segs == 1 else 's'}{flag}")
        lines += tree_markdown(n.children, counts, depth + 1)
    return lines


def _done(message: str) -> None:
    st.session_state["tree_ok"] = message
    ui_store.changed()


def _moved(code_id: int) -> None:
    """The success line of a move names the code and where it went (so two moves in a row read differently)."""
    code = codebook.get_code(ui_store.get_store(), code_id)
    where = f"under \u201c{code.path[-2]}\u201d" if len(code.path) > 1 else "to the top level"
    _done(f"Moved \u201c{code.name}\u201d {where}.")


def _create() -> None:
    name = st.session_state.get("tree_new_name", "")
    parent = st.session_state.get("tree_new_parent") or None
    if attempt("tree", codebook.add_code, ui_store.get_store(), name, parent_id=parent, actor=ui_store.actor()):
        st.session_state["tree_new_name"] = ""
        _done(f"Created '{name.strip()}'.")


def _move() -> None:
    code = st.session_state.get("tree_code")
    parent = st.session_state.get("tree_parent") or None
    if code is None:
        return
    attempt("tree", codebook.move_code, ui_store.get_store(), code, parent, actor=ui_store.actor())
    if "tree_error" not in st.session_state:
        _moved(code)


def _simple(fn_name: str, message: str) -> None:
    code = st.session_state.get("tree_code")
    if code is None:
        return
    fn = getattr(codebook, fn_name)
    attempt("tree", fn, ui_store.get_store(), code, actor=ui_store.actor())
    if "tree_error" not in st.session_state:
        _done(message)


def _rename() -> None:
    code = st.session_state.get("tree_code")
    name = st.session_state.get("tree_rename", "")
    if code is None:
        return
    attempt("tree", codebook.update_code, ui_store.get_store(), code, name=name, actor=ui_store.actor())
    if "tree_error" not in st.session_state:
        _done("Renamed.")


def _merge() -> None:
    code = st.session_state.get("tree_code")
    target = st.session_state.get("tree_merge_into")
    if code is None or not target:
        return
    attempt("tree", codebook.merge_codes, ui_store.get_store(), code, target, actor=ui_store.actor())
    if "tree_error" not in st.session_state:
        st.session_state["tree_code"] = target
        _done("Merged: the codings now sit under the target.")


def drop_position(store: Store, code_id: int, target_id: int, where: str) -> tuple[int | None, int]:
    """Where a code dropped just ``before``/``after`` a target goes: (parent id, position among the parent's other
    children), so the other codes keep their order."""
    codes = codebook.list_codes(store)
    target = next(c for c in codes if c.id == target_id)
    siblings = [c.id for c in codes if c.parent_id == target.parent_id and c.id != code_id]
    return target.parent_id, siblings.index(target_id) + (1 if where == "after" else 0)


def _dropped(key: str) -> None:
    drop = dropped(st.session_state.get(key))
    if drop is None:
        return
    store, actor = ui_store.get_store(), ui_store.actor()
    if drop["where"] == "onto":  # ask: under it, or merged into it
        st.session_state["tree_drop"] = drop
        return
    st.session_state.pop("tree_drop", None)
    parent, position = drop_position(store, drop["code"], drop["target"], drop["where"])
    attempt("tree", codebook.move_code, store, drop["code"], parent, position=position, actor=actor)
    if "tree_error" not in st.session_state:
        _moved(drop["code"])


def _drop_onto(how: str) -> None:
    drop = st.session_state.pop("tree_drop", None)
    if not drop or how == "cancel":
        return
    store, actor = ui_store.get_store(), ui_store.actor()
    if how == "under":
        attempt("tree", codebook.move_code, store, drop["code"], drop["target"], actor=actor)
        if "tree_error" not in st.session_state:
            _moved(drop["code"])
    else:
        attempt("tree", codebook.merge_codes, store, drop["code"], drop["target"], actor=actor)
        if "tree_error" not in st.session_state:
            _done("Merged: the codings now sit under the target.")


def render(store: Store) -> None:
    codes = codebook.list_codes(store)
    counts = coding.code_counts(store)
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Theme tree**")
        if codes:
            show("tree")
            name = {c.id: c.label for c in codes}
            drop = st.session_state.get("tree_drop")
            if drop and drop.get("code") in name and drop.get("target") in name:
                with st.container(border=True, key="tree_drop_box"):
                    st.markdown(f"Dropped **{md_escape(name[drop['code']])}** onto "
                                f"**{md_escape(name[drop['target']])}**:")
                    d1, d2, d3 = st.columns([1.3, 1.3, 1])
                    d1.button("Put it under", key="tree_drop_under", icon=":material/subdirectory_arrow_right:",
                              on_click=_drop_onto, args=("under",), type="primary")
                    d2.button("Merge it in", key="tree_drop_merge", icon=":material/merge:", on_click=_drop_onto,
                              args=("merge",), help="Its codings, subcodes and quotes move to the target; undoable")
                    d3.button("Cancel", key="tree_drop_cancel", on_click=_drop_onto, args=("cancel",))
            colour = colours(codes)
            nodes = []
            for c in codes:
                segs, resp = counts.get(c.id, (0, 0))
                nodes.append({"id": c.id, "name": c.name, "depth": c.depth, "colour": colour.get(c.id, ""),
                              "counts": f"{resp} respondent{'' if resp == 1 else 's'}, "
                                        f"{segs} segment{'' if segs == 1 else 's'}"})
            key = "tree_dnd"
            code_tree(key, nodes, on_drop=lambda: _dropped(key))
            with st.expander("Outline as text"):
                st.markdown("\n".join(tree_markdown(codebook.tree(store), counts)))
        else:
            st.info("No codes yet. Create a theme on the right, code segments in phase 2, or accept candidates above.")
    with right:
        if not codes:
            show("tree")
        ids = [c.id for c in codes]
        path = {c.id: c.path_str for c in codes}
        with st.container(border=True):
            st.markdown("**New theme**")
            st.text_input("Name", key="tree_new_name")
            st.selectbox("Under", [TOP, *ids], format_func=lambda i: "(top level: a theme)" if i == TOP else path[i],
                         key="tree_new_parent")
            st.button("Create", key="tree_create", icon=":material/add:", on_click=_create)
        if not codes:
            return
        with st.container(border=True):
            st.markdown("**Move or change a code**")
            if st.session_state.get("tree_code") not in ids:
                st.session_state.pop("tree_code", None)
            st.selectbox("Code", ids, format_func=shown_as(path), key="tree_code")
            st.selectbox("Move under", [TOP, *ids], format_func=lambda i: "(top level: make it a theme)" if i == TOP
                         else path[i], key="tree_parent")
            b1, b2, b3 = st.columns(3)
            b1.button("Move", key="tree_move", icon=":material/drive_file_move:", on_click=_move)
            b2.button("Promote", key="tree_promote", icon=":material/north_west:", on_click=_simple,
                      args=("promote", "Promoted one level up."), help="One level up: a sibling of its parent")
            b3.button("Demote", key="tree_demote", icon=":material/south_east:", on_click=_simple,
                      args=("demote", "Demoted under the code above it."), help="Under the sibling just above it")
            st.text_input("Rename to", key="tree_rename")
            st.button("Rename", key="tree_rename_go", icon=":material/edit:", on_click=_rename)
            st.selectbox("Merge into", [i for i in ids], format_func=shown_as(path), key="tree_merge_into", index=None,
                         placeholder="Choose the code that absorbs it")
            m1, m2 = st.columns(2)
            m1.button("Merge", key="tree_merge", icon=":material/merge:", on_click=_merge)
            m2.button("Delete", key="tree_delete", icon=":material/delete:", on_click=_simple,
                      args=("delete_code", "Deleted (undo brings it back with its codings)."),
                      help="Deletes the code, its subcodes and their codings; undo restores them")
