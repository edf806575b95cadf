"""Notices to customers by e-mail, SMS and in the portal, as each prefers."""
