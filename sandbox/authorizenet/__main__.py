"""Run the Authorize.Net sandbox: python -m sandbox.authorizenet --help."""

from .server import main

raise SystemExit(main())
