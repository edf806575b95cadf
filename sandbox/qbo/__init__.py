"""A faithful QuickBooks Online sandbox: Intuit OAuth 2 and the QBO v3 JSON API over HTTP.

Start one and point the unmodified client libraries at it::

    from sandbox.qbo import QboSandbox, seed_company
    sandbox = QboSandbox().start()            # port 0: a free port on 127.0.0.1
    company = seed_company(sandbox.state, customers=20, invoices=100)
    auth = AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, environment=sandbox.discovery_url)
    qb = QuickBooks(auth_client=auth, refresh_token=..., company_id=company.realm_id,
                    minorversion=75)
    qb.api_url_v3 = sandbox.api_base_url      # the instance attribute wins (URL environment)

The default client is ``sandbox-client-id`` / ``sandbox-client-secret``. python-quickbooks
goes through requests-oauthlib, which refuses ``http://`` unless the environment variable
``OAUTHLIB_INSECURE_TRANSPORT=1`` is set. Without a browser, ``state.connect(realm_id)``
issues a token pair directly. Faults: see :mod:`sandbox.qbo.faults`; webhooks:
:mod:`sandbox.qbo.webhooks`; time: ``state.clock`` (e.g. :class:`ManualClock`).
Command line: ``python -m sandbox.qbo --port 8765 --seed-customers 100 --seed-invoices 1000``.
"""

from .faults import FaultInjector, QboFault
from .seed import seed_company
from .server import QboSandbox, create_sandbox_app, main
from .state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxState
from .store import Company
from .util import ManualClock
from .webhooks import sign_payload, verify_signature

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "Company",
    "FaultInjector",
    "ManualClock",
    "QboFault",
    "QboSandbox",
    "SandboxState",
    "create_sandbox_app",
    "main",
    "seed_company",
    "sign_payload",
    "verify_signature",
]
