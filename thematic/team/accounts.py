"""A team folder: the accounts file, the team settings and the projects folder.

Layout of ``TEAM_DIR`` (created by ``python -m thematic team init TEAM_DIR``)::

    TEAM_DIR/            0700
      accounts.json      0600  {"format": 1, "users": {NAME: {"role", "hash", "created"}}}
      team.json          0600  {"format": 1, "idle_minutes": 30}
      projects/          0700  one SQLite file per project, NAME.db

Passwords are stored only as argon2id hashes (argon2-cffi, its default RFC 9106 parameters); the file is replaced
atomically under a lock, so the CLI can add a user while the server runs (the server reads the file at each
sign-in). Names are compared case-insensitively when adding, so "Ann" and "ann" cannot both exist.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import Conflict, InvalidInput, NotFound, ThematicError
from .permissions import ROLES, User

ACCOUNTS = "accounts.json"
SETTINGS = "team.json"
PROJECTS = "projects"
LOCK = ".accounts.lock"
FORMAT = 1
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
DEFAULT_IDLE_MINUTES = 30
SIGN_IN_METHODS = ("password", "oidc")  # oidc: Streamlit's st.login with the organisation's identity provider

_hasher = PasswordHasher()  # argon2id; thread-safe, holds only its parameters (documented module cache)
_dummy: list[str] = []  # one hash made on first use, so that an unknown name costs what a wrong password does


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(_hasher.hash("not a password of anyone: evens out the time of an unknown name"))
    return _dummy[0]


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    created: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``data`` as JSON, readable by the owner only."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_password(password: str, name: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters ({len(password)} given)")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD} characters")
    if password.strip().casefold() == name.strip().casefold():
        raise InvalidInput("the password cannot be the user's name")


class Team:
    """An existing team folder. ``Team(path)`` checks it is one; :func:`init_team` creates one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not (self.path / ACCOUNTS).is_file():
            raise NotFound(f"{self.path} is not a team folder (create one with: python -m thematic team init {self.path})")

    @property
    def accounts_file(self) -> Path:
        return self.path / ACCOUNTS

    @property
    def projects_dir(self) -> Path:
        return self.path / PROJECTS

    # ------------------------------------------------------------------ settings

    def settings(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / SETTINGS).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": FORMAT, "idle_minutes": DEFAULT_IDLE_MINUTES}
        except (OSError, ValueError) as exc:
            raise ThematicError(f"{self.path / SETTINGS}: cannot read the team settings ({exc})") from exc
        return data if isinstance(data, dict) else {}

    @property
    def idle_minutes(self) -> float:
        value = self.settings().get("idle_minutes", DEFAULT_IDLE_MINUTES)
        try:
            minutes = float(value)
        except (TypeError, ValueError):
            return DEFAULT_IDLE_MINUTES
        return minutes if minutes > 0 else DEFAULT_IDLE_MINUTES

    @property
    def sign_in(self) -> str:
        """How browsers sign in: ``password`` (this file's hashes) or ``oidc`` (``st.login``; roles from here)."""
        method = str(self.settings().get("sign_in", "password"))
        return method if method in SIGN_IN_METHODS else "password"

    def set_idle_minutes(self, minutes: float) -> None:
        if not 1 <= minutes <= 24 * 60:
            raise InvalidInput(f"idle time must be between 1 minute and 24 hours ({minutes:g} minutes given)")
        with self._locked():
            data = self.settings()
            data["idle_minutes"] = minutes
            _write_private(self.path / SETTINGS, data)

    # ------------------------------------------------------------------ accounts

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.accounts_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ThematicError(f"{self.accounts_file}: cannot read the accounts file ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
            raise ThematicError(f"{self.accounts_file}: not a thematic accounts file")
        return data

    def users(self) -> list[Account]:
        users = self._read()["users"]
        return sorted(
            (Account(n, str(u.get("role", "")), str(u.get("created", ""))) for n, u in users.items()),
            key=lambda a: a.name.casefold(),
        )

    def account(self, name: str) -> Account | None:
        u = self._read()["users"].get(name)
        return None if u is None else Account(name, str(u.get("role", "")), str(u.get("created", "")))

    def add_user(self, name: str, role: str, password: str | None) -> Account:
        """Add an account; ``password`` None makes an account that signs in only through the identity provider."""
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        User(name, role)  # checks the name
        if password is not None:
            check_password(password, name)
        digest = _hasher.hash(password) if password is not None else ""
        with self._locked():
            data = self._read()
            clash = [n for n in data["users"] if n.casefold() == name.casefold()]
            if clash:
                raise Conflict(f"a user named {clash[0]!r} already exists (remove-user first to replace them)")
            data["users"][name] = {"role": role, "hash": digest, "created": _now()}
            _write_private(self.accounts_file, data)
        return Account(name, role, data["users"][name]["created"])

    def remove_user(self, name: str) -> Account:
        with self._locked():
            data = self._read()
            u = data["users"].get(name)
            if u is None:
                raise NotFound(f"no user named {name!r} in {self.path}")
            leads = [n for n, v in data["users"].items() if v.get("role") == "lead"]
            if u.get("role") == "lead" and leads == [name]:
                raise Conflict(f"{name!r} is the team's only lead: add another lead before removing them")
            del data["users"][name]
            _write_private(self.accounts_file, data)
        return Account(name, str(u.get("role", "")), str(u.get("created", "")))

    def set_password(self, name: str, password: str) -> None:
        check_password(password, name)
        digest = _hasher.hash(password)
        with self._locked():
            data = self._read()
            if name not in data["users"]:
                raise NotFound(f"no user named {name!r} in {self.path}")
            data["users"][name]["hash"] = digest
            _write_private(self.accounts_file, data)

    def identity(self, identity: str) -> User | None:
        """The account an identity provider's user (e-mail address or user name) is, compared case-insensitively."""
        key = identity.strip().casefold()
        for n, u in self._read()["users"].items():
            if n.casefold() == key:
                return User(n, str(u.get("role", "")))
        return None

    def verify(self, name: str, password: str) -> User | None:
        """The user ``name`` if ``password`` is theirs, else None (an unknown name takes as long as a wrong password)."""
        u = self._read()["users"].get(name)
        digest = str(u.get("hash", "")) if u and u.get("hash") else _dummy_hash()
        try:
            _hasher.verify(digest, password[:MAX_PASSWORD])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if u is None or not u.get("hash"):
            return None
        return User(name, str(u.get("role", "")))


def init_team(path: str | Path, *, idle_minutes: float = DEFAULT_IDLE_MINUTES, sign_in: str = "password") -> Team:
    """Create a team folder (owner-only permissions) with an empty accounts file and a projects folder."""
    root = Path(path).expanduser()
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"{root} exists and is not a folder")
    if (root / ACCOUNTS).exists():
        raise Conflict(f"{root} is already a team folder")
    if not 1 <= idle_minutes <= 24 * 60:
        raise InvalidInput(f"idle time must be between 1 minute and 24 hours ({idle_minutes:g} minutes given)")
    if sign_in not in SIGN_IN_METHODS:
        raise InvalidInput(f"unknown sign-in method {sign_in!r}: use one of {', '.join(SIGN_IN_METHODS)}")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    (root / PROJECTS).mkdir(exist_ok=True, mode=0o700)
    os.chmod(root / PROJECTS, 0o700)
    _write_private(root / SETTINGS, {"format": FORMAT, "idle_minutes": idle_minutes, "sign_in": sign_in})
    _write_private(root / ACCOUNTS, {"format": FORMAT, "users": {}})
    return Team(root)
