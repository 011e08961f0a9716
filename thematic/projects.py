"""The projects folder: the only place the workbench opens or creates project files, each named by a plain name.

A server must not open or create files at paths typed into a web page (anyone who can reach the page could read
or write files as the server user). The app therefore knows one folder (``projects/`` by default, or what the
operator names with ``--projects DIR`` / ``THEMATIC_PROJECTS``) and addresses the projects in it by *name*:
``"evaluation"`` is ``<folder>/evaluation.db``. A name is one path component of ordinary characters: no folder
separators, no ``..``, no leading dot, no control characters. :func:`resolve` turns a name into a path and checks
the result is a file directly inside the folder.

A project file uploaded through the page is first written beside its final name, checked to be a thematic project
(an SQLite file with the project's own tables, opened read-only), then moved into place: nothing that is not a
project ever lands in the folder, and an existing project is never overwritten.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import projectfile
from .errors import Conflict, InvalidInput, NotFound
from .projectfile import recognised
from .store import Store

SUFFIX = ".db"
DEFAULT_FOLDER = "projects"
MAX_NAME = 100
# Tables every thematic project has had since its first schema version.
_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.()\-]*")


@dataclass(frozen=True)
class ProjectFile:
    name: str
    path: Path
    size: int
    modified: float


def clean_name(name: str) -> str:
    """The project name ``name`` stands for (a trailing ``.db`` is dropped), or :class:`InvalidInput` saying why
    it cannot be one."""
    raw = str(name).strip()
    if raw.lower().endswith(SUFFIX):
        raw = raw[: -len(SUFFIX)].rstrip()
    if not raw:
        raise InvalidInput("a project needs a name")
    if len(raw) > MAX_NAME:
        raise InvalidInput(f"a project name has at most {MAX_NAME} characters ({len(raw)} given)")
    if "/" in raw or "\\" in raw or os.sep in raw or (os.altsep and os.altsep in raw):
        raise InvalidInput(f"{raw!r}: a project name cannot contain a folder separator; give a name, not a path")
    if ".." in raw:
        raise InvalidInput(f"{raw!r}: a project name cannot contain '..'")
    if not _NAME_OK.fullmatch(raw):
        raise InvalidInput(
            f"{raw!r}: a project name starts with a letter or digit and uses letters, digits, spaces and - _ . ( )"
        )
    return raw


def resolve(folder: str | Path, name: str) -> Path:
    """The file of project ``name`` inside ``folder`` (which need not exist yet); never a path outside it."""
    base = Path(folder).expanduser().resolve()
    path = (base / (clean_name(name) + SUFFIX)).resolve()
    if path.parent != base:  # a symlink in the folder pointing elsewhere, or anything odd
        raise InvalidInput(f"{name!r} does not name a project inside {base}")
    return path


def list_projects(folder: str | Path) -> list[ProjectFile]:
    """The projects in ``folder`` by name (files ``*.db`` whose stem is a valid name), sorted case-insensitively."""
    base = Path(folder).expanduser()
    if not base.is_dir():
        return []
    out = []
    for p in base.iterdir():
        if p.suffix != SUFFIX or not p.is_file() or p.is_symlink():
            continue
        try:
            name = clean_name(p.stem)
        except InvalidInput:
            continue
        st = p.stat()
        out.append(ProjectFile(name, p, st.st_size, st.st_mtime))
    return sorted(out, key=lambda f: (f.name.casefold(), f.name))


def names(folder: str | Path) -> list[str]:
    return [f.name for f in list_projects(folder)]


def exists(folder: str | Path, name: str) -> bool:
    return resolve(folder, name).is_file()


def create(folder: str | Path, name: str, *, title: str | None = None, actor: str | None = None) -> Path:
    """Create an empty project ``name`` in ``folder`` (the folder too, if needed); :class:`Conflict` if it exists."""
    path = resolve(folder, name)
    if path.exists():
        raise Conflict(f"a project named {clean_name(name)!r} already exists; open it or choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    with Store(path) as store:
        if title:
            store.set_setting("title", title, actor=actor)
    return path


def open_project(folder: str | Path, name: str) -> Store:
    """Open the existing project ``name`` (never creates one: a missing name is :class:`NotFound`)."""
    path = resolve(folder, name)
    if not path.is_file():
        raise NotFound(f"no project named {clean_name(name)!r} in {Path(folder)}")
    return Store.open(path)


def check_upload(path: str | Path) -> None:
    """Raise :class:`InvalidInput` unless ``path`` is a readable thematic project: recognised by the same rule
    as opening one (:func:`thematic.projectfile.recognised`) and intact (``PRAGMA quick_check``). Opened
    read-only and immutable: nothing is written to it and no side file is made, even when it is something else."""
    p = Path(path)
    try:
        head = projectfile.read_head(p, 16)  # None: a file this process has open as a project
    except OSError as exc:
        raise InvalidInput(f"cannot read it ({exc.strerror or exc})", path=p) from exc
    if head is not None and head != b"SQLite format 3\x00":
        raise InvalidInput("not a thematic project (not an SQLite database)", path=p)
    try:
        conn = projectfile.connect(p, "mode=ro&immutable=1")  # no -wal/-shm
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            ok = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"not a readable project file ({exc})", path=p) from exc
    if not recognised(app_id, tables):
        what = f"application id {app_id:#x}" if app_id else f"tables {', '.join(sorted(tables)[:4]) or 'none'}"
        raise InvalidInput(f"not a thematic project (an SQLite database of another program: {what})", path=p)
    if ok is None or ok[0] != "ok":
        raise InvalidInput(f"the project file is damaged ({ok[0] if ok else 'no answer'})", path=p)


def add_file(folder: str | Path, name: str, chunks: bytes | Iterable[bytes]) -> Path:
    """Store an uploaded project file as project ``name`` in ``folder``, after checking it is a thematic project.

    The bytes go to a temporary file in the folder first; only a checked file is moved to its name, and an existing
    project of that name is never replaced (:class:`Conflict`). On any error nothing is left behind."""
    path = resolve(folder, name)
    if path.exists():
        raise Conflict(f"a project named {clean_name(name)!r} already exists; choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
                fh.write(chunk)
        try:
            check_upload(tmp)
        except InvalidInput as exc:
            raise InvalidInput(str(exc).replace(tmp.name + ": ", ""), path=f"{clean_name(name)}{SUFFIX}") from exc
        try:
            os.link(tmp, path)  # fails if the name was taken meanwhile: never replaces a project
        except FileExistsError as exc:
            raise Conflict(f"a project named {clean_name(name)!r} already exists; choose another name") from exc
        except OSError:
            if path.exists():
                raise Conflict(f"a project named {clean_name(name)!r} already exists; choose another name") from None
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
