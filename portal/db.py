"""Database engine, per-request sessions and the unit of work."""

from __future__ import annotations

import enum
import logging
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

logger = logging.getLogger(__name__)

MONEY = sa.Numeric(14, 2, asdecimal=True)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, to the microsecond."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base: Decimal maps to NUMERIC(14,2), datetime to UTC timestamps."""

    type_annotation_map = {Decimal: MONEY, datetime: UTCDateTime()}
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def str_enum(cls: type[enum.Enum], name: str, length: int = 12) -> sa.Enum:
    """An enum stored as its string values in a VARCHAR (no native type to migrate)."""
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine; SQLite gets foreign keys, WAL and a busy timeout so workers can share it."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = sa.create_engine(url, **kwargs)
        path = engine.url.database

        @event.listens_for(engine, "do_connect")
        def _private_file(*_args: Any) -> None:
            if path and path != ":memory:" and not path.startswith("file:"):
                private_sqlite_file(path)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL never corrupts; a power cut may lose the last commits, which the
            # outbox and the next sync put back (SQLite's documented setting for WAL).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def private_sqlite_file(path: str) -> None:
    """Create the SQLite file readable by its owner only (0600), before SQLite would create
    it with the umask's mode, and take group and other access off one that has it. SQLite
    gives its -wal, -shm and -journal files the database file's mode."""
    # FileExistsError: there already; FileNotFoundError: no folder, which SQLite reports.
    with suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, mode & 0o700)
        except FileNotFoundError:
            continue
        except PermissionError:
            logger.warning("cannot make %s readable by its owner only", name)


class UnitOfWork(Session):
    """The one kind of session, for views and jobs alike: whatever calls commit(), what
    waited for the commit (`after_commit`, e.g. sending the e-mail it queued) runs after
    it, and a rollback drops it."""

    def commit(self) -> None:
        try:
            super().commit()
        except BaseException:
            self.info.pop("after_commit", None)
            raise
        for hook in self.info.pop("after_commit", []):
            hook()

    def rollback(self) -> None:
        self.info.pop("after_commit", None)
        super().rollback()


class Database:
    """The engine and session factory of one app."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions: sessionmaker[Session] = sessionmaker(
            self.engine, class_=UnitOfWork, expire_on_commit=False
        )


def init_app(app: Flask, url: str) -> Database:
    """Attach a Database to the app and close the request's session at teardown."""
    database = Database(url)
    app.extensions["portal.db"] = database
    app.teardown_appcontext(_close_session)
    return database


def database() -> Database:
    """The current app's Database."""
    db: Database = current_app.extensions["portal.db"]
    return db


def session() -> Session:
    """The session of the current request or app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    s: Session = g.db_session
    return s


@contextmanager
def transaction() -> Iterator[Session]:
    """One unit of work in a request: commit on success, roll back on any error."""
    s = session()
    try:
        yield s
    except BaseException:
        s.rollback()
        raise
    s.commit()


def release() -> None:
    """End the request's open (read) transaction before a call to another service, so no
    transaction is held across the network; loaded objects stay usable."""
    s: Session | None = g.get("db_session")
    if s is not None and s.in_transaction():
        s.commit()


def commit(s: Session) -> None:
    """Commit (a UnitOfWork then runs what waited for the commit)."""
    s.commit()


def after_commit(s: Session, hook: Callable[[], None]) -> None:
    """Run `hook` once the current unit of work has committed (e.g. send queued mail)."""
    s.info.setdefault("after_commit", []).append(hook)


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
