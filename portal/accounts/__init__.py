"""Logins, profiles and account security."""
