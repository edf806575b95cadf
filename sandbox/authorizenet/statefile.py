"""The Authorize.Net sandbox's state file: a snapshot plus a journal of what each write changed.

A journal record holds the transactions that are new or changed since the last record (found
by comparing each one's fields with what was last written), new settlement batches, and the
customer profiles and unused Accept.js tokens when they changed: writing one costs about as
much as the change, not the whole history (see sandbox/durable.py).
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.durable import StateFile

from . import persist
from .models import Transaction

if TYPE_CHECKING:
    from .state import AnetState

# set when a transaction is made and never changed afterwards: left out of its signature
_FIXED = frozenset({"method", "bill_to"})
# the values a transaction can change (status, amounts, batch, profile), read in one call
_signature = attrgetter(*(f.name for f in dataclasses.fields(Transaction) if f.name not in _FIXED))


class AnetStateFile:
    """Reads the state into an AnetState and journals its changes; callers hold state.lock."""

    def __init__(self, path: str | Path) -> None:
        self.file = StateFile(path, persist.dumps, persist.loads)
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._batches: set[str] = set()
        self._rest: dict[str, Any] = {}

    def load(self, state: AnetState) -> bool:
        """Read the snapshot and replay the journal into `state`; False when there is none."""
        snapshot, records = self.file.read()
        if snapshot is None:
            return False
        state.load_dict(snapshot)
        for record in records:
            state.load_dict(record)
        return True

    def start(self, state: AnetState, found: bool) -> None:
        """Keep the file current from now on."""
        if not found or self.file.needs_snapshot:
            self.snapshot(state)
        else:
            self.file.resume()
            self._remember(state)

    def append(self, state: AnetState) -> None:
        """Journal what changed since the last call (nothing when nothing did)."""
        record = self._changes(state)
        if record is None:
            return
        self.file.append(record)
        for trans in record["transactions"]:
            self._signatures[trans["trans_id"]] = _signature(state.transactions[trans["trans_id"]])
        self._batches.update(batch["batch_id"] for batch in record["batches"])
        self._rest = {key: persist.dumps(value) for key, value in _rest(state).items()}
        if self.file.compaction_due:
            self.snapshot(state)

    def snapshot(self, state: AnetState) -> None:
        """Write the whole state and start an empty journal."""
        self.file.write_snapshot(state.to_dict())
        self._remember(state)

    def close(self, state: AnetState) -> None:
        """Journal what is left, fold the journal into the snapshot, stop."""
        self.append(state)
        if not self.file.journal_is_empty:
            self.snapshot(state)
        self.file.close()

    def _remember(self, state: AnetState) -> None:
        """What the file holds now."""
        self._signatures = {t.trans_id: _signature(t) for t in state.transactions.values()}
        self._batches = set(state.batches)
        self._rest = {key: persist.dumps(value) for key, value in _rest(state).items()}

    def _changes(self, state: AnetState) -> dict[str, Any] | None:
        """A record of everything not in the file yet, or None."""
        seen = self._signatures
        changed = [t for t in state.transactions.values() if seen.get(t.trans_id) != _signature(t)]
        batches = [b for batch_id, b in state.batches.items() if batch_id not in self._batches]
        rest = _rest(state)
        different = {k: v for k, v in rest.items() if self._rest.get(k) != persist.dumps(v)}
        if not (changed or batches or different):
            return None
        return {
            **different,
            "counters": rest["counters"],
            "transactions": [persist.transaction_to_dict(t) for t in changed],
            "batches": [persist.batch_to_dict(b) for b in batches],
        }


def _rest(state: AnetState) -> dict[str, Any]:
    """The small parts, written whole when they change: counters, profiles, unused tokens."""
    return {
        "counters": state.counters(),
        "profiles": [persist.profile_to_dict(p) for p in state.profiles.values()],
        "tokens": [persist.token_to_dict(t) for t in state.live_tokens()],
    }
