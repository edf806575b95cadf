"""Talking to Authorize.Net: requests built by the `authorizenet` SDK's bindings and sent by
us with a timeout (its own execute() has none, swallows errors and keeps the endpoint in a
process-wide global); replies parsed by the bindings, or for the big listings by lxml."""

from __future__ import annotations

import logging
from typing import Any

import requests
from authorizenet import apicontractsv1
from authorizenet.constants import constants
from lxml import etree
from pyxb.binding.content import AutomatonConfiguration

from portal.config import AuthorizeNetSettings

logger = logging.getLogger(__name__)

# The SDK logs whole requests (card data, transaction key) at DEBUG when a call fails.
logging.getLogger(constants.defaultLoggerName).setLevel(logging.WARNING)
# PyXB gives up on replies with nested masked types past 20 nondeterministic paths (a profile
# with two methods; AuthorizeNet/sdk-python#109); about 200 per payment profile are needed.
AutomatonConfiguration.PermittedNondeterminism = max(
    AutomatonConfiguration.PermittedNondeterminism, 10_000
)
# PyXB logs every ambiguous path it resolves at WARNING: noise, not news.
logging.getLogger("pyxb.binding.content").setLevel(logging.ERROR)

BOM = "\ufeff"
BOM_BYTES = BOM.encode()
NS = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


class NotSent(Exception):
    """The request never reached Authorize.Net (nothing can have been charged)."""


class NoAnswer(Exception):
    """Sent, but no usable answer came back: the outcome is unknown."""


class AnetClient:
    """Builds, sends and parses one API call."""

    def __init__(self, settings: AuthorizeNetSettings) -> None:
        self.settings = settings
        self.calls = 0
        self.http = requests.Session()

    def auth(self) -> Any:
        """merchantAuthentication for a request."""
        auth = apicontractsv1.merchantAuthenticationType()
        auth.name = self.settings.api_login_id
        auth.transactionKey = self.settings.transaction_key
        return auth

    def send(self, element: str, request: Any) -> Any:
        """POST the request (named like its XML root) and return the typed reply."""
        text = self._post(element, request).decode("utf-8", errors="replace").lstrip(BOM)
        try:
            return apicontractsv1.CreateFromDocument(text)
        except Exception as exc:  # PyXB raises many kinds; all mean "unreadable"
            raise NoAnswer(f"an unreadable answer ({type(exc).__name__})") from exc

    def send_raw(self, element: str, request: Any) -> etree._Element:
        """POST the request and return the reply's root as a plain lxml tree: PyXB needs over
        a minute of CPU to bind one listing page of 1,000 transactions (its cost grows faster
        than the page), lxml a few milliseconds."""
        content = self._post(element, request).removeprefix(BOM_BYTES)
        try:
            return etree.fromstring(content, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise NoAnswer(f"an unreadable answer ({type(exc).__name__})") from exc

    def _post(self, element: str, request: Any) -> bytes:
        """Sign, serialize and POST a request; the raw reply body (HTTP 200 only)."""
        request.merchantAuthentication = self.auth()
        request.clientId = constants.clientId
        body = request.toxml(encoding=constants.xml_encoding, element_name=element)
        body = body.replace(constants.nsNamespace1, b"").replace(constants.nsNamespace2, b"")
        self.calls += 1
        try:
            answer = self.http.post(
                self.settings.api_url,
                data=body,
                headers=constants.headers,
                timeout=self.settings.timeout_seconds,
            )
        except (requests.ConnectTimeout, requests.exceptions.InvalidURL) as exc:
            raise NotSent(type(exc).__name__) from exc
        except requests.ConnectionError as exc:
            if _refused(exc):
                raise NotSent("connection refused") from exc
            raise NoAnswer(f"the connection broke ({type(exc).__name__})") from exc
        except requests.Timeout as exc:
            raise NoAnswer(f"no answer within {self.settings.timeout_seconds} s") from exc
        if answer.status_code != 200:
            raise NoAnswer(f"HTTP {answer.status_code}")
        content: bytes = answer.content
        return content


def _refused(exc: requests.ConnectionError) -> bool:
    """Whether the connection was refused before anything was sent."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


def result(reply: Any) -> tuple[str, str, str]:
    """(resultCode, first message code, first message text) of a reply."""
    messages = reply.messages
    first = messages.message[0] if len(messages.message) else None
    code = str(first.code) if first is not None else ""
    text = str(first.text) if first is not None else ""
    return str(messages.resultCode), code, text


def raw_result(root: etree._Element) -> tuple[str, str, str]:
    """result() for a reply read by send_raw."""
    return (
        root.findtext(f"{{{NS}}}messages/{{{NS}}}resultCode", ""),
        root.findtext(f"{{{NS}}}messages/{{{NS}}}message/{{{NS}}}code", ""),
        root.findtext(f"{{{NS}}}messages/{{{NS}}}message/{{{NS}}}text", ""),
    )
