"""Plain records passed between the library, the CLI and the app. No behaviour, no database handles."""

from __future__ import annotations

from dataclasses import dataclass, field

ORIGINS = ("human", "suggestion", "cluster", "import", "adjudication", "merge")


@dataclass(frozen=True)
class Question:
    id: int
    key: str
    label: str
    position: int


@dataclass(frozen=True)
class Form:
    id: int
    external_id: str
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    id: int
    answer_id: int
    form_id: int
    external_id: str
    question_id: int
    question: str
    position: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Code:
    id: int
    parent_id: int | None
    name: str
    definition: str = ""
    includes: str = ""
    excludes: str = ""
    colour: str = ""
    position: int = 0
    depth: int = 0
    path: tuple[str, ...] = ()

    @property
    def path_str(self) -> str:
        """The path as typed in spreadsheets: names joined by ``/``, a ``/`` inside a name written ``\\/``."""
        return "/".join(p.replace("\\", "\\\\").replace("/", "\\/") for p in self.path)

    @property
    def label(self) -> str:
        """The path for people to read: ``Theme › Subtheme``."""
        return " › ".join(self.path)


@dataclass
class CodeNode:
    """A code with its children, for trees (exports, the app's tree view)."""

    code: Code
    children: list[CodeNode] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Coding:
    id: int
    segment_id: int
    code_id: int
    coder: str
    origin: str
    created_at: str


@dataclass(frozen=True)
class Memo:
    id: int
    phase: int | None
    code_id: int | None
    segment_id: int | None
    answer_id: int | None
    coder: str | None
    title: str
    body: str
    created_at: str
    updated_at: str
