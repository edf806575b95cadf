"""An invoice as QuickBooks prints it: business name, bill-to block, numbered and dated, line
items in columns, total and balance due. WeasyPrint prints it with the portal's font stack,
so any customer's name (Łukasz, 山田太郎) prints; it fetches nothing at all."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import Environment

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {{ number }}</title>
<style>
@page { size: letter; margin: 18mm 16mm; }
/* The portal's print font stack: DejaVu Sans, then Droid Sans Fallback for CJK. */
html { font-family: "DejaVu Sans", "Droid Sans Fallback", sans-serif; font-size: 9.5pt;
       color: #1d2733; }
.head { display: flex; justify-content: space-between; align-items: flex-start;
        border-bottom: 2pt solid #2ca01c; padding-bottom: 3mm; }
.business { font-size: 16pt; font-weight: bold; margin: 0; }
h1 { font-size: 18pt; margin: 0; color: #2ca01c; letter-spacing: 1pt; }
.parties { display: flex; justify-content: space-between; margin: 6mm 0; }
h2 { font-size: 8pt; color: #5b6775; margin: 0 0 1mm; }
address { font-style: normal; }
dl { display: grid; grid-template-columns: auto auto; gap: 1mm 5mm; margin: 0; }
dt { font-weight: bold; white-space: nowrap; }
dd { margin: 0; text-align: right; white-space: nowrap; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 1.5mm 2mm; text-align: left; border-bottom: 0.5pt solid #d9dee5; }
thead th { border-bottom: 1pt solid #1d2733; }
.num { text-align: right; white-space: nowrap; }
.totals { margin-left: auto; width: 45%; margin-top: 4mm; }
.totals th { text-align: left; } .due th, .due td { font-weight: bold; font-size: 11pt;
  border-top: 1pt solid #1d2733; }
</style></head>
<body>
<div class="head"><p class="business">{{ business }}</p><h1>INVOICE</h1></div>
<div class="parties">
  <div><h2>Bill to</h2><address><strong>{{ customer }}</strong>
    {%- for part in address %}<br>{{ part }}{% endfor %}</address></div>
  <dl><dt>Invoice no.</dt><dd>{{ number }}</dd>
      <dt>Date</dt><dd>{{ issued }}</dd>
      <dt>Due date</dt><dd>{{ due }}</dd></dl>
</div>
<table>
  <thead><tr><th>Description</th><th class="num">Qty</th><th class="num">Rate</th>
    <th class="num">Amount</th></tr></thead>
  <tbody>{% for line in lines %}<tr><td>{{ line.description }}</td>
    <td class="num">{{ line.qty }}</td><td class="num">{{ line.rate }}</td>
    <td class="num">{{ line.amount }}</td></tr>{% endfor %}</tbody>
</table>
<table class="totals">
  <tr><th>Total</th><td class="num">{{ total }}</td></tr>
  {% if paid %}<tr><th>Payments and credits</th><td class="num">{{ paid }}</td></tr>{% endif %}
  <tr class="due"><th>Balance due</th><td class="num">{{ balance }}</td></tr>
</table>
</body></html>
"""
_template = Environment(autoescape=True).from_string(_TEMPLATE)


def _amount(value: Any) -> str:
    """`$1,300.00` (a credit as `-$25.00`)."""
    amount = Decimal(str(value or 0)).quantize(Decimal("0.01"))
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def _day(value: Any) -> str:
    """`Mar 11, 2026` from QuickBooks' `2026-03-11`."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{day:%b} {day.day}, {day.year}"


def _qty(value: Any) -> str:
    if value in (None, ""):
        return ""
    return format(Decimal(str(value)).normalize(), "f")


def _address(bill: dict[str, Any]) -> list[str]:
    city = ", ".join(p for p in (bill.get("City"), bill.get("CountrySubDivisionCode")) if p)
    place = f"{city} {bill.get('PostalCode') or ''}".strip()
    lines = [bill.get(f"Line{n}") for n in range(1, 6)]
    return [str(part) for part in (*lines, place, bill.get("Country")) if part]


def invoice_context(company_name: str, invoice: dict[str, Any]) -> dict[str, Any]:
    """What the invoice prints, written as people read it."""
    lines = []
    for line in invoice.get("Line", []):
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        detail = line.get("SalesItemLineDetail", {})
        lines.append(
            {
                "description": line.get("Description") or detail.get("ItemRef", {}).get("name"),
                "qty": _qty(detail.get("Qty")),
                "rate": _amount(detail.get("UnitPrice")) if "UnitPrice" in detail else "",
                "amount": _amount(line.get("Amount")),
            }
        )
    total = Decimal(str(invoice.get("TotalAmt") or 0))
    balance = Decimal(str(invoice.get("Balance", total) or 0))
    return {
        "business": company_name,
        "customer": invoice.get("CustomerRef", {}).get("name", ""),
        "address": _address(invoice.get("BillAddr") or {}),
        "number": invoice.get("DocNumber") or invoice["Id"],
        "issued": _day(invoice.get("TxnDate")),
        "due": _day(invoice.get("DueDate")),
        "lines": lines,
        "total": _amount(total),
        "paid": _amount(total - balance) if total != balance else "",
        "balance": _amount(balance),
    }


def render_invoice_pdf(company_name: str, invoice: dict[str, Any]) -> bytes:
    """The invoice's PDF bytes."""
    # WeasyPrint loads Pango (a system library) on import: only when a PDF is asked for.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class NoFetching(URLFetcher):
        """The invoice needs nothing from outside: every URL is refused."""

        def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
            raise ValueError("the sandbox's invoice PDF fetches nothing")

    html = _template.render(invoice_context(company_name, invoice))
    pdf: bytes = HTML(string=html, url_fetcher=NoFetching()).write_pdf()
    return pdf
