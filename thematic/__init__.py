"""thematic: a thematic-analysis workbench for feedback forms (core library; never imports streamlit)."""

from .errors import Conflict, InvalidInput, ModelMissing, NotFound, NothingToUndo, ThematicError
from .store import AuditEvent, Store

__version__ = "0.1.0"

__all__ = [
    "AuditEvent",
    "Conflict",
    "InvalidInput",
    "ModelMissing",
    "NotFound",
    "NothingToUndo",
    "Store",
    "ThematicError",
    "__version__",
]
