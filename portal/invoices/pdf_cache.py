"""The QuickBooks PDF of an invoice, kept on disk per SyncToken so each version is fetched once."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from sync.accounting import AccountingAdapter, AccountingError

logger = logging.getLogger(__name__)

# No "-" either: it separates the id from the SyncToken in file names.
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _safe(part: str) -> str:
    """A path component that cannot climb out of the cache (QBO ids are digits anyway)."""
    return _UNSAFE.sub("_", part) or "_"


def cache_path(root: Path, realm_id: str, qbo_id: str, sync_token: str) -> Path:
    """Where one version of an invoice's PDF lives: a new SyncToken is a new file."""
    return root / _safe(realm_id) / f"{_safe(qbo_id)}-{_safe(sync_token)}.pdf"


def invoice_pdf(
    root: Path,
    adapter: Callable[[str], AccountingAdapter],
    realm_id: str,
    qbo_id: str,
    sync_token: str,
) -> bytes:
    """The cached PDF, or QuickBooks' (then cached); raises AccountingError when unreachable."""
    path = cache_path(root, realm_id, qbo_id, sync_token)
    try:
        cached = path.read_bytes()
        if cached.startswith(b"%PDF"):
            return cached
    except FileNotFoundError:
        pass
    pdf = adapter(realm_id).invoice_pdf(qbo_id)
    if not pdf.startswith(b"%PDF"):
        raise AccountingError(f"QuickBooks sent something that is not a PDF for invoice {qbo_id}")
    _write_atomically(path, pdf)
    _drop_older_versions(path, qbo_id)
    return pdf


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target, then rename: a reader never sees half a PDF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _drop_older_versions(current: Path, qbo_id: str) -> None:
    """Remove the PDFs of earlier SyncTokens: nobody will ask for them again."""
    for old in current.parent.glob(f"{_safe(qbo_id)}-*.pdf"):
        if old != current:
            try:
                old.unlink()
            except OSError as exc:  # another request removed it first, or the disk says no
                logger.info("could not remove the stale PDF %s: %s", old.name, exc)
