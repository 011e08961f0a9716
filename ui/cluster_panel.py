"""Candidate themes from auto-clustering (:mod:`thematic.cluster`): run it with a progress bar, then review each
candidate (label, keywords, representative quotes, size, respondents, proposed group) and accept it as a code,
rename, merge, split, reject it or move segments out of it. Each card is an ``st.fragment``: a click reruns only
that card (a merge or split, which change other cards, reruns the page)."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from thematic import codebook, corpus
from thematic.store import Store

from . import jobs, models
from . import store as ui_store
from .errors import attempt, guard, missing, show
from .widgets import md_escape

PER_PAGE = 10
QUOTES = 3
SEGMENTS_SHOWN = 20


@st.cache_data(ttl=120, max_entries=16, show_spinner=False)
def _candidates(key: tuple[str, int, int], run_id: int) -> list[Any]:
    from thematic import cluster

    return cluster.candidates(ui_store.get_store(), run_id, include_closed=True)


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
        elapsed = time.monotonic() - job.started
        text = f"{job.message or job.label}" + (f" — {job.done:,}/{job.total:,}" if job.total else "")
        st.progress(job.fraction, text=f"{text} · {elapsed:.0f} s")
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
                                         f"{job.finished - job.started:.0f} s (run {run.id}).")
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
        c1.selectbox("Segments of", list(qlabel), format_func=qlabel.get, key="cl_question")
        c2.number_input("Seed", min_value=0, value=42, step=1, key="cl_seed", help="Same seed, same proposal")
        c3.number_input("Candidates", min_value=0, max_value=500, value=0, step=1, key="cl_n",
                        help="0: chosen from the number of segments")
        c4.toggle("BERTopic", value=True, key="cl_bertopic",
                  help="Run the leaf level through BERTopic (off: the same steps called directly; faster start)")
        st.caption("Embeds every segment offline (all-MiniLM-L6-v2, cached in the project), clusters them, and "
                   "proposes candidate themes with keywords and representative quotes. Nothing is coded until you "
                   "accept a candidate; the run itself is one undoable step.")
        job = jobs.get(_job_key(store))
        busy = job is not None and job.running
        st.button("Run auto-clustering", key="cl_run", type="primary", icon=":material/play_arrow:", disabled=busy,
                  on_click=_propose, args=(store, cluster), help="Already running" if busy else None)
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
                group_header(g)
            else:
                st.markdown("##### Not in a proposed group")
        card(c.id, c, targets, groups)


@st.fragment
def group_header(g: Any) -> None:
    from thematic import cluster

    coder = ui_store.actor()
    with st.container(border=False):
        a, b = st.columns([4, 1.3], vertical_alignment="center")
        a.markdown(f"##### Proposed group: {md_escape(g.label)}  \n"
                   f"{g.size:,} segments · {g.respondents:,} respondents · {len(g.children)} candidates"
                   + (f" · *{g.status}*" if g.status != "open" else ""))
        if g.status == "open":
            if b.button("Accept group as a theme", key=f"cl_accept_group_{g.id}", disabled=not coder,
                        help="A theme for the group, each of its open candidates a code beneath it"
                        if coder else "Choose a coder in the sidebar first"):
                with guard():
                    cluster.accept_candidate(ui_store.get_store(), g.id, coder=str(coder))
                    ui_store.changed()
                    st.rerun()


@st.fragment
def card(cid: int, c: Any, targets: list[Any], groups: dict[int, Any]) -> None:
    from thematic import cluster

    store = ui_store.get_store()
    # The card may have changed since the page drew it (this fragment reruns alone): read it again (cached per
    # data version, so a click recomputes the run's figures once).
    fresh = [x for x in _candidates(ui_store.version(store), c.run_id) if x.id == cid]
    if not fresh:
        return
    c = fresh[0]
    coder = ui_store.actor()
    codes = codebook.list_codes(store)
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
            st.button("Accept", key=f"cl_accept_{cid}", type="primary", icon=":material/check:", disabled=not coder,
                      on_click=_accept, args=(cid,),
                      help="Create the code and code these segments as yours" if coder else "Choose a coder first")
            st.button("Reject", key=f"cl_reject_{cid}", icon=":material/block:", on_click=_reject, args=(cid,))
        with st.expander("Rename, merge, split, move segments"):
            r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
            r1.text_input("New label", value=c.label, key=f"cl_label_{cid}")
            r2.button("Rename", key=f"cl_rename_{cid}", on_click=_rename, args=(cid,))
            others = [t.id for t in targets if t.id != cid]
            label = {t.id: t.label for t in targets}
            m1, m2 = st.columns([3, 1], vertical_alignment="bottom")
            m1.multiselect("Merge these into it", others, format_func=lambda i: label[i], key=f"cl_merge_with_{cid}")
            if m2.button("Merge", key=f"cl_merge_{cid}"):
                _merge(cid)
            s1, s2 = st.columns([3, 1], vertical_alignment="bottom")
            s1.number_input("Split into", min_value=2, max_value=10, value=2, step=1, key=f"cl_k_{cid}")
            if s2.button("Split", key=f"cl_split_{cid}"):
                _split(cid)
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
            if v2.button("Move", key=f"cl_move_{cid}", disabled=not rows):
                _move([segs[i].id for i in rows], cid)
            if c.size > SEGMENTS_SHOWN:
                st.caption(f"The first {SEGMENTS_SHOWN} of {c.size:,} segments.")


def _accept(cid: int) -> None:
    from thematic import cluster

    parent = st.session_state.get(f"cl_parent_{cid}")
    name = st.session_state.get(f"cl_name_{cid}") or None
    code = attempt(f"cl_{cid}", cluster.accept_candidate, ui_store.get_store(), cid, coder=str(ui_store.actor()),
                   parent_code_id=parent, name=name)
    if code is not None:
        ui_store.changed()


def _reject(cid: int) -> None:
    from thematic import cluster

    attempt(f"cl_{cid}", cluster.reject_candidate, ui_store.get_store(), cid, actor=ui_store.actor())
    ui_store.changed()


def _rename(cid: int) -> None:
    from thematic import cluster

    attempt(f"cl_{cid}", cluster.rename_candidate, ui_store.get_store(), cid,
            st.session_state.get(f"cl_label_{cid}", ""), actor=ui_store.actor())
    ui_store.changed()


def _merge(cid: int) -> None:
    from thematic import cluster

    others = list(st.session_state.get(f"cl_merge_with_{cid}") or [])
    if not others:
        st.warning("Choose the candidates to merge into this one.")
        return
    with guard():
        cluster.merge_candidates(ui_store.get_store(), [cid, *others], actor=ui_store.actor())
        ui_store.changed()
        st.rerun()


def _split(cid: int) -> None:
    from thematic import cluster

    with guard(), st.spinner("Splitting…"):
        cluster.split_candidate(ui_store.get_store(), cid, int(st.session_state.get(f"cl_k_{cid}", 2)),
                                embedder=models.embedder(), actor=ui_store.actor())
        ui_store.changed()
        st.rerun()


def _move(segment_ids: list[int], cid: int) -> None:
    from thematic import cluster

    target = st.session_state.get(f"cl_move_to_{cid}")
    if target is None:
        st.warning("Choose where to move the segments.")
        return
    with guard():
        n = cluster.move_segments(ui_store.get_store(), segment_ids, int(target), actor=ui_store.actor())
        ui_store.changed()
        st.session_state["cl_ok"] = f"Moved {n} segment(s)."
        st.rerun()
