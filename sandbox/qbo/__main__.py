"""Run the QBO sandbox: python -m sandbox.qbo --help."""

from .server import main

raise SystemExit(main())
