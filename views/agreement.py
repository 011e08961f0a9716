"""Agreement between coders: a table and chart per code (kappa and alpha with 95% intervals, with and without text
nobody coded), rounds before and after adjudication, the model as a coder, and the disagreement queue."""

from __future__ import annotations

import io
import math

import altair as alt
import pandas as pd
import streamlit as st

from thematic import adjudicate, codebook, coding, corpus, queries, reliability
from thematic.errors import ThematicError
from ui import signin
from ui import store as ui_store
from ui.errors import guard, show
from ui.widgets import highlight

st.title("Agreement")
store = ui_store.get_store()
actor = ui_store.actor()
if reliability.blind_mode(store) and not signin.may(store, "project.setting"):
    # Team mode: while blind a coder or viewer is shown no agreement figure and no adjudication (the library hides
    # the other coders' codings anyway; this says why the page is empty).
    st.info("Blind coding is on: agreement between coders is shown once the lead reveals everyone's codings.",
            icon=":material/visibility_off:")
    st.stop()
consensus = adjudicate.consensus_name(store)
with_codings = [r["coder"] for r in reliability.coder_summary(store) if r["codings"]]
if len(with_codings) < 2:
    st.info(
        "Agreement needs two coders who have coded. Code on page 2 under two names (turn on blind mode on the "
        "**Coders** page first), or import a coder's spreadsheet there."
    )
    st.stop()

if reliability.blind_mode(store):
    st.caption(
        ":material/visibility_off: Blind coding is on: this page shows every coder's codings. Coders still coding "
        "should wait until the round is finished."
    )

# ---------------------------------------------------------------------- settings

humans = [c for c in with_codings if c != consensus]
c1, c2, c3, c4 = st.columns([3, 1.4, 1.6, 1.2], vertical_alignment="bottom")
default = humans[:2] if len(humans) >= 2 else with_codings[:2]
chosen = c1.multiselect("Coders to compare", with_codings, default=default, key="ag_coders", max_selections=6)
level = c2.radio("Unit", ["segment", "form"], key="ag_level", horizontal=True,
                 help="Segment: each segment. Form: a coder applied the code anywhere in the form.")
coded_only = c3.toggle("Coded text only", key="ag_coded_only", value=True,
                       help="Leave out text that none of these coders coded: it agrees 'not applied' with itself "
                       "and inflates kappa and % agreement. Both figures are kept; this chooses which one is shown.")
n_boot = int(c4.number_input("Bootstrap resamples", 0, 5000, 500, step=100, key="ag_boot",
                             help="For the 95% intervals (seeded: the same data gives the same interval)."))
t1, t2 = st.columns(2)
rollup = t1.toggle("Themes include their subcodes", key="ag_rollup",
                   help="A theme or subtheme counts as applied wherever it or any code under it was applied.")
common = t2.toggle("Only forms every coder has coded", key="ag_common",
                   help="While coders are still working through the forms: a form one of them has not reached "
                   "yet is left out instead of counting as disagreement.")
scope = "common" if common else "all"


@st.cache_data(max_entries=16, show_spinner="Computing agreement…")
def _report(
    key: tuple[str, int, int], coders: tuple[str, ...], level: str, rollup: bool, scope: str, n_boot: int
) -> reliability.Report:
    return reliability.agreement_report(
        ui_store.get_store(), list(coders), level=level, rollup=rollup, scope=scope, n_boot=n_boot
    )


@st.cache_data(max_entries=16, show_spinner="Comparing with the model…")
def _machine(
    key: tuple[str, int, int], coder: str, level: str, rollup: bool, scope: str, n_boot: int
) -> reliability.Report:
    return reliability.machine_agreement(
        ui_store.get_store(), coder, level=level, rollup=rollup, scope=scope, n_boot=n_boot
    )


def _fmt(v: float, lo: float, hi: float) -> str:
    if v is None or math.isnan(v):
        return "n/a"
    if math.isnan(lo) or math.isnan(hi):
        return f"{v:.2f}"
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]"


def table(report: reliability.Report, coded: bool) -> pd.DataFrame:
    rows = []
    for r in report.rows(coded_only=coded):
        rows.append({
            "code": r["code"],
            "units": r["n"],
            **{k: v for k, v in r.items() if k.startswith("applied by")},
            "% agreement": None if math.isnan(r["% agreement"]) else round(r["% agreement"], 1),
            "kappa [95% CI]": _fmt(r["kappa"], r["kappa low"], r["kappa high"]),
            "alpha [95% CI]": _fmt(r["alpha"], r["alpha low"], r["alpha high"]),
            "note": r["why n/a"],
        })
    return pd.DataFrame(rows)


def chart(report: reliability.Report, coded: bool) -> alt.LayerChart | None:
    two = len(report.coders) == 2
    stat = "kappa" if two else "alpha"
    data = [
        {"code": r["code"], stat: r[stat], "low": r[f"{stat} low"], "high": r[f"{stat} high"]}
        for r in report.rows(coded_only=coded)
        if not math.isnan(r[stat])
    ]
    if not data:
        return None
    df = pd.DataFrame(data)
    y = alt.Y("code:N", sort=None, title=None, axis=alt.Axis(labelLimit=320))
    bars = alt.Chart(df).mark_bar().encode(
        x=alt.X(f"{stat}:Q", scale=alt.Scale(domain=[-1, 1]), title=f"{'Cohen' if two else 'Krippendorff'}'s {stat}"),
        y=y,
        tooltip=["code", alt.Tooltip(f"{stat}:Q", format=".2f"), alt.Tooltip("low:Q", format=".2f"),
                 alt.Tooltip("high:Q", format=".2f")],
    )
    ci = alt.Chart(df.dropna(subset=["low", "high"])).mark_rule(color="black").encode(x="low:Q", x2="high:Q", y=y)
    guide = alt.Chart(pd.DataFrame({"x": [0.667, 0.8]})).mark_rule(strokeDash=[4, 4], color="grey").encode(x="x:Q")
    return (bars + ci + guide).properties(height=alt.Step(26))


report: reliability.Report | None = None
if len(chosen) < 2:
    st.warning("Choose at least two coders.")
else:
    with guard():
        report = _report(ui_store.version(store), tuple(chosen), level, rollup, scope, n_boot)
if report is not None:
    n_used = report.n_coded_units if coded_only else report.n_units
    st.caption(
        f"{report.n_units:,} {level}s, {report.n_coded_units:,} coded by at least one of {', '.join(report.coders)}; "
        f"the table uses {n_used:,}. Intervals: {report.n_boot} bootstrap resamples of the units. "
        "Rough guide: kappa/alpha above 0.8 is good, 0.67–0.8 tentative (dashed lines)."
    )
    for note in report.notes:
        st.warning(note)
    st.dataframe(table(report, coded_only), hide_index=True, key="ag_table", width="stretch")
    ch = chart(report, coded_only)
    if ch is not None:
        st.altair_chart(ch, width="stretch")

# ---------------------------------------------------------------------- rounds

with st.expander("Rounds: agreement before and after adjudication", icon=":material/timeline:"):
    show("ag_round")
    rounds = adjudicate.rounds(store)
    if rounds:
        st.dataframe(
            pd.DataFrame([
                {"round": r.round, "stage": r.stage, "coders": ", ".join(r.coders), "unit": r.level,
                 "kappa [95% CI]": r.kappa_text, "recorded": r.created_at[:16].replace("T", " "), "note": r.note}
                for r in rounds
            ]),
            hide_index=True, key="ag_rounds", width="stretch",
        )
        st.caption("For the report:  \n" + "  \n".join(r.sentence() for r in rounds))
    else:
        st.caption("No round recorded yet. Record the agreement before you adjudicate, and again after.")
    r1, r2, r3 = st.columns([1, 3, 1.3], vertical_alignment="bottom")
    stage = r1.radio("Stage", ["before", "after"], key="ag_stage", horizontal=True)
    note = r2.text_input("Note", key="ag_round_note", placeholder="e.g. after agreeing the codebook definitions")
    if r3.button("Record this round", key="ag_record", icon=":material/save:", disabled=len(chosen) < 2):
        with guard():
            rec = adjudicate.record_round(store, chosen, level=level, stage=stage, note=note, actor=actor,
                                          rollup=rollup, scope=scope, n_boot=n_boot)
            ui_store.changed()
            st.session_state["ag_round_ok"] = f"Recorded round {rec.round} ({rec.stage}): kappa {rec.kappa_text}."
            st.rerun()

# ---------------------------------------------------------------------- the model as a coder

with st.expander("The model as a coder", icon=":material/smart_toy:"):
    st.caption(
        "Accepted machine proposals (codings that came from clusters or suggestions, whoever accepted them) form "
        "the coder 'machine'; it is compared with a coder's own codings."
    )
    mcoder = st.selectbox("Coder", humans or with_codings, key="ag_machine_coder", index=None,
                          placeholder="Choose a coder")
    if mcoder:
        with guard():
            mrep = _machine(ui_store.version(store), mcoder, level, rollup, scope, n_boot)
            if not mrep.codes:
                st.info("No accepted machine proposals and no codings of this coder to compare.")
            else:
                st.dataframe(table(mrep, coded_only), hide_index=True, key="ag_machine_table", width="stretch")

# ---------------------------------------------------------------------- the disagreement queue

st.subheader("Disagreements")
if len(chosen) != 2:
    st.caption("Choose exactly two coders to see where they differ and adjudicate.")
    st.stop()
a, b = chosen
if consensus in (a, b):
    st.caption(f"'{consensus}' is the consensus coder; choose the two coders being adjudicated.")
    st.stop()

show("ag_queue")
codes = codebook.list_codes(store)
q1, q2, q3 = st.columns([3, 1.3, 2], vertical_alignment="bottom")
code_filter = q1.selectbox("Code", [None, *[c.id for c in codes]], key="ag_q_code",
                           format_func=lambda cid: "All codes" if cid is None else
                           next(c.path_str for c in codes if c.id == cid))
show_decided = q2.toggle("Show decided", key="ag_q_decided")


def _accept() -> None:
    try:
        n = adjudicate.accept_agreements(ui_store.get_store(), a, b, actor=ui_store.actor())
        st.session_state["ag_queue_ok"] = f"{n} agreed codings copied to '{consensus}'."
        ui_store.changed()
    except ThematicError as exc:
        st.session_state["ag_queue_error"] = str(exc)


q3.button(f"Copy agreed codings to '{consensus}'", key="ag_accept", on_click=_accept,
          icon=":material/done_all:",
          help="The consensus coder should hold the full adjudicated result: what both coders agree on, plus "
          "each decision below.")

queue: list[adjudicate.Disagreement] = []
with guard():
    queue = adjudicate.disagreements(store, a, b, code=code_filter, include_decided=show_decided)
left_out = 0
if common:  # the same scope as the table above: forms one of the two has not reached yet are not disagreements
    reached = queries.respondents_coded_by_every(store, [a, b])
    left_out = len(queue)
    queue = [d for d in queue if d.external_id in reached]
    left_out -= len(queue)
open_items = [d for d in queue if d.decision is None]
st.caption(f"{len(open_items)} open disagreement{'' if len(open_items) == 1 else 's'} between {a} and {b}"
           + (f" ({len(queue)} listed)" if show_decided else "")
           + (f"; {left_out} more in forms only one of them has coded so far" if left_out else ""))
if queue:
    st.dataframe(
        pd.DataFrame([
            {"segment": d.segment_id, "form": d.external_id, "question": d.question, "code": d.code_path,
             "applied by": a if d.a_applied else b, "text": d.text, "decision": d.decision or "",
             "rationale": d.rationale}
            for d in queue
        ]),
        hide_index=True, key="ag_queue_table", width="stretch", height=min(400, 38 + 35 * len(queue)),
    )

if open_items:
    pos = min(int(st.session_state.get("ag_q_pos", 0)), len(open_items) - 1)
    item = open_items[pos]
    n1, n2, n3 = st.columns([1, 1, 4], vertical_alignment="center")
    if n1.button("Previous", key="ag_prev", disabled=pos == 0, icon=":material/arrow_back:"):
        st.session_state["ag_q_pos"] = pos - 1
        st.rerun()
    if n2.button("Next", key="ag_next", disabled=pos >= len(open_items) - 1, icon=":material/arrow_forward:"):
        st.session_state["ag_q_pos"] = pos + 1
        st.rerun()
    n3.caption(f"Item {pos + 1} of {len(open_items)}")
    seg = corpus.get_segment(store, item.segment_id)
    answer = next((x["text"] for x in corpus.answers(store, question_id=seg.question_id, form_id=seg.form_id)), seg.text)
    with st.container(border=True):
        st.markdown(f"**{item.code_path}** — applied by **{a if item.a_applied else b}**, not by "
                    f"**{b if item.a_applied else a}**")
        st.caption(f"Respondent {seg.external_id} · {seg.question}")
        paths = {c.id: c.path_str for c in codes}
        here = coding.codings(store, segment_ids=[seg.id])
        for who in (a, b):
            mine = sorted(paths.get(c.code_id, "?") for c in here if c.coder == who)
            st.caption(f"{who} coded this segment: {', '.join(mine) if mine else 'nothing'}")
        start = seg.start if answer[seg.start:seg.end] == seg.text else answer.find(seg.text)
        if start < 0:
            answer, start = seg.text, 0
        st.html(highlight(answer, start, start + len(seg.text)))
        labels: dict[str, str] = {
            "keep_a": f"Keep {a} ({'applied' if item.a_applied else 'not applied'})",
            "keep_b": f"Keep {b} ({'applied' if item.b_applied else 'not applied'})",
            "both": "Both: the code applies",
            "neither": "Neither: the code does not apply",
            "new_code": "Another code instead",
        }
        with st.form(f"ag_decide_{item.segment_id}_{item.code_id}"):
            decision = st.radio("Decision", list(labels), format_func=labels.get, key="ag_decision")
            new_code = st.text_input("Other code (path, created if new)", key="ag_new_code",
                                     placeholder="Theme/Subtheme/Code — only for 'Another code instead'")
            rationale = st.text_area("Rationale", key="ag_rationale", placeholder="Why this decision (kept and exported)")
            submitted = st.form_submit_button("Decide", icon=":material/gavel:", key="ag_decide_submit")
        if submitted:
            with guard():
                adjudicate.decide(
                    store, item.segment_id, item.code_id, a, b, str(decision), rationale,
                    new_code=(new_code.strip() or None) if decision == "new_code" else None, actor=actor,
                )
                ui_store.changed()
                st.session_state["ag_queue_ok"] = f"Decided: {labels[str(decision)]} ({item.code_path}). Undo reverts it."
                st.rerun()
elif queue == [] and not show_decided:
    st.success(f"No open disagreements between {a} and {b}" + (" for this code." if code_filter else "."))



def _decisions_csv() -> bytes:
    buf = io.StringIO()
    adjudicate.export_decisions_csv(ui_store.get_store(), buf)
    return buf.getvalue().encode("utf-8-sig")


decided = adjudicate.decisions(store)
if decided:
    with st.expander(f"Decisions ({len(decided)})", icon=":material/gavel:"):
        st.dataframe(
            pd.DataFrame([
                {"#": d.id, "round": d.round, "segment": d.segment_id, "code": d.code_path, "decision": d.decision,
                 "new code": d.new_code_path, "rationale": d.rationale, "by": d.adjudicator or "",
                 "when": d.created_at[:16].replace("T", " ")}
                for d in decided
            ]),
            hide_index=True, width="stretch",
        )
        w1, w2 = st.columns([3, 1], vertical_alignment="bottom")
        pick = w1.selectbox("Withdraw a decision", [d.id for d in decided], index=None, key="ag_revoke_pick",
                            format_func=lambda i: next(f"#{d.id}: segment {d.segment_id}, {d.code_path}, {d.decision}"
                                                       for d in decided if d.id == i),
                            placeholder="Choose a decision")
        if w2.button("Withdraw", key="ag_revoke", disabled=pick is None, icon=":material/undo:") and pick is not None:
            with guard():
                adjudicate.revoke(store, int(pick), actor=actor)
                ui_store.changed()
                st.session_state["ag_queue_ok"] = "Decision withdrawn: the item is back in the queue."
                st.rerun()
    st.download_button(
        f"Download the {len(decided)} decisions (CSV)",
        data=_decisions_csv,
        file_name="adjudications.csv",
        mime="text/csv",
        key="ag_decisions_download",
        icon=":material/download:",
    )

