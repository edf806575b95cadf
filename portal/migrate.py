"""Alembic, driven from code: `portal db upgrade` and `portal demo` call `upgrade`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for the database at `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Take the schema down to `revision`."""
    command.downgrade(alembic_config(url), revision)


def schema_problem(connection: sa.Connection) -> str | None:
    """Why this code cannot use the database's schema, in words; None when it is at head."""
    script = ScriptDirectory(str(MIGRATIONS))
    heads = set(script.get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return None
    if not current:
        return "the database has no schema yet: run portal db upgrade"
    try:
        for revision in current:
            script.get_revision(revision)
    except CommandError:
        return (
            f"the database is at revision {', '.join(sorted(current))}, which this version of "
            "the portal does not know (a newer version migrated it)"
        )
    return (
        f"the database is at revision {', '.join(sorted(current))}, not "
        f"{', '.join(sorted(heads))}: run portal db upgrade"
    )
