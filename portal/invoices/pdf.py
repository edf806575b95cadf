"""A small PDF 1.4 writer (Helvetica text lines, pages, thin rules) and the statement layout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from portal.invoices.statements import Statement

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, in points
LEFT, RIGHT, TOP, BOTTOM = 50, 562, 742, 60

# Helvetica advance widths (per 1000 units of the font size) of ASCII 32..126, from its AFM.
# Helvetica-Bold has the same digits and punctuation (the amounts we right-align) and letters
# a little wider, which only nudges the bold column headings: one table serves both.
_WIDTHS = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
]  # fmt: skip


def text_width(text: str, size: float) -> float:
    """The printed width of text in points (characters beyond ASCII count as a digit)."""
    units = sum(_WIDTHS[ord(c) - 32] if 32 <= ord(c) <= 126 else 556 for c in text)
    return units * size / 1000


@dataclass(frozen=True)
class Text:
    """A piece of text at x; right-aligned text ends at x."""

    x: float
    text: str
    align: Literal["left", "right"] = "left"


@dataclass(frozen=True)
class Line:
    """One printed line: its texts, size and weight, and whether a rule runs under it."""

    texts: tuple[Text, ...] = ()
    size: float = 10
    bold: bool = False
    rule: bool = False


def _literal(text: str) -> bytes:
    """A PDF string literal in WinAnsi; what it cannot encode becomes '?'."""
    flat = " ".join(text.split())  # no line breaks or tabs inside a text object
    raw = flat.encode("cp1252", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _number(value: float) -> bytes:
    return f"{value:.2f}".rstrip("0").rstrip(".").encode()


def _draw(line: Line, y: float) -> list[bytes]:
    font = b"/F2" if line.bold else b"/F1"
    out: list[bytes] = []
    for piece in line.texts:
        if not piece.text:
            continue
        x = piece.x - text_width(piece.text, line.size) if piece.align == "right" else piece.x
        out.append(
            b"BT %s %s Tf 1 0 0 1 %s %s Tm %s Tj ET"
            % (font, _number(line.size), _number(x), _number(y), _literal(piece.text))
        )
    if line.rule:
        rule_y = _number(y - 3)
        out.append(b"0.5 w %d %s m %d %s l S" % (LEFT, rule_y, RIGHT, rule_y))
    return out


def _paginate(lines: Sequence[Line]) -> list[list[tuple[Line, float]]]:
    """Place each line on a page, top to bottom, starting a new page at the bottom margin."""
    pages: list[list[tuple[Line, float]]] = [[]]
    y = float(TOP)
    for line in lines:
        step = line.size + 6
        if y - step < BOTTOM and pages[-1]:
            pages.append([])
            y = float(TOP)
        y -= step
        pages[-1].append((line, y))
    return pages


def render(lines: Sequence[Line], title: str = "", footer: str = "") -> bytes:
    """A PDF of the lines, as many pages as needed, each with `footer` and its page number."""
    pages = _paginate(lines)
    # Objects: 1 catalog, 2 page tree, 3 and 4 fonts, 5 info, then a page and its content each.
    kids = b" ".join(b"%d 0 R" % (6 + 2 * n) for n in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title %s /Producer (portal) >>" % _literal(title),
    ]
    for number, placed in enumerate(pages, start=1):
        commands: list[bytes] = []
        for line, y in placed:
            commands += _draw(line, y)
        label = f"{footer} · Page {number} of {len(pages)}" if footer else f"Page {number}"
        commands += _draw(Line((Text(RIGHT, label, "right"),), size=8), 30)
        stream = b"\n".join(commands)
        page_obj = 6 + 2 * (number - 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
            % (PAGE_WIDTH, PAGE_HEIGHT, page_obj + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    return _assemble(objects)


def _assemble(objects: list[bytes]) -> bytes:
    """Header, numbered objects, the cross-reference table and the trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # binary comment: "treat as binary"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


def money(value: Decimal) -> str:
    """1234.5 → '1,234.50'."""
    return f"{value:,.2f}"


# Columns of the activity table: date, type, number, then right edges of the amounts.
_DATE, _KIND, _NUMBER, _CHARGE, _CREDIT, _BALANCE = LEFT, 120, 210, 400, 480, RIGHT
_AGING_EDGES = (135, 220, 305, 390, 475, RIGHT)


def _row(on: str, kind: str, number: str, amounts: Sequence[str], **style: bool) -> Line:
    texts = [Text(_DATE, on), Text(_KIND, kind), Text(_NUMBER, number[:24])]
    texts += [
        Text(edge, amount, "right")
        for edge, amount in zip((_CHARGE, _CREDIT, _BALANCE), amounts, strict=True)
    ]
    return Line(tuple(texts), **style)


def statement_pdf(statement: Statement, business_name: str) -> bytes:
    """The statement as a PDF: header, activity with running balance, closing, aging."""
    customer = statement.customer
    city = ", ".join(p for p in (customer.bill_city, customer.bill_region) if p)
    address = [customer.bill_line1, f"{city} {customer.bill_postal_code or ''}".strip()]
    lines = [
        Line((Text(LEFT, business_name),), size=16, bold=True),
        Line((Text(LEFT, "Statement"),), size=13, bold=True),
        Line(),
        Line((Text(LEFT, customer.display_name),), bold=True),
        *(Line((Text(LEFT, part),)) for part in address if part),
        Line(),
        Line((Text(LEFT, f"Period: {statement.start} to {statement.end}"),)),
        Line((Text(LEFT, f"Issued: {statement.today}"),)),
        Line(),
        _row("Date", "Type", "Number", ("Charges", "Credits", "Balance"), bold=True, rule=True),
        _row(str(statement.start), "Opening balance", "", ("", "", money(statement.opening))),
    ]
    for e in statement.entries:
        charge = money(e.charge) if e.charge else ""
        credit = money(e.credit) if e.credit else ""
        lines.append(_row(str(e.on), e.kind, e.number, (charge, credit, money(e.balance))))
    lines += [
        _row(
            str(statement.end),
            "Closing balance",
            "",
            ("", "", money(statement.closing)),
            bold=True,
        ),
        Line(),
        Line((Text(LEFT, f"Aging of open invoices on {statement.today}"),), bold=True),
        _aging_line([label for label, _ in statement.aging.buckets()] + ["Total"], bold=True),
        _aging_line(
            [money(amount) for _, amount in statement.aging.buckets()]
            + [money(statement.aging.total)]
        ),
    ]
    title = f"Statement for {customer.display_name}, {statement.start} to {statement.end}"
    return render(lines, title=title, footer=f"{customer.display_name} · statement")


def _aging_line(values: Sequence[str], bold: bool = False) -> Line:
    texts = tuple(
        Text(edge, value, "right") for edge, value in zip(_AGING_EDGES, values, strict=True)
    )
    return Line(texts, bold=bold)
