"""Work-arounds for Streamlit bugs that would make the workbench act on a click twice; installed once per server
process by ``app.py`` (:func:`install`), each with the bug it answers and a test (``tests/test_patches.py``).

**A click delivered twice by a fragment's timer** (Streamlit 1.67's frontend). A click is not sent at once: the
frontend sets the button's trigger in its widget state and flushes it a zero-delay timeout later. A fragment with
``run_every`` (the sidebar's live part, the idle sign-out check, the clustering progress) sends *every* widget
state when its timer fires. When the timer fires inside that window, which a busy browser makes likely, the
click's trigger travels twice: inside the timer's rerun of another fragment, where its callback runs but its own
fragment is not redrawn, and then as the click. The server runs the callback twice: "Apply and next" coded the
segment and moved on, then its second delivery found nothing picked on the next segment and said so (found by
``bench/team_bench.py --driver browser``; ``--stray`` replays it over the websocket); an Undo could revert two
changes. A timer's rerun carries no click by definition, so triggers are dropped from timer reruns before they
reach the script runner: the click then acts once, when it arrives as itself. Values (a picked code, typed text)
in a timer's rerun are kept; a value sent twice is a change only once.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger("thematic.app")

# WidgetState value kinds that are triggers (a click, a chat message, a component event): a timer never sends one
# on purpose. The names are the protobuf oneof fields of streamlit.proto.WidgetStates_pb2.WidgetState.
TRIGGER_KINDS = frozenset({"trigger_value", "string_trigger_value", "chat_input_value", "json_trigger_value"})
_MARK = "_thematic_timer_triggers_dropped"


def drop_timer_triggers(client_state: Any) -> Any:
    """``client_state`` (a ``ClientState`` protobuf) unchanged unless it is a timer's rerun (``is_auto_rerun``)
    carrying triggers; then a copy without them."""
    if client_state is None or not getattr(client_state, "is_auto_rerun", False):
        return client_state
    widgets = list(client_state.widget_states.widgets)
    kept = [w for w in widgets if w.WhichOneof("value") not in TRIGGER_KINDS]
    if len(kept) == len(widgets):
        return client_state
    copy = type(client_state)()
    copy.CopyFrom(client_state)
    del copy.widget_states.widgets[:]
    copy.widget_states.widgets.extend(kept)
    return copy


def install(app_session: type | None = None) -> bool:
    """Wrap ``AppSession.request_rerun`` (or ``app_session.request_rerun``) so that timer reruns carry no trigger.
    Idempotent; returns whether the wrapper is in place. A Streamlit without that method is left alone (logged)."""
    if app_session is None:
        try:
            from streamlit.runtime.app_session import AppSession
        except ImportError:  # pragma: no cover - a Streamlit that moved it
            log.warning("Streamlit's AppSession not found: timer reruns may deliver a click twice")
            return False
        app_session = AppSession
    original = getattr(app_session, "request_rerun", None)
    if original is None:
        log.warning("Streamlit's AppSession.request_rerun not found: timer reruns may deliver a click twice")
        return False
    if getattr(original, _MARK, False):
        return True

    @functools.wraps(original)
    def request_rerun(self: Any, client_state: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, drop_timer_triggers(client_state), *args, **kwargs)

    setattr(request_rerun, _MARK, True)
    app_session.request_rerun = request_rerun  # type: ignore[attr-defined]  # patching a class mypy sees as `type`
    return True
