"""Placeholder: Twilio's status callbacks and inbound messages land here."""

from flask import Blueprint

bp = Blueprint("sms_hooks", __name__)
