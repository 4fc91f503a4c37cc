"""Dashboard users, their roles, password checks with lockout, and login sessions.

Passwords are hashed with argon2id (argon2-cffi defaults, RFC 9106's second recommended
setting): a password is a low-entropy secret, so the hash must be slow. Sessions are 256-bit
random ids handed to the browser once; only their SHA-256 is stored (like API keys), so a copy
of the state store opens no session. Each session carries its own CSRF token.

Lockout: `MAX_FAILURES` consecutive failed logins lock the account for `LOCKOUT`; a success
resets the count. Unknown user names still cost one hash, so timing does not reveal them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, delete, select, update

from cvm.core.errors import ConflictError, NotFoundError, UserInputError
from cvm.core.timewindows import utc_now as _now
from cvm.state.tables import user_sessions, users

ROLES = ("viewer", "marketer", "admin")
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Verified against when the user name is unknown, so both paths cost one argon2 check.
_DUMMY = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class User:
    id: str
    username: str
    role: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None
    last_login_at: dt.datetime | None = None
    locked_until: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def can(self, role: str) -> bool:
        """True when this user's role is at least ``role`` (viewer < marketer < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: dt.datetime


class LoginRefused(Exception):
    """Wrong name or password, disabled, or locked (the message never says which name exists)."""


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(
        id=m["id"], username=m["username"], role=m["role"], created_at=m["created_at"],
        disabled_at=m["disabled_at"], last_login_at=m["last_login_at"],
        locked_until=m["locked_until"],
    )  # fmt: skip


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserInputError(f"a password needs at least {MIN_PASSWORD} characters")


def create_user(engine: Engine, username: str, password: str, role: str) -> User:
    if role not in ROLES:
        raise UserInputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    username = username.strip()
    if not username or len(username) > 100:
        raise UserInputError("a user name needs 1 to 100 characters")
    _check_password(password)
    user = User(id=uuid.uuid4().hex, username=username, role=role, created_at=_now())
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.username == username)).first():
            raise ConflictError(f"user {username!r} exists")
        conn.execute(
            users.insert().values(
                id=user.id,
                username=username,
                password_hash=_hasher.hash(password),
                role=role,
                created_at=user.created_at,
                failed_logins=0,
            )  # fmt: skip
        )
    return user


def list_users(engine: Engine, include_disabled: bool = True) -> list[User]:
    query = select(users).order_by(users.c.username)
    if not include_disabled:
        query = query.where(users.c.disabled_at.is_(None))
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(query)]


def get_user(engine: Engine, username: str) -> User:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise NotFoundError(f"no user {username!r}")
    return _user(row)


def set_user(
    engine: Engine, username: str, *, role: str | None = None, disabled: bool | None = None
) -> User:
    """Change a role or disable/enable; disabling ends the user's sessions at once."""
    user = get_user(engine, username)
    values: dict[str, object] = {}
    if role is not None:
        if role not in ROLES:
            raise UserInputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        values["role"] = role
    if disabled is not None:
        values["disabled_at"] = _now() if disabled else None
    with engine.begin() as conn:
        if values:
            conn.execute(update(users).where(users.c.id == user.id).values(**values))
        if disabled:
            conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user.id))
    return get_user(engine, username)


def disable_user(engine: Engine, username: str) -> User:
    return set_user(engine, username, disabled=True)


def authenticate(engine: Engine, username: str, password: str) -> User:
    """The user, or LoginRefused; counts failures and locks after `MAX_FAILURES`."""
    now = _now()
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username.strip())).first()
    if row is None:
        try:
            _hasher.verify(_DUMMY, password)
        except VerificationError:
            pass
        raise LoginRefused("wrong user name or password")
    m = row._mapping
    if m["locked_until"] is not None and m["locked_until"] > now:
        raise LoginRefused("too many failed logins: try again in 15 minutes")
    try:
        ok: bool = _hasher.verify(m["password_hash"], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        failures = int(m["failed_logins"] or 0) + 1
        locked = now + LOCKOUT if failures >= MAX_FAILURES else None
        with engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == m["id"])
                .values(failed_logins=0 if locked else failures, locked_until=locked)
            )
        raise LoginRefused(
            "too many failed logins: try again in 15 minutes"
            if locked
            else "wrong user name or password"
        )
    if m["disabled_at"] is not None:
        raise LoginRefused("this account is disabled")
    with engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == m["id"])
            .values(failed_logins=0, locked_until=None, last_login_at=now)
        )
    return _user(row)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def create_session(engine: Engine, user: User) -> tuple[str, Session]:
    """A new session; returns the id for the cookie (never stored in clear) and the session."""
    session_id = secrets.token_urlsafe(32)
    now = _now()
    session = Session(user, secrets.token_urlsafe(32), now + SESSION_LIFETIME)
    with engine.begin() as conn:
        # Expired sessions are swept here rather than by a timer.
        conn.execute(delete(user_sessions).where(user_sessions.c.expires_at < now))
        conn.execute(
            user_sessions.insert().values(
                id_hash=_digest(session_id),
                user_id=user.id,
                csrf_token=session.csrf_token,
                created_at=now,
                expires_at=session.expires_at,
                last_seen_at=now,
            )  # fmt: skip
        )
    return session_id, session


def find_session(engine: Engine, session_id: str) -> Session | None:
    """The live session of an active user, or None (expired, ended, or user disabled)."""
    query = (
        select(users, user_sessions.c.csrf_token, user_sessions.c.expires_at)
        .join(user_sessions, user_sessions.c.user_id == users.c.id)
        .where(user_sessions.c.id_hash == _digest(session_id))
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row._mapping["expires_at"] < _now():
        return None
    user = _user(row)
    if not user.active:
        return None
    return Session(user, row._mapping["csrf_token"], row._mapping["expires_at"])


def end_session(engine: Engine, session_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.id_hash == _digest(session_id)))
