"""Autopay, scheduled one-time payments and payment plans."""
