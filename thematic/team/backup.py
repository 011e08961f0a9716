"""Backups of a team's projects while the server runs: SQLite's online backup of every project file.

Each project is copied with :meth:`~thematic.store.Store.backup` (a consistent snapshot even while others write);
the accounts and team settings files are copied as they are (they are replaced atomically, so a copy is whole).
The backup folder is created owner-only (0700) and every file in it 0600: it holds the same sensitive text.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import InvalidInput
from ..store import Store
from .accounts import ACCOUNTS, SETTINGS, Team
from .projects import SUFFIX


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    projects: list[str]
    bytes: int


def backup_team(team: Team, dest: str | Path, *, stamp: bool = True) -> BackupResult:
    """Copy every project (online backup) and the accounts into ``dest`` (a new ``<dest>/<UTC time>/`` folder
    unless ``stamp`` is False, in which case ``dest`` must not exist yet)."""
    root = Path(dest).expanduser()
    folder = root / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") if stamp else root
    if folder.resolve().is_relative_to(team.path.resolve()):
        raise InvalidInput(f"{folder}: put backups outside the team folder")
    if folder.exists():
        raise InvalidInput(f"{folder} already exists: backups never overwrite")
    folder.mkdir(parents=True, mode=0o700)
    os.chmod(folder, 0o700)
    (folder / "projects").mkdir(mode=0o700)
    names, total = [], 0
    projects = sorted(p for p in team.projects_dir.glob(f"*{SUFFIX}") if p.is_file() and not p.is_symlink())
    for src in projects:
        target = folder / "projects" / src.name
        with Store(src, create=False, migrate=False) as store:
            store.backup(target)
        os.chmod(target, 0o600)
        names.append(src.stem)
        total += target.stat().st_size
    for name in (ACCOUNTS, SETTINGS):
        if (team.path / name).is_file():
            shutil.copy2(team.path / name, folder / name)
            os.chmod(folder / name, 0o600)
            total += (folder / name).stat().st_size
    return BackupResult(folder, names, total)
