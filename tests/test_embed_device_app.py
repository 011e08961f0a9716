"""The embedding device in the app: chosen on the Themes page (auto, CPU or CUDA), shown with what actually embeds
(device, backend, precision), and passed to the library for every embedding the session asks for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

from thematic import cluster, embed
from thematic.store import Store

from .apptest import check, open_app
from .helpers import SMALL, make_corpus

PAGE = "views/themes.py"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "study.db"
    with Store(path) as s:
        make_corpus(s, SMALL)
    monkeypatch.setenv("THEMATIC_PROJECT", str(path))
    monkeypatch.delenv("THEMATIC_FAKE_EMBEDDER", raising=False)
    monkeypatch.delenv("THEMATIC_DEVICE", raising=False)
    monkeypatch.delenv("THEMATIC_BACKEND", raising=False)
    monkeypatch.setattr(embed, "_DEFAULTS", {})  # each test resolves the devices afresh
    from ui import models

    models._embedder.clear()  # and the server's embedders are made again
    yield path


def gpu(monkeypatch: pytest.MonkeyPatch, present: bool) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: present)
    monkeypatch.setattr(embed, "_gpu_device_nodes", lambda: present)


def captions(at: object) -> str:
    return " | ".join(c.value for c in at.caption)  # type: ignore[attr-defined]


def test_auto_on_a_machine_without_a_gpu_embeds_on_the_cpu_with_onnx(project: Path, monkeypatch) -> None:
    gpu(monkeypatch, False)
    at = check(open_app(PAGE))
    assert at.selectbox(key="cl_device").value == "auto"
    assert "Embedding on: CPU · ONNX Runtime · float32" in captions(at)
    assert not at.button(key="cl_run").disabled


def test_auto_with_a_gpu_shows_cuda_pytorch_in_float16(project: Path, monkeypatch) -> None:
    gpu(monkeypatch, True)
    at = check(open_app(PAGE))
    assert "Embedding on: CUDA GPU · PyTorch · float16" in captions(at)
    at.selectbox(key="cl_device").set_value("cpu").run()
    assert "Embedding on: CPU · ONNX Runtime · float32" in captions(at)  # the GPU can be declined
    assert at.session_state["embed_device"] == "cpu"


def test_cuda_without_a_gpu_is_one_line_and_the_run_waits(project: Path, monkeypatch) -> None:
    gpu(monkeypatch, False)
    at = open_app(PAGE)
    at.selectbox(key="cl_device").set_value("cuda").run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "device cuda: torch sees no CUDA GPU on this machine (use auto or cpu)"]
    assert at.button(key="cl_run").disabled


def test_the_chosen_device_reaches_the_library(project: Path, monkeypatch) -> None:
    """Clustering asks the library for an embedder on the device chosen in the app (hashing stand-in here)."""
    import time

    monkeypatch.setenv("THEMATIC_FAKE_EMBEDDER", "1")
    gpu(monkeypatch, False)
    at = open_app(PAGE)
    assert "hashing test embedder" in captions(at)
    at.selectbox(key="cl_device").set_value("cpu").run()
    at.toggle(key="cl_bertopic").set_value(False)
    at.button(key="cl_run").click().run()
    check(at)
    with Store.open(project) as s:
        deadline = time.monotonic() + 120
        while cluster.latest_run(s) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cluster.latest_run(s) is not None
    assert ("fake", "auto", "cpu") in embed._DEFAULTS and ("fake", "auto", "auto") not in embed._DEFAULTS
