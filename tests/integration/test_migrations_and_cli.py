"""Schema comes only from Alembic, and the `portal` command works on a fresh folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from gunicorn.app.base import BaseApplication

from portal.cli import main
from portal.migrate import downgrade, upgrade
from portal.models import Base
from tests.conftest import write_config


def test_migrations_match_the_models(database_url: str):
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == []


def test_migrations_downgrade_and_upgrade_cleanly(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    downgrade(url, "base")
    engine = sa.create_engine(url)
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    engine = sa.create_engine(url)
    assert "portal_user" in sa.inspect(engine).get_table_names()
    engine.dispose()


def _cli(tmp_path: Path, *args: str, input: str | None = None):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"PORTAL_CONFIG": str(write_config(tmp_path, url))}
    return CliRunner().invoke(main, list(args), env=env, input=input)


def test_portal_db_upgrade_creates_the_schema(tmp_path: Path):
    result = _cli(tmp_path, "db", "upgrade")
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    assert "invoice" in sa.inspect(engine).get_table_names()
    engine.dispose()


STRONG = "granite-otters-whistle-loud"


def _create_admin(tmp_path: Path, password: str = STRONG):
    """`portal create-admin` for boss@example.com, typing `password` twice at the prompt."""
    return _cli(
        tmp_path,
        "create-admin",
        "--username",
        "boss",
        "--email",
        "boss@example.com",
        input=f"{password}\n{password}\n",
    )


def test_create_admin_prompts_for_a_password_and_enforces_the_policy(tmp_path: Path):
    assert _cli(tmp_path, "db", "upgrade").exit_code == 0
    weak = _create_admin(tmp_path, "password")
    assert weak.exit_code == 1
    assert "at least 12 characters" in weak.output
    ok = _create_admin(tmp_path)
    assert ok.exit_code == 0, ok.output
    listed = _cli(tmp_path, "users", "list")
    assert "boss\tboss@example.com\tadmin\tactive" in listed.output


@pytest.mark.parametrize(
    "args",
    [
        ("users", "list"),
        ("sync",),
        ("worker", "--once"),
        ("run",),  # gunicorn is never started: see `serve`
        ("mail", "send"),
        ("reconcile",),
        ("create-admin", "--username", "boss", "--email", "b@example.com", "--password", "x"),
    ],
)
def test_a_command_before_db_upgrade_says_to_run_it(
    tmp_path: Path, args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
):
    def serve(self: object) -> None:
        raise AssertionError("portal run served on a database without a schema")

    monkeypatch.setattr(BaseApplication, "run", serve)
    result = _cli(tmp_path, *args)
    assert result.exit_code == 1
    assert "there is no database yet: run portal db upgrade" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "cli.db").exists()


def test_an_empty_database_file_says_to_run_db_upgrade(tmp_path: Path):
    (tmp_path / "cli.db").touch()
    result = _cli(tmp_path, "users", "list")
    assert result.exit_code == 1
    assert "the database has no schema yet: run portal db upgrade" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_schema_behind_the_code_says_to_run_db_upgrade(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url, "0007")
    result = _cli(tmp_path, "users", "list")
    assert result.exit_code == 1
    assert "the database is at revision 0007, not " in result.output
    assert result.output.strip().endswith("run portal db upgrade")
    assert _cli(tmp_path, "db", "upgrade").exit_code == 0
    assert _cli(tmp_path, "users", "list").exit_code == 0


def test_environment_overrides_reach_the_cli(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(os.environ, "PORTAL_SERVER_WORKERS", "zero")
    result = _cli(tmp_path, "users", "list")
    assert result.exit_code == 1
    assert "server.workers: must be a whole number" in result.output


def test_portal_sandbox_qbo_is_the_sandbox_command_line():
    result = CliRunner().invoke(main, ["sandbox", "qbo", "--help"])
    assert result.exit_code == 0
    assert "--seed-invoices" in result.output and "--no-throttle" in result.output


def test_portal_sandbox_authorizenet_is_its_command_line():
    result = CliRunner().invoke(main, ["sandbox", "authorizenet", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output


def test_portal_demo_offers_its_ports():
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--qbo-port" in result.output and "--anet-port" in result.output


def _modes(folder: Path, name: str) -> dict[str, int]:
    files = [folder / name, *(folder / f"{name}{end}" for end in ("-wal", "-shm", "-journal"))]
    return {f.name: f.stat().st_mode & 0o777 for f in files if f.exists()}


def test_the_sqlite_database_the_cli_creates_is_readable_by_its_owner_only(tmp_path: Path):
    old = os.umask(0o022)
    try:
        assert _cli(tmp_path, "db", "upgrade").exit_code == 0
        assert _cli(tmp_path, "users", "list").exit_code == 0
    finally:
        os.umask(old)
    modes = _modes(tmp_path, "cli.db")
    assert "cli.db" in modes
    assert set(modes.values()) == {0o600}, modes


def test_a_world_readable_sqlite_database_is_made_private_when_opened(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    (tmp_path / "cli.db").chmod(0o644)
    assert _cli(tmp_path, "users", "list").exit_code == 0
    assert set(_modes(tmp_path, "cli.db").values()) == {0o600}


def test_support_removes_the_second_factors_of_someone_who_lost_their_phone(tmp_path: Path):
    from portal import db
    from portal.accounts import factors
    from portal.accounts.models import PortalUser, TotpFactor
    from portal.app import create_app
    from portal.config import load_settings

    assert _cli(tmp_path, "db", "upgrade").exit_code == 0
    made = _create_admin(tmp_path)
    assert made.exit_code == 0, made.output
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    app = create_app({"SETTINGS": load_settings(write_config(tmp_path, url), environ={})})
    with app.app_context(), db.transaction() as s:
        boss = s.scalars(sa.select(PortalUser)).one()
        factors.enrol_app(s, boss, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        factors.new_recovery_codes(s, boss.id)

    assert _cli(tmp_path, "users", "reset-two-factor", "nobody").exit_code == 1
    done = _cli(tmp_path, "users", "reset-two-factor", "BOSS")

    assert done.exit_code == 0, done.output
    with app.app_context():
        boss = db.session().scalars(sa.select(PortalUser)).one()
        assert not boss.two_factor
        assert db.session().get(TotpFactor, boss.id) is None
        assert factors.recovery_codes_left(db.session(), boss.id) == 0
    app.extensions["portal.db"].engine.dispose()
