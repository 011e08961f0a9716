"""Exports built when the analyst clicks download (never on a rerun), through :mod:`thematic.export`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from thematic.store import Store

# What a file holds, in its name, where two formats share an extension (two CSV downloads must not overwrite
# each other in the Downloads folder).
CONTENT = {"csv": "extracts", "codings-csv": "codings"}


def file_name(store: Store, fmt: str) -> str:
    """``<study title>[_<content>].<ext>``: one distinct name per export format."""
    from thematic import export

    spec = export.get_format(fmt)
    title = store.get_setting("title", "") or "thematic"
    slug = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower()[:60] or "thematic"
    shared = [n for n, f in export.FORMATS.items() if f.extension == spec.extension and n != spec.name]
    part = CONTENT.get(spec.name) or (re.sub(r"[^a-z0-9]+", "_", spec.name.lower()) if shared else "")
    return f"{slug}_{part}{spec.extension}" if part else f"{slug}{spec.extension}"


def build(store: Store, fmt: str, options: dict[str, Any], *, actor: str | None = None) -> bytes:
    """Render one export and note it in the audit trail (the report's method section dates phase 6 from it)."""
    from thematic import export

    spec = export.get_format(fmt)
    data = export.render(store, spec.name, **options)
    export.record_export(store, spec.name, target=file_name(store, spec.name), actor=actor, size=len(data))
    return data


def deferred(store: Store, fmt: str, options: dict[str, Any], actor: str | None) -> Callable[[], bytes]:
    """A zero-argument builder for ``st.download_button(data=...)``: Streamlit runs it only on click."""
    opts = dict(options)
    return lambda: build(store, fmt, opts, actor=actor)
