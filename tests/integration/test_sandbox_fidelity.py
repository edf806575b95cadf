"""The sandboxes as their users meet them: the commands' help, and QuickBooks' query rules."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from click.testing import CliRunner

from portal.cli import main
from sandbox.qbo import QboSandbox, SandboxState


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("qbo", ["QuickBooks Online", "OAuth 2", "--seed-customers N", "--state-file PATH"]),
        ("authorizenet", ["Authorize.Net", "Accept.js", "4111 1111 1111 1111", "--state-file"]),
    ],
)
def test_sandbox_help_describes_the_command_and_its_options(command: str, says: list[str]) -> None:
    result = CliRunner().invoke(main, ["sandbox", command, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith(f"usage: portal sandbox {command} ")
    text = " ".join(result.output.split())  # argparse wraps lines anywhere
    for words in says:
        assert words in text
    assert "Ctrl-C or SIGTERM" in text  # how to stop it, and what is kept
    # not the module's docstring about its own internals
    assert "Flask app factory" not in text
    assert "entry point" not in text


def names(sandbox: QboSandbox, realm_id: str, token: str, where: str) -> list[str]:
    reply = requests.get(
        f"{sandbox.api_base_url}/company/{realm_id}/query",
        params={"query": f"SELECT * FROM Account WHERE {where}", "minorversion": "75"},  # noqa: S608
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()["QueryResponse"].get("Account", [])
    return sorted(row["Name"] for row in rows)


def test_string_equality_in_a_query_ignores_case_as_quickbooks_does() -> None:
    state = SandboxState()
    with QboSandbox(state) as sandbox:
        tokens = state.connect()
        realm, token = tokens["realm_id"], tokens["access_token"]
        assert names(sandbox, realm, token, "Name = 'checking'") == ["Checking"]
        assert names(sandbox, realm, token, "Name = 'CHECKING'") == ["Checking"]
        assert names(sandbox, realm, token, "Name IN ('checking', 'services')") == [
            "Checking",
            "Services",
        ]
        assert "Checking" not in names(sandbox, realm, token, "Name != 'cHeCkInG'")
        assert names(sandbox, realm, token, "Name = 'checkin'") == []
        assert names(sandbox, realm, token, "Name LIKE 'check%'") == ["Checking"]
