"""The XML wire format: parse a request root, build a schema-ordered reply (BOM, ASCII, ns)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Union

from lxml import etree

NS = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"
BOM = b"\xef\xbb\xbf"
CONTENT_TYPE = "application/xml; charset=utf-8"
# The real sandbox reports "local" times in the merchant's zone (Mountain, no DST here)
MERCHANT_OFFSET = timedelta(hours=-7)

# A child is (tag, value); value is text, a nested child list, or None (element omitted)
Value = Union[str, Decimal, int, bool, "Children", None]
Children = Sequence[tuple[str, Value]]

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True
)


class ApiError(Exception):
    """A request-level error reported in `messages` (E000xx)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@dataclass
class Reply:
    """What a handler returns: the children after `messages`, and the messages themselves."""

    body: list[tuple[str, Value]] = field(default_factory=list)
    ok: bool = True
    messages: list[tuple[str, str]] = field(default_factory=lambda: [("I00001", "Successful.")])


def parse_request(raw: bytes) -> etree._Element:
    """Parse a request body without resolving entities or touching the network."""
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ApiError("E00003", f"An error occurred while parsing the XML: {exc}") from exc
    if etree.QName(root).namespace != NS:
        raise ApiError("E00045", "The root node does not reference a valid XML namespace.")
    return root


def local_name(element: etree._Element) -> str:
    """The tag without its namespace."""
    return etree.QName(element).localname


def children(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """Direct children with a given local name, in document order."""
    if element is None:
        return
    for child in element:
        if isinstance(child.tag, str) and local_name(child) == name:
            yield child


def find(element: etree._Element | None, path: str) -> etree._Element | None:
    """Follow a slash-separated path of local names; None when any step is missing."""
    current = element
    for step in path.split("/"):
        current = next(children(current, step), None)
        if current is None:
            return None
    return current


def text(element: etree._Element | None, path: str) -> str | None:
    """Stripped text at a path, or None when absent or empty."""
    node = find(element, path)
    if node is None or node.text is None or not node.text.strip():
        return None
    return node.text.strip()


def flag(element: etree._Element | None, path: str) -> bool:
    """An xs:boolean at a path (absent is false)."""
    return (text(element, path) or "").lower() in ("true", "1")


def amount(element: etree._Element | None, path: str) -> Decimal | None:
    """An xs:decimal at a path (the SDK sends 10.0); None when absent or not a number."""
    raw = text(element, path)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def format_amount(value: Decimal) -> str:
    """Two-decimal amount text like the gateway sends (10.00)."""
    return f"{value.quantize(Decimal('0.01')):f}"


def format_utc(moment: datetime) -> str:
    """xs:dateTime in UTC with milliseconds: 2025-03-14T17:00:00.000Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_local(moment: datetime) -> str:
    """xs:dateTime in the merchant's zone, without an offset (like submitTimeLocal)."""
    local = moment.astimezone(timezone(MERCHANT_OFFSET))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def _text_of(value: str | Decimal | int | bool) -> str:
    """Render a scalar as XML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_amount(value)
    return str(value)


def _append(parent: etree._Element, items: Children) -> None:
    """Add children in the given (schema) order, skipping None values."""
    for tag, value in items:
        if value is None:
            continue
        element = etree.SubElement(parent, f"{{{NS}}}{tag}")
        if isinstance(value, str | Decimal | int | bool):
            element.text = _text_of(value)
        else:
            _append(element, value)


def messages_block(result_ok: bool, messages: list[tuple[str, str]]) -> list[tuple[str, Value]]:
    """The messagesType content: resultCode then one message per (code, text)."""
    items: list[tuple[str, Value]] = [("resultCode", "Ok" if result_ok else "Error")]
    items += [("message", [("code", code), ("text", note)]) for code, note in messages]
    return items


def render(root_name: str, ref_id: str | None, reply: Reply) -> bytes:
    """Serialize a reply document: BOM + XML declaration + ASCII-only body."""
    root = etree.Element(f"{{{NS}}}{root_name}", nsmap={None: NS})
    items: list[tuple[str, Value]] = [
        ("refId", ref_id),
        ("messages", messages_block(reply.ok, reply.messages)),
    ]
    _append(root, items + reply.body)
    # ASCII output turns anything else into character references: the SDK decodes as Latin-1
    body = etree.tostring(root, encoding="ascii", xml_declaration=False)
    return BOM + b'<?xml version="1.0" encoding="utf-8"?>' + body


def error_reply(code: str, note: str, placeholders: Children = ()) -> Reply:
    """A request-level error; placeholders keep required elements present (schema-valid)."""
    return Reply(body=list(placeholders), ok=False, messages=[(code, note)])
