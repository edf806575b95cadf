"""A sandbox's state file, kept current through any stop: a snapshot plus a journal.

Each change is appended to ``<file>.journal`` and fsynced before the request that made it is
answered, so a kill (even SIGKILL) loses nothing a client was told. When the journal outgrows
the snapshot, a new snapshot is written beside it (temporary file in the same folder, fsync,
rename) and the journal starts over: appending stays cheap however big the state is, and
rewriting it costs at most as much again. Snapshot and journal carry a generation, so a journal
older than its snapshot (a kill between the two renames) is never replayed; a torn last line
(a kill in mid-append: that request was never answered) is dropped. Both sandboxes use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

MIN_COMPACT_BYTES = 1 << 20


class StateFile:
    """Read a snapshot and its journal; append changes; write new snapshots atomically."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        dumps: Callable[[Any], str],
        loads: Callable[[str | bytes], Any],
        min_compact_bytes: int = MIN_COMPACT_BYTES,
        journaled: bool = True,
    ) -> None:
        """`journaled=False`: snapshots only (for state small enough to rewrite each time)."""
        self.path = Path(path)
        self.journaled = journaled
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self._dumps = dumps
        self._loads = loads
        self.min_compact_bytes = min_compact_bytes
        self.generation = ""
        self._snapshot_bytes = 0
        self._journal: IO[bytes] | None = None
        self._journal_bytes = 0
        self._good_bytes = 0  # the journal's length up to its last complete record

    def read(self) -> tuple[dict[str, Any] | None, list[Any]]:
        """The snapshot (None when there is no file yet) and the journal records after it."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None, []
        data = self._loads(raw)
        self.generation = str(data.pop("generation", ""))
        self._snapshot_bytes = len(raw)
        return data, self._read_journal() if self.journaled else []

    def _read_journal(self) -> list[Any]:
        """Complete records of this generation's journal, in order."""
        self._good_bytes = 0
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            return []
        lines = raw.split(b"\n")[:-1]  # whatever follows the last newline is a torn append
        if not lines or self._header(lines[0]) != self.generation:
            return []
        offset = len(lines[0]) + 1
        records = []
        for line in lines[1:]:
            try:
                records.append(self._loads(line))
            except ValueError:
                logger.warning("%s: dropped a damaged record and what follows", self.journal_path)
                break
            offset += len(line) + 1
        self._good_bytes = offset
        self._journal_bytes = offset
        return records

    def _header(self, line: bytes) -> str | None:
        """The generation a journal was started for."""
        try:
            header = self._loads(line)
        except ValueError:
            return None
        return str(header.get("journal")) if isinstance(header, dict) else None

    def resume(self) -> None:
        """Continue the journal read by read() (cutting a torn tail), or start one."""
        if not self._good_bytes:
            self._start_journal()
            return
        journal = open(self.journal_path, "r+b")  # noqa: SIM115 - kept open for appends
        journal.truncate(self._good_bytes)
        journal.seek(self._good_bytes)
        self._journal = journal

    def append(self, record: Any) -> None:
        """Write one record and wait until it is on disk."""
        if self._journal is None:
            self._start_journal()
        assert self._journal is not None
        line = self._dumps(record).encode("utf-8") + b"\n"
        self._journal.write(line)
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self._journal_bytes += len(line)

    @property
    def compaction_due(self) -> bool:
        """True once the journal is bigger than the snapshot it follows (and than 1 MiB)."""
        return self._journal_bytes > max(self.min_compact_bytes, self._snapshot_bytes)

    @property
    def needs_snapshot(self) -> bool:
        """True when there is no snapshot of this format yet (a new or an old-style file)."""
        return not self.generation

    @property
    def journal_is_empty(self) -> bool:
        """True when every change is in the snapshot."""
        return self._journal is None or self._journal_bytes <= len(self._header_line())

    def write_snapshot(self, data: dict[str, Any]) -> None:
        """Replace the snapshot with `data` atomically, then start an empty journal."""
        generation = secrets.token_hex(8)
        raw = self._dumps({**data, "generation": generation}).encode("utf-8")
        _replace(self.path, raw)
        self.generation = generation
        self._snapshot_bytes = len(raw)
        if self.journaled:
            self._start_journal()

    def close(self) -> None:
        """Stop appending."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def _header_line(self) -> bytes:
        return self._dumps({"journal": self.generation}).encode("utf-8") + b"\n"

    def _start_journal(self) -> None:
        """An empty journal for the current snapshot (atomically replacing any other)."""
        self.close()
        header = self._header_line()
        _replace(self.journal_path, header)
        self._journal = open(self.journal_path, "ab")  # noqa: SIM115 - kept open for appends
        self._journal_bytes = len(header)


def _replace(path: Path, raw: bytes) -> None:
    """Write a file whole or not at all: temporary file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        logger.debug("cannot fsync folder %s", folder)
    finally:
        os.close(descriptor)
