"""Every outbox handler, imported once so the drain knows them all."""

from sync import credits, writeback

__all__ = ["credits", "writeback"]
