"""Candidate themes from auto-clustering (:mod:`thematic.cluster`): run it with a progress bar, then review each
candidate (label, keywords, representative quotes, size, respondents, proposed group) and accept it as a code,
rename, merge, split, reject it or move segments out of it. Each card is an ``st.fragment``: a click reruns only
that card (a merge or split, which change other cards, reruns the page)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from thematic import codebook, corpus
from thematic.store import Store

from . import jobs, models
from . import store as ui_store
from .errors import attempt, guard, missing, show
from .widgets import md_escape, shown_as

PER_PAGE = 10
QUOTES = 3
SEGMENTS_SHOWN = 20
LOW_FIT = 0.30
"""Accept with review: a member is pre-unticked (left out unless the analyst ticks it) when its fit (cosine
similarity to the candidate's centre, :func:`thematic.cluster.members_by_fit`) is below ``LOW_FIT`` *and* below the
candidate's median fit, so at most half of a candidate is ever pre-unticked."""


def pre_ticked(fits: list[float]) -> list[bool]:
    """Which members start ticked (kept) in the review, given their fits best first (see ``LOW_FIT``)."""
    if not fits:
        return []
    ordered = sorted(fits)
    median = ordered[(len(ordered) - 1) // 2]
    return [not (f < LOW_FIT and f < median) for f in fits]


@st.cache_data(ttl=120, max_entries=16, show_spinner=False)
def _candidates(key: tuple[str, int, int], run_id: int) -> list[Any]:
    from thematic import cluster

    return cluster.candidates(ui_store.get_store(), run_id, include_closed=True)


@st.cache_data(ttl=120, max_entries=16, show_spinner=False)
def _codes(key: tuple[str, int, int]) -> list[Any]:
    """The codebook once per data version (every card's "Accept under" lists it)."""
    return codebook.list_codes(ui_store.get_store())


def _run_label(run: Any) -> str:
    return (f"Run {run.id} · {run.created_at[:16].replace('T', ' ')} · {run.n_segments:,} segments · "
            f"seed {run.seed} · {run.model_id.split('/')[-1]}")


def _job_key(store: Store) -> str:
    return f"cluster:{store.path}"


def _propose(store: Store, cluster: Any) -> None:
    """Start clustering in the background (one run at a time per project); :func:`_poll` shows its progress."""
    qid = st.session_state.get("cl_question") or None
    params: dict[str, Any] = {"use_bertopic": bool(st.session_state.get("cl_bertopic", True))}
    n = int(st.session_state.get("cl_n") or 0)
    if n:
        params["n_candidates"] = n
    jobs.start(_job_key(store), "Clustering", cluster.propose, store, question_id=qid,
               seed=int(st.session_state.get("cl_seed", 42)), embedder=models.embedder(), params=params,
               actor=ui_store.actor())


@st.fragment(run_every=1.0)
def _poll(key: str) -> None:
    job = jobs.get(key)
    if job is None:
        return
    if job.running:
        text = f"{job.message or job.label}" + (f" — {job.done:,}/{job.total:,}" if job.total else "")
        st.progress(job.fraction, text=f"{text} · {job.seconds:.0f} s")
        st.caption("Clustering runs in the background: you can keep working on other pages meanwhile.")
        return
    if not job.seen:
        job.seen = True
        if job.error:
            st.session_state["cl_error"] = job.error
        else:
            run = job.result
            st.session_state["cl_run_pick"] = run.id
            st.session_state["cl_page"] = 1
            st.session_state["cl_ok"] = (f"Clustered {run.n_segments:,} segments in "
                                         f"{job.seconds:.0f} s (run {run.id}).")
            ui_store.changed()
        st.rerun(scope="app")


def render(store: Store) -> None:
    cluster = ui_store.optional("thematic.cluster")
    if cluster is None or not hasattr(cluster, "propose"):
        missing("Auto-clustering", "thematic.cluster")
        return
    questions = corpus.questions(store)
    if not questions:
        st.info("No forms yet: import them on the Project page.")
        return
    qlabel = {0: "All questions", **{q.id: f"{q.position + 1}. {q.label}" for q in questions}}
    with st.expander("Run auto-clustering", expanded=not cluster.runs(store), icon=":material/bubble_chart:"):
        c1, c2, c3, c4 = st.columns([3, 1, 1, 1.3], vertical_alignment="bottom")
        c1.selectbox("Segments of", list(qlabel), format_func=shown_as(qlabel), key="cl_question")
        c2.number_input("Seed", min_value=0, value=42, step=1, key="cl_seed", help="Same seed, same proposal")
        c3.number_input("Candidates", min_value=0, max_value=500, value=0, step=1, key="cl_n",
                        help="0: chosen from the vectors (the run shows how and why); any other number: exactly "
                             "that many candidates")
        c4.toggle("BERTopic", value=True, key="cl_bertopic",
                  help="Run the leaf level through BERTopic (off: the same steps called directly; faster start)")
        st.caption("Embeds every segment offline (all-MiniLM-L6-v2, cached in the project), clusters them, and "
                   "proposes candidate themes with keywords and representative quotes. Nothing is coded until you "
                   "accept a candidate; the run itself is one undoable step.")
        d1, _ = st.columns([2, 3.3])
        with d1:
            runnable = models.device_setting("cl_device")
        job = jobs.get(_job_key(store))
        busy = job is not None and job.running
        st.button("Run auto-clustering", key="cl_run", type="primary", icon=":material/play_arrow:",
                  disabled=busy or not runnable, on_click=_propose, args=(store, cluster),
                  help="Already running" if busy else None if runnable else "Choose a device this machine has")
    job = jobs.get(_job_key(store))
    if job is not None and (job.running or not job.seen):
        _poll(_job_key(store))

    show("cl")
    runs = cluster.runs(store)
    if not runs:
        if job is None or not job.running:
            st.info("No clustering run yet.")
        return
    ids = [r.id for r in runs]
    if st.session_state.get("cl_run_pick") not in ids:
        st.session_state["cl_run_pick"] = ids[0]
    run_id = st.selectbox("Run", ids, format_func=lambda i: _run_label(next(r for r in runs if r.id == i)),
                          key="cl_run_pick")
    with guard():
        __import__("ui.cluster_map").cluster_map.show(store, int(run_id))  # provenance line + map of candidates
        cands = _candidates(ui_store.version(store), int(run_id))
        _cards(store, cands)


def _cards(store: Store, cands: list[Any]) -> None:
    st.session_state.pop("cl_refresh", None)  # the whole page is being drawn: no card needs to ask for it again
    cands = [c for c in cands if c.status in ("open", "accepted")]
    groups = {c.id: c for c in cands if c.level == 0}
    leaves = [c for c in cands if c.level == 1]
    open_ = [c for c in leaves if c.status == "open"]
    st.caption(f"{len(leaves)} candidates ({len(open_)} open, {len(leaves) - len(open_)} accepted) in "
               f"{len(groups)} proposed groups. Merged and rejected candidates are hidden.")
    only_open = st.toggle("Open candidates only", value=True, key="cl_only_open")
    shown = open_ if only_open else leaves
    order = {g: i for i, g in enumerate(groups)}
    shown = sorted(shown, key=lambda c: (order.get(c.parent_id, len(order)), c.unclustered, c.position))
    pages = max(1, -(-len(shown) // PER_PAGE))
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, step=1, key="cl_page")
    first = (int(page) - 1) * PER_PAGE
    targets = [c for c in open_ if not c.unclustered]
    last_group: int | None = -1
    for c in shown[first:first + PER_PAGE]:
        if c.parent_id != last_group:
            last_group = c.parent_id
            g = groups.get(c.parent_id) if c.parent_id is not None else None
            if g is not None:
                group_header(g, [x.label for x in leaves if x.parent_id == g.id and x.status == "open"])
            else:
                st.markdown("##### Not in a proposed group")
        card(c.id, c, targets, groups)


@st.fragment
def group_header(g: Any, children: list[str]) -> None:
    """A proposed group: accept it as a theme (named here) with each of its open candidates a code beneath it.

    ``children``: the labels of its open candidates; the theme may not share a name with one of them (that made a
    subtheme with its parent's name)."""
    if st.session_state.pop("cl_refresh", False):  # see card()
        st.rerun(scope="app")
    coder = ui_store.actor()
    with st.container(border=False):
        a, b = st.columns([4, 1.6], vertical_alignment="bottom")
        a.markdown(f"##### Proposed group: {md_escape(g.label)}  \n"
                   f"{g.size:,} segments · {g.respondents:,} respondents · {len(g.children)} candidates"
                   + (f" · *{g.status}*" if g.status != "open" else ""))
        if g.status != "open":
            return
        show(f"cl_{g.id}")
        name = " ".join(str(b.text_input("Theme name", value=g.label, key=f"cl_group_name_{g.id}")).split())
        clash = next((x for x in children if x.casefold() == name.casefold()), None)
        if clash is not None:
            a.warning(f"One of its candidates is also called \u201c{md_escape(clash)}\u201d: give the theme another "
                      "name (or rename that candidate) so a subtheme does not repeat its theme's name.",
                      icon=":material/warning:")
        blocked = not coder or clash is not None or not name
        b.button("Accept group as a theme…", key=f"cl_accept_group_{g.id}", disabled=blocked,
                 on_click=lambda: st.session_state.update({f"cl_reviewing_{g.id}": True}),
                 help="Review its segments (best fit first), then a theme for the group with each of its open "
                 "candidates a code beneath it" if coder else "Choose a coder in the sidebar first")
    if st.session_state.get(f"cl_reviewing_{g.id}") and coder:
        review_members(g.id, blocked=blocked)


@st.fragment
def card(cid: int, c: Any, targets: list[Any], groups: dict[int, Any]) -> None:
    from thematic import cluster

    if st.session_state.pop("cl_refresh", False):
        # A card changed the codebook or the candidates: every card's choices ("Accept under", merge targets) and
        # the header's counts must be redrawn, not only this card.
        st.rerun(scope="app")
    store = ui_store.get_store()
    # The card may have changed since the page drew it (this fragment reruns alone): read it again (cached per
    # data version, so a click recomputes the run's figures once).
    fresh = [x for x in _candidates(ui_store.version(store), c.run_id) if x.id == cid]
    if not fresh:
        return
    c = fresh[0]
    coder = ui_store.actor()
    codes = _codes(ui_store.version(store))
    with st.container(border=True):
        head, side = st.columns([3, 1.2])
        flag = {"accepted": " · ✅ accepted", "rejected": " · rejected", "merged": " · merged"}.get(c.status, "")
        head.markdown(f"**{md_escape(c.label)}**{flag}")
        head.caption(
            f"{c.size:,} segments · {c.respondents:,} respondents · "
            + " · ".join(f"{q}: {n}" for q, n in list(c.by_question.items())[:4])
            + (f" · proposed group: {md_escape(groups[c.parent_id].label)}" if c.parent_id in groups else "")
        )
        if c.keywords:
            head.caption("Keywords: " + ", ".join(md_escape(k) for k in c.keywords[:10]))
        reps = [i for i in c.representative_ids[:QUOTES]]
        if reps:
            with guard():
                for s in corpus.get_segments(store, reps):
                    head.markdown("> " + md_escape(s.text[:400]))
        if c.status != "open":
            if c.code_id is not None:
                side.caption("Now a code: " + next((k.path_str for k in codes if k.id == c.code_id), f"#{c.code_id}"))
            return
        show(f"cl_{cid}")
        with side:
            parents = [None, *[k.id for k in codes]]
            path = {k.id: k.path_str for k in codes}
            st.selectbox("Accept under", parents, key=f"cl_parent_{cid}",
                         format_func=lambda i: "(top level: a new theme)" if i is None else path[i])
            st.text_input("as", value=c.label, key=f"cl_name_{cid}")
            st.button("Accept…", key=f"cl_accept_{cid}", type="primary", icon=":material/check:", disabled=not coder,
                      on_click=lambda: st.session_state.update({f"cl_reviewing_{cid}": True}),
                      help="Review its segments (best fit first), leave out misfits, then create the code and code "
                      "the rest as yours" if coder else "Choose a coder first")
            st.button("Reject", key=f"cl_reject_{cid}", icon=":material/block:", on_click=_reject, args=(cid,))
        if st.session_state.get(f"cl_reviewing_{cid}") and coder:
            review_members(cid)
        more = st.expander("Rename, merge, split, move segments", key=f"cl_more_{cid}", on_change="rerun")
        with more:
            if more.open is False:  # drawn only when opened (its segment table costs a query per card)
                return
            r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
            r1.text_input("New label", value=c.label, key=f"cl_label_{cid}")
            r2.button("Rename", key=f"cl_rename_{cid}", on_click=_rename, args=(cid,))
            others = [t.id for t in targets if t.id != cid]
            label = {t.id: t.label for t in targets}
            m1, m2 = st.columns([3, 1], vertical_alignment="bottom")
            m1.multiselect("Merge these into it", others, format_func=lambda i: label[i], key=f"cl_merge_with_{cid}")
            m2.button("Merge", key=f"cl_merge_{cid}", on_click=_merge, args=(cid,))
            s1, s2 = st.columns([3, 1], vertical_alignment="bottom")
            s1.number_input("Split into", min_value=2, max_value=10, value=2, step=1, key=f"cl_k_{cid}")
            s2.button("Split", key=f"cl_split_{cid}", on_click=_split, args=(cid,))
            seg_ids = cluster.segment_ids(store, cid)[:SEGMENTS_SHOWN]
            segs = corpus.get_segments(store, seg_ids)
            picked = st.dataframe(
                pd.DataFrame({"id": [s.id for s in segs], "segment": [s.text for s in segs]}),
                key=f"cl_segs_{cid}", on_select="rerun", selection_mode="multi-row", hide_index=True,
            )
            rows = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
            v1, v2 = st.columns([3, 1], vertical_alignment="bottom")
            v1.selectbox("Move the selected segments to", others, format_func=lambda i: label[i],
                         key=f"cl_move_to_{cid}", index=None, placeholder="Choose a candidate")
            v2.button("Move", key=f"cl_move_{cid}", disabled=not rows, on_click=_move,
                      args=([segs[i].id for i in rows], cid))
            if c.size > SEGMENTS_SHOWN:
                st.caption(f"The first {SEGMENTS_SHOWN} of {c.size:,} segments.")


def _ran(prefix: str, fn: Any, *args: Any, **kwargs: Any) -> list[Any] | None:
    """:func:`ui.errors.attempt` that tells success (``[result]``, even when the call returns None) from failure."""
    out = attempt(prefix, lambda: [fn(*args, **kwargs)])
    return out if isinstance(out, list) else None


def _done() -> None:
    """After a change made from a card: new data version, and the whole page redrawn (see :func:`card`)."""
    ui_store.changed()
    st.session_state["cl_refresh"] = True


def review_members(cid: int, *, blocked: bool = False) -> None:
    """The candidate's (or group's) members best fit first, each with a tick box (low fits pre-unticked), and the
    confirm (disabled while ``blocked``)."""
    from thematic import cluster

    members = cluster.members_by_fit(ui_store.get_store(), cid)
    keep = pre_ticked([f for _, _, f in members])
    with st.container(border=True, key=f"cl_review_{cid}"):
        st.markdown(f"**Review before accepting**: {len(members):,} segments, best fit first. Untick those that do "
                    f"not belong; members with a fit below {LOW_FIT:.2f} and below this candidate's median start "
                    "unticked.")
        df = pd.DataFrame({"keep": keep, "fit": [round(f, 3) for _, _, f in members],
                           "segment": [t for _, t, _ in members]})
        edited = st.data_editor(
            df, key=f"cl_keep_{cid}", hide_index=True, disabled=["fit", "segment"], height=min(420, 38 + 35 * len(df)),
            column_config={"keep": st.column_config.CheckboxColumn("keep", width="small"),
                           "fit": st.column_config.ProgressColumn("fit", min_value=0.0, max_value=1.0, format="%.2f",
                                                                  width="small"),
                           "segment": st.column_config.TextColumn("segment", width="large")},
        )
        n_keep = int(edited["keep"].sum()) if len(edited) else 0
        a, b = st.columns([2, 1])
        a.button(f"Accept, coding {n_keep:,} of {len(members):,} segments", key=f"cl_confirm_{cid}", type="primary",
                 icon=":material/check:", on_click=_accept, args=(cid,), disabled=n_keep == 0 or blocked)
        b.button("Cancel", key=f"cl_cancel_{cid}", type="tertiary",
                 on_click=lambda: st.session_state.pop(f"cl_reviewing_{cid}", None))


def _left_out(cid: int) -> list[int]:
    """The members the analyst left out: the pre-unticked ones and the table's edits applied to them."""
    from thematic import cluster

    members = cluster.members_by_fit(ui_store.get_store(), cid)
    keep = pre_ticked([f for _, _, f in members])
    edits = st.session_state.get(f"cl_keep_{cid}") or {}
    for row, change in (edits.get("edited_rows") or {}).items():
        if "keep" in change and 0 <= int(row) < len(keep):
            keep[int(row)] = bool(change["keep"])
    return [sid for (sid, _, _), k in zip(members, keep, strict=True) if not k]


def _accept(cid: int) -> None:
    from thematic import cluster

    parent = st.session_state.get(f"cl_parent_{cid}")  # a group is accepted at the top level
    name = st.session_state.get(f"cl_name_{cid}") or st.session_state.get(f"cl_group_name_{cid}") or None
    code = attempt(f"cl_{cid}", cluster.accept_candidate, ui_store.get_store(), cid, coder=str(ui_store.actor()),
                   parent_code_id=parent, name=name, exclude=_left_out(cid))
    if code is not None:
        st.session_state.pop(f"cl_reviewing_{cid}", None)
        st.session_state["cl_ok"] = f"Accepted \u201c{name or cid}\u201d as a code."
        _done()


def _reject(cid: int) -> None:
    from thematic import cluster

    if _ran(f"cl_{cid}", cluster.reject_candidate, ui_store.get_store(), cid, actor=ui_store.actor()) is not None:
        _done()


def _rename(cid: int) -> None:
    from thematic import cluster

    if _ran(f"cl_{cid}", cluster.rename_candidate, ui_store.get_store(), cid,
               st.session_state.get(f"cl_label_{cid}", ""), actor=ui_store.actor()) is not None:
        _done()


def _merge(cid: int) -> None:
    from thematic import cluster

    others = list(st.session_state.get(f"cl_merge_with_{cid}") or [])
    if not others:
        st.session_state[f"cl_{cid}_error"] = "Choose the candidates to merge into this one first (the box beside Merge)."
        return
    if _ran(f"cl_{cid}", cluster.merge_candidates, ui_store.get_store(), [cid, *others],
               actor=ui_store.actor()) is not None:
        st.session_state["cl_ok"] = f"Merged {len(others)} candidate(s) into it."
        _done()


def _split(cid: int) -> None:
    from thematic import cluster

    if _ran(f"cl_{cid}", cluster.split_candidate, ui_store.get_store(), cid,
               int(st.session_state.get(f"cl_k_{cid}", 2)), embedder=models.embedder(),
               actor=ui_store.actor()) is not None:
        _done()


def _move(segment_ids: list[int], cid: int) -> None:
    from thematic import cluster

    target = st.session_state.get(f"cl_move_to_{cid}")
    if target is None:
        st.session_state[f"cl_{cid}_error"] = "Choose the candidate to move the selected segments to first."
        return
    n = _ran(f"cl_{cid}", cluster.move_segments, ui_store.get_store(), segment_ids, int(target),
                actor=ui_store.actor())
    if n is not None:
        st.session_state["cl_ok"] = f"Moved {n[0]} segment(s)."
        _done()
