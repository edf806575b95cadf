"""A hand-written, minimal but valid PDF 1.4 rendering of an invoice (one page, Helvetica)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

MAX_LINES = 40


def _escape(text: str) -> str:
    """Escape a PDF literal string; characters outside Latin-1 become '?'."""
    text = text.encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _amount(value: Any) -> str:
    """Format money with two decimals."""
    return f"{Decimal(value or 0):,.2f}"


def invoice_lines(company_name: str, invoice: dict[str, Any]) -> list[tuple[int, str]]:
    """The (font size, text) rows printed on the invoice."""
    customer = invoice.get("CustomerRef", {}).get("name", "")
    rows = [
        (18, company_name),
        (14, f"INVOICE {invoice.get('DocNumber', invoice['Id'])}"),
        (10, f"Date: {invoice.get('TxnDate', '')}    Due: {invoice.get('DueDate', '')}"),
        (10, f"Bill to: {customer}"),
        (10, ""),
        (10, "Description                          Qty        Rate        Amount"),
    ]
    sales = [ln for ln in invoice.get("Line", []) if ln.get("DetailType") == "SalesItemLineDetail"]
    for line in sales[:MAX_LINES]:
        detail = line.get("SalesItemLineDetail", {})
        label = line.get("Description") or detail.get("ItemRef", {}).get("name", "")
        rows.append(
            (
                10,
                f"{label[:34]:<34} {detail.get('Qty', '')!s:>6} "
                f"{_amount(detail.get('UnitPrice')):>11} {_amount(line.get('Amount')):>13}",
            )
        )
    if len(sales) > MAX_LINES:
        rows.append((10, f"... and {len(sales) - MAX_LINES} more lines"))
    rows += [
        (10, ""),
        (12, f"Total: {_amount(invoice.get('TotalAmt'))}"),
        (12, f"Balance due: {_amount(invoice.get('Balance'))}"),
    ]
    return rows


def render_invoice_pdf(company_name: str, invoice: dict[str, Any]) -> bytes:
    """Build the PDF bytes: catalog, pages, page, content stream, font, xref, trailer."""
    commands = ["BT", "/F1 10 Tf", "50 740 Td"]
    previous = 0
    for size, text in invoice_lines(company_name, invoice):
        if previous:
            commands.append(f"0 -{max(previous, size) + 6} Td")
        commands.append(f"/F1 {size} Tf ({_escape(text)}) Tj")
        previous = size
    commands.append("ET")
    stream = "\n".join(commands).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)
