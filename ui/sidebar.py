"""The sidebar every page shares: project, coder, undo/redo (naming what they revert) and where each phase stands."""

from __future__ import annotations

import streamlit as st

from thematic import cluster, codebook, coding, corpus, memos
from thematic.errors import ThematicError
from thematic.export import report
from thematic.review import THIN_RESPONDENTS
from thematic.store import Store

from . import signin, undo
from . import store as ui_store
from .widgets import md_escape

PHASE_PAGES = {
    1: ("views/familiarise.py", "1 Familiarise"),
    2: ("views/initial_codes.py", "2 Generate initial codes"),
    3: ("views/themes.py", "3 Search for themes"),
    4: ("views/review.py", "4 Review themes"),
    5: ("views/define.py", "5 Define and name"),
    6: ("views/report.py", "6 Report"),
}


def render(page_title: str = "") -> None:
    """Draw the shared sidebar (called by app.py before the page runs, with the page's title)."""
    with st.sidebar:
        store = ui_store.try_store()
        if store is None:
            return
        name = ui_store.project_name()
        title = store.get_setting("title", "") or name
        st.caption(f"Project: **{md_escape(title)}** · `{name}`")
        if signin.current_user() is None:  # in team mode the signed-in name is the coder: no free-text box
            coder_picker(store)
        live()
        journal(store, page_title)  # needs no refreshing: outside the timed part


# Seconds between refreshes of the live part of the sidebar. Every open session reruns it on this timer; each
# refresh costs the server about 30 ms of CPU (bench/team_bench.py, team mode: most of it the sign-in's membership
# check). At 10 s, ten open sessions cost 0.01-0.02 of a core, and another coder's progress and the undo label are
# at most 10 s behind; the coding panel shows its own Undo, current after every click.
LIVE_EVERY = 10
LIVE_KEY = "sidebar_live"
UNDO_KEY = "sidebar_undo_part"  # the Undo part's key: a page's fragment reruns it with its own after a write


@st.fragment(run_every=LIVE_EVERY, key=LIVE_KEY)
def live() -> None:
    """Undo/redo and where each phase stands, refreshed on its own every few seconds.

    A click inside a page's fragment (the coding panel, a candidate card) reruns only that fragment, and another
    coder or the CLI may write to the same file: refreshing this part on a timer keeps the undo label and the
    counts true without rerunning the page. A page's fragment that writes also reruns the Undo part
    (:func:`rerun_with_undo`), so its label names the change at once; the phase counts wait for the timer."""
    store = ui_store.try_store()
    if store is None:
        return
    undo_part()
    status(store)


@st.fragment(key=UNDO_KEY)
def undo_part() -> None:
    """Undo/redo of this coder's changes. An undo or redo here reruns the whole app, since the page shows what it
    changed."""
    store = ui_store.try_store()
    if store is None:
        return
    if st.session_state.pop("sidebar_rerun_app", False):
        st.rerun(scope="app")
    undo_redo(store)


def coder_picker(store: Store) -> None:
    known = coding.coders(store)
    current = st.session_state.get("coder")
    options = sorted(set(known) | ({current} if current else set()))
    st.selectbox(
        "Coder",
        options,
        # No default: the value lives under the key. A default equal to the value would make Streamlit drop
        # ?coder= from the address the next time the address changes (a bound widget at its default is omitted).
        index=None,
        key="coder",
        placeholder="Choose or type your name",
        accept_new_options=True,
        bind="query-params",
        help="Your codings and memos are recorded under this name (also settable as ?coder=NAME in the URL).",
    )


def _save_journal() -> None:
    body = st.session_state.get("journal_body", "")
    phase = st.session_state.get("journal_phase")
    try:
        memos.add_memo(ui_store.get_store(), body, phase=phase, coder=ui_store.actor())
    except ThematicError as exc:
        st.session_state["sidebar_flash"] = f"Not saved: {exc}"
        return
    st.session_state["journal_body"] = ""
    st.session_state["sidebar_flash"] = f"Journal entry saved (phase {phase})."  # the save reruns the app
    ui_store.changed()


def journal(store: Store, page_title: str) -> None:
    """A reflexive-journal entry from any page, for the phase of that page by default."""
    here = int(page_title[0]) if page_title[:1].isdigit() and 1 <= int(page_title[0]) <= 6 else 1
    with st.popover("Journal entry", icon=":material/edit_note:", width="stretch", key="journal_pop"):
        st.selectbox("Phase", list(memos.PHASES), index=here - 1, key="journal_phase",
                     format_func=lambda p: f"{p}. {memos.PHASES[p]}")
        st.text_area("What you noticed, assumed or decided", key="journal_body")
        st.button("Save entry", key="journal_save", on_click=_save_journal)


def _after_step(done: bool, message: str) -> None:
    st.session_state["sidebar_flash"] = message
    if done:
        st.session_state["sidebar_rerun_app"] = True  # the page shows what was reverted


def undo_redo(store: Store) -> None:
    """Undo/redo of this coder's own changes (``ui.undo``), the label naming what Undo would revert. With no
    coder chosen, only once this session has changed something: changes made without a name are the unnamed
    analyst's, and a person who has done nothing (the demo project's own set-up, say) is offered nothing."""
    flash = st.session_state.pop("sidebar_flash", None)
    if ui_store.actor() is None and not st.session_state.get(ui_store.VERSION_KEY):
        st.caption("Nothing of yours to undo yet.")
        if flash:
            st.success(flash, icon=":material/check_circle:")
        return
    t = undo.buttons(store, key_prefix="sidebar", on_done=_after_step)
    if t.undo_root is not None:
        st.caption(f"Undo would revert your last change: *{md_escape(t.undo_root.summary)}*")
    if flash:
        st.success(flash, icon=":material/check_circle:")


@st.cache_data(ttl=30, max_entries=64, show_spinner=False)
def overview(key: tuple[str, int, int]) -> dict[int, str]:
    """One line per phase saying where the project stands (aggregates in SQL, cached by data version)."""
    store = ui_store.get_store()
    total = corpus.count_segments(store, person_spans=False)
    coded = corpus.count_segments(store, coded=True, person_spans=False)
    all_memos = memos.memos(store)
    journal = sum(1 for m in all_memos if m.phase is not None)
    notes = len(all_memos) - journal
    codes = codebook.list_codes(store)
    themes = [c for c in codes if c.parent_id is None]
    counts = coding.code_counts(store)
    thin = sum(1 for t in themes if counts.get(t.id, (0, 0))[1] < THIN_RESPONDENTS)
    written = report.written_definitions(store)  # the machine's text on accepted candidates is no definition
    undefined = sum(1 for c in codes if c.depth <= 1 and c.id not in written)
    with_quotes = sum(1 for t in themes if codebook.quotes(store, t.id))
    lines = {
        1: f"{_n(len(corpus.questions(store)), 'question')} · {_n(journal, 'journal entry', 'journal entries')} · "
        f"{_n(notes, 'note')}",
        2: f"{coded:,}/{total:,} segments coded ({(100 * coded // total) if total else 0}%)",
        3: f"{_n(len(themes), 'theme')} · {_n(len(codes) - len(themes), 'code')} under them" + _candidates_line(store),
        4: f"{_n(thin, 'thin theme')} (< {THIN_RESPONDENTS} respondents)" if themes else "no themes yet",
        5: f"{_n(undefined, 'theme or subtheme', 'themes and subthemes')} without a definition" if codes
        else "no themes yet",
        6: f"{with_quotes}/{len(themes)} themes with quotes chosen" if themes else "no themes yet",
    }
    return lines


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _candidates_line(store: Store) -> str:
    run = cluster.latest_run(store)
    if run is None:
        return " · not clustered yet"
    counts = cluster.status_counts(store, run.id, level=1)
    done = sum(n for status, n in counts.items() if status != "open")
    return f" · {done}/{sum(counts.values())} candidates reviewed"


def status(store: Store) -> None:
    with st.expander("Where the analysis stands", expanded=True, icon=":material/timeline:"):
        lines = overview(ui_store.version(store))
        for phase, (page, label) in PHASE_PAGES.items():
            if not (ui_store.APP_DIR / page).exists():
                continue
            st.page_link(page, label=label)
            st.caption(lines.get(phase, ""))


def rerun_with_undo(fragment_key: str) -> None:
    """From a write's callback inside the page fragment keyed ``fragment_key``: rerun that fragment and the
    sidebar's Undo part together, so that the sidebar's Undo names the change just made (instead of up to
    ``LIVE_EVERY`` seconds later; recounting the phases as well cost the team server a third more CPU per coding,
    bench/team_bench.py). Raises Streamlit's rerun exception: the callback's last statement."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.rerun([fragment_key, UNDO_KEY])
    except StreamlitAPIException:  # the sidebar's part was not drawn (no project open): the default rerun
        return
