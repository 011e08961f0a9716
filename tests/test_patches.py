"""ui.patches: a fragment timer's rerun never delivers a click (Streamlit 1.67's frontend sends the click's trigger
inside a timer rerun that fires before the click's own flush, so the server acted on one click twice). End to end,
over the websocket: tests/test_team_bench.py (``--stray``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.WidgetStates_pb2 import WidgetState

from ui import patches


def _state(auto: bool) -> ClientState:
    cs = ClientState(is_auto_rerun=auto, fragment_id="sidebar", page_script_hash="page")
    cs.widget_states.widgets.extend([
        WidgetState(id="apply", trigger_value=True),
        WidgetState(id="picker", json_value='{"chosen": ["A/B"]}'),
        WidgetState(id="event", json_trigger_value='["clicked"]'),
        WidgetState(id="chat", string_trigger_value={"data": "hello"}),
        WidgetState(id="note", string_value="typed"),
    ])
    return cs


def test_a_timer_rerun_keeps_values_and_drops_every_trigger() -> None:
    cs = _state(auto=True)
    out = patches.drop_timer_triggers(cs)
    assert [(w.id, w.WhichOneof("value")) for w in out.widget_states.widgets] == [
        ("picker", "json_value"), ("note", "string_value")]
    assert out.widget_states.widgets[0].json_value == '{"chosen": ["A/B"]}'
    assert out.is_auto_rerun and out.fragment_id == "sidebar" and out.page_script_hash == "page"
    assert len(cs.widget_states.widgets) == 5  # the message received is not altered in place


def test_a_click_and_other_reruns_pass_unchanged() -> None:
    cs = _state(auto=False)
    assert patches.drop_timer_triggers(cs) is cs
    quiet = ClientState(is_auto_rerun=True)
    quiet.widget_states.widgets.append(WidgetState(id="note", string_value="x"))
    assert patches.drop_timer_triggers(quiet) is quiet
    assert patches.drop_timer_triggers(None) is None


class _Session:
    def __init__(self) -> None:
        self.got: list[Any] = []

    def request_rerun(self, client_state: Any) -> None:
        self.got.append(client_state)


def test_install_wraps_request_rerun_once() -> None:
    cls = type("FakeSession", (_Session,), {})
    assert patches.install(cls) is True
    wrapped = cls.request_rerun
    assert patches.install(cls) is True and cls.request_rerun is wrapped  # idempotent: not wrapped twice
    s = cls()
    s.request_rerun(_state(auto=True))
    s.request_rerun(_state(auto=False))
    s.request_rerun(None)
    assert [len(c.widget_states.widgets) if c is not None else None for c in s.got] == [2, 5, None]


def test_install_leaves_a_streamlit_without_the_method_alone() -> None:
    assert patches.install(type("Other", (), {})) is False


def test_the_app_installs_it_on_streamlit_itself() -> None:
    from streamlit.runtime.app_session import AppSession

    assert patches.install() is True
    assert getattr(AppSession.request_rerun, "_thematic_timer_triggers_dropped", False)
    app = (Path(__file__).resolve().parents[1] / "app.py").read_text(encoding="utf-8")
    assert "\npatches.install()" in app  # at the top of every run of app.py, before any page
