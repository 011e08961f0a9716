"""Exports built when the analyst clicks download (never on a rerun), through :mod:`thematic.export`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from thematic.store import Store


def file_name(store: Store, ext: str) -> str:
    title = store.get_setting("title", "") or "thematic"
    slug = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower()[:60] or "thematic"
    return f"{slug}{ext}"


def build(store: Store, fmt: str, options: dict[str, Any], *, actor: str | None = None) -> bytes:
    """Render one export and note it in the audit trail (the report's method section dates phase 6 from it)."""
    from thematic import export

    spec = export.get_format(fmt)
    data = export.render(store, spec.name, **options)
    export.record_export(store, spec.name, target=file_name(store, spec.extension), actor=actor, size=len(data))
    return data


def deferred(store: Store, fmt: str, options: dict[str, Any], actor: str | None) -> Callable[[], bytes]:
    """A zero-argument builder for ``st.download_button(data=...)``: Streamlit runs it only on click."""
    opts = dict(options)
    return lambda: build(store, fmt, opts, actor=actor)
