"""Run the Twilio sandbox: python -m sandbox.twilio --help."""

from .server import main

raise SystemExit(main())
