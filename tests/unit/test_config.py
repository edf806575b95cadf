"""Settings: safe defaults, one clear message naming the key, env overrides, documented keys."""

from __future__ import annotations

import dataclasses
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import main
from portal.config import ConfigError, Settings, env_name, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_fresh_checkout_runs_on_safe_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'instance' / 'portal.db'}"
    assert settings.mail.backend == "mailbox"
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "instance" / "encryption_key").stat().st_mode) == 0o600
    assert settings.portal.secret_key == key_file.read_text()
    assert load_settings(environ={}).portal.secret_key == settings.portal.secret_key


def _load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(f'[portal]\ninstance_path = "{tmp_path}"\n' + text)
    return load_settings(path, environ=environ or {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[mail]\nsmtp_hots = 'x'\n", "mail.smtp_hots: unknown setting"),
        ("[server]\nport = 'eighty'\n", "server.port: must be a whole number"),
        ("[server]\nport = 70000\n", "server.port: must be at most 65535"),
        ("[mail]\nbackend = 'pigeon'\n", "mail.backend: must be one of mailbox, smtp"),
        ("[mail]\nbackend = 'smtp'\n", "mail.smtp_host: required when mail.backend = smtp"),
        ("[nonsense]\nx = 1\n", "unknown section [nonsense]"),
        (
            "[security]\npassword_min_length = 4\n",
            "security.password_min_length: must be at least 8",
        ),
        ("[portal.x\n", "not valid TOML"),
    ],
)
def test_invalid_setting_stops_start_up_with_a_message_naming_the_key(
    tmp_path: Path, text: str, message: str
):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        _load(tmp_path, text)


def test_bad_encryption_key_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"portal\.encryption_key"):
        _load(tmp_path, "", environ={"PORTAL_ENCRYPTION_KEY": "too-short"})


def test_every_secret_can_come_from_the_environment(tmp_path: Path):
    settings = _load(
        tmp_path,
        "[mail]\nbackend = 'smtp'\nsmtp_host = 'mail.example.com'\n",
        environ={"PORTAL_MAIL_SMTP_PASSWORD": "from-env", "PORTAL_SECRET_KEY": "s" * 40},
    )
    assert settings.mail.smtp_password == "from-env"
    assert settings.portal.secret_key == "s" * 40
    for section in dataclasses.fields(Settings):
        for fld in dataclasses.fields(getattr(settings, section.name)):
            if fld.metadata.get("secret"):
                assert env_name(section.name, fld.name).startswith("PORTAL_")


def test_config_file_named_by_env_must_exist(tmp_path: Path):
    with pytest.raises(ConfigError, match="PORTAL_CONFIG"):
        load_settings(environ={"PORTAL_CONFIG": str(tmp_path / "missing.toml")})


def test_example_config_documents_every_setting_and_loads(tmp_path: Path):
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    text = (ROOT / "config.example.toml").read_text()
    for section in dataclasses.fields(Settings):
        documented = example.get(section.name, {})
        for fld in dataclasses.fields(section.default_factory()):  # type: ignore[misc]
            assert fld.name in documented, f"{section.name}.{fld.name} is not documented"
            lines = text.splitlines()
            at = next(i for i, x in enumerate(lines) if x.startswith(f"{fld.name} ="))
            assert lines[at - 1].startswith("#"), f"{section.name}.{fld.name} has no comment"
    path = tmp_path / "config.toml"
    path.write_text(text.replace('instance_path = "instance"', f'instance_path = "{tmp_path}"'))
    assert load_settings(path, environ={}).server.port == 5000


def test_cli_reports_a_config_error_in_one_clear_line(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("[server]\nworkers = 0\n")
    result = CliRunner().invoke(main, ["db", "upgrade"], env={"PORTAL_CONFIG": str(path)})
    assert result.exit_code == 1
    assert "configuration error: server.workers: must be at least 1" in result.output
    assert "Traceback" not in result.output


def test_a_misspelled_environment_variable_stops_start_up_naming_it(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "", environ={"PORTAL_MAIL_SMTP_PASWORD": "secret"})
    message = str(caught.value)
    assert message.startswith("PORTAL_MAIL_SMTP_PASWORD: unknown environment variable")
    assert "did you mean PORTAL_MAIL_SMTP_PASSWORD?" in message
    assert "secret" not in message


def test_a_misspelled_portal_section_variable_suggests_the_closest_name(tmp_path: Path):
    with pytest.raises(ConfigError, match="did you mean PORTAL_SECRET_KEY"):
        _load(tmp_path, "", environ={"PORTAL_SECRET_KYE": "s" * 40})


def test_environment_variables_that_are_not_settings_are_allowed(tmp_path: Path):
    environ = {
        "PORTAL_TEST_DATABASE_URL": "postgresql+psycopg://postgres@localhost/test",
        "PORTAL_CHROMIUM": "/opt/chromium",
        "PORTAL_SECRET_KEY": "s" * 40,
        "PORTALS": "not ours",
    }
    assert _load(tmp_path, "", environ=environ).portal.secret_key == "s" * 40


def test_cli_names_a_misspelled_environment_variable_in_one_line(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(f'[portal]\ninstance_path = "{tmp_path}"\n')
    env = {"PORTAL_CONFIG": str(path), "PORTAL_SERVER_WROKERS": "4"}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 1
    assert (
        "configuration error: PORTAL_SERVER_WROKERS: unknown environment variable; "
        "did you mean PORTAL_SERVER_WORKERS?"
    ) in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "UTC", "-08:00", "+05:30"])
def test_the_company_time_zone_may_be_set(tmp_path: Path, zone: str):
    settings = _load(tmp_path, "", environ={"PORTAL_TIMEZONE": zone})
    assert settings.portal.timezone == zone


@pytest.mark.parametrize("zone", ["Pacific Time", "America", "+25:00"])
def test_an_unknown_time_zone_stops_start_up(tmp_path: Path, zone: str):
    with pytest.raises(ConfigError, match=r"portal\.timezone: "):
        _load(tmp_path, f'timezone = "{zone}"\n')
