"""A lease in the database: at most one holder per name across processes and hosts.

It works the same on SQLite and PostgreSQL (INSERT ... ON CONFLICT DO UPDATE ... WHERE), and a
holder that dies simply lets it expire."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from portal.db import utcnow
from sync.models import Lease


def holder_id() -> str:
    """Who is asking: host, process and a random part (two threads may hold apart)."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(sessions: sessionmaker[Session], name: str, holder: str, ttl: timedelta) -> bool:
    """Take the lease if it is free, expired or already ours."""
    with sessions() as s:
        now = utcnow()
        insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
        stmt = insert(Lease).values(name=name, holder=holder, expires_at=now + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
            where=sa.or_(Lease.expires_at < now, Lease.holder == holder),
        )
        s.execute(stmt)
        s.commit()
        return s.scalar(sa.select(Lease.holder).where(Lease.name == name)) == holder


def renew(sessions: sessionmaker[Session], name: str, holder: str, ttl: timedelta) -> bool:
    """Extend our lease; False when it was lost (expired and taken by another)."""
    with sessions() as s:
        result = s.execute(
            sa.update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=utcnow() + ttl)
        )
        s.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


def release(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """Give the lease back."""
    with sessions() as s:
        s.execute(sa.delete(Lease).where(Lease.name == name, Lease.holder == holder))
        s.commit()
