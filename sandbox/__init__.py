"""Local stand-ins for the third-party services the billing portal talks to."""
