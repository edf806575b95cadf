"""The v3 data API routes: query, read, write, delete/void, CDC, batch and invoice PDFs.

Every call: bearer check (401/403) -> throttles and injected faults (429/5xx) -> latency ->
the handler under ``state.lock``. A POST with ``?requestid=`` replays the first response
(unless that was a 5xx/429, so retries after transient failures really run). Batch items
run sequentially against the live company, so a later item does see an earlier item's
effects; QBO promises no ordering, so callers must not rely on either behaviour.
"""

from __future__ import annotations

import copy
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request

from . import writes
from .cdc import change_data_capture, parse_entities
from .faults import (
    THROTTLE_XML,
    QboFault,
    authentication_failed,
    authorization_failed,
    invalid_request,
    required,
    unsupported,
)
from .pdf import render_invoice_pdf
from .query import parse_error, parse_query, run_query
from .state import CachedResponse, SandboxState
from .store import URL_NAMES, Company
from .util import DEFAULT_UTC_OFFSET, dumps, format_timestamp, loads

logger = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 30
WRITE_VIEWS = frozenset({"write_view", "batch_view"})
PREFIX = "/v3/company/<realm_id>"

bp = Blueprint("qbo_api", __name__)


def sandbox_state() -> SandboxState:
    """The SandboxState of the running app."""
    state: SandboxState = current_app.extensions["qbo_sandbox_state"]
    return state


def fault_response(
    state: SandboxState, fault: QboFault, company: Company | None = None
) -> Response:
    """Render a Fault envelope (or the historical XML body for throttling, if chosen)."""
    if fault.status == 429 and state.faults.throttle_body == "xml":
        return Response(THROTTLE_XML, 429, mimetype="application/xml")
    offset = company.utc_offset if company else DEFAULT_UTC_OFFSET
    body = {"Fault": fault.fault(), "time": format_timestamp(state.now(), offset)}
    return Response(dumps(body), fault.status, mimetype="application/json")


def _authenticate(state: SandboxState, realm_id: str) -> None:
    """Require a live bearer token issued for this company."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise authentication_failed("Missing bearer token")
    grant = state.tokens.authenticate(header[7:].strip())
    if grant is None:
        raise authentication_failed("Token expired, revoked or unknown")
    if grant.realm_id != realm_id:
        raise authorization_failed(f"The token was not issued for company {realm_id}")


def api_call(is_batch: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Wrap a view taking (company, **url args) and returning a JSON dict or a Response."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(realm_id: str, **kwargs: Any) -> Response:
            state = sandbox_state()
            try:
                _authenticate(state, realm_id)
                if state.faults.take("forbid"):
                    raise authorization_failed("Authorization was withdrawn for this company")
                state.faults.admit(realm_id, is_batch)
            except QboFault as fault:
                return fault_response(state, fault, state.companies.get(realm_id))
            try:
                if state.faults.latency_seconds > 0:
                    time.sleep(state.faults.latency_seconds)
                response = _execute(state, realm_id, view, kwargs)
                lost = state.faults.take("lose") or (
                    view.__name__ in WRITE_VIEWS and state.faults.take("lose_writes")
                )
                if lost:  # done and remembered, but the answer is lost
                    return Response("Gateway Timeout", 504, mimetype="text/html")
                return response
            finally:
                state.faults.release(realm_id)

        return wrapper

    return decorator


def _execute(
    state: SandboxState, realm_id: str, view: Callable[..., Any], kwargs: dict[str, Any]
) -> Response:
    """Run a view under the lock, with requestid replay and webhook queuing."""
    request_id = request.args.get("requestid") if request.method == "POST" else None
    with state.lock:
        if request_id and (realm_id, request_id) in state.idempotency:
            cached = state.idempotency[(realm_id, request_id)]
            return Response(cached.body, cached.status, mimetype=cached.mimetype)
        company = state.companies.get(realm_id)
        try:
            company = state.company(realm_id)
            result = view(company, **kwargs)
            if isinstance(result, Response):
                return result
            result["time"] = company.timestamp()
            response = Response(dumps(result), 200, mimetype="application/json")
        except QboFault as fault:
            response = fault_response(state, fault, company)
        if company is not None:
            state.webhooks.enqueue(realm_id, company.drain_events())
        if request_id and response.status_code < 500:
            body = response.get_data()
            state.remember(
                realm_id,
                request_id,
                CachedResponse(response.status_code, body, response.mimetype or "application/json"),
            )
        return response


def _entity(name: str) -> str:
    """Map a URL segment (invoice, creditmemo, ...) to the entity name."""
    entity = URL_NAMES.get(name.lower())
    if entity is None:
        raise unsupported(f"Entity {name} is not supported by the sandbox")
    return entity


def _json_body() -> Any:
    """Parse the request body as JSON with Decimal numbers."""
    try:
        return loads(request.get_data())
    except ValueError as exc:
        raise invalid_request(f"Malformed JSON body: {exc}") from exc


@bp.route(f"{PREFIX}/query", methods=["GET", "POST"])
@api_call()
def query_view(company: Company) -> dict[str, Any]:
    """Run a query from ?query= (GET) or the raw body (POST, application/text)."""
    text = request.args.get("query") if request.method == "GET" else request.get_data(as_text=True)
    if not text or not text.strip():
        raise parse_error("empty query")
    return {"QueryResponse": run_query(company, parse_query(text))}


@bp.get(f"{PREFIX}/cdc")
@api_call()
def cdc_view(company: Company) -> dict[str, Any]:
    """Change data capture."""
    entities = parse_entities(request.args.get("entities", ""))
    changed_since = request.args.get("changedSince")
    if not changed_since:
        raise required("changedSince")
    return {"CDCResponse": change_data_capture(company, entities, changed_since)}


@bp.post(f"{PREFIX}/batch")
@api_call(is_batch=True)
def batch_view(company: Company) -> dict[str, Any]:
    """Up to 30 creates/updates/deletes/queries; item faults do not fail the batch."""
    payload = _json_body()
    items = payload.get("BatchItemRequest") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise required("BatchItemRequest")
    if len(items) > MAX_BATCH_ITEMS:
        raise invalid_request(
            f"Batch has {len(items)} items; at most {MAX_BATCH_ITEMS} are allowed",
            "BatchItemRequest",
        )
    return {"BatchItemResponse": [_batch_item(company, item) for item in items]}


def _batch_item(company: Company, item: Any) -> dict[str, Any]:
    """Run one batch item, turning its fault into a per-item Fault."""
    bid = item.get("bId") if isinstance(item, dict) else None
    try:
        if not isinstance(item, dict):
            raise invalid_request("Batch items must be objects")
        if "Query" in item:
            return {"bId": bid, "QueryResponse": run_query(company, parse_query(item["Query"]))}
        names = [key for key in item if key in URL_NAMES.values()]
        if len(names) != 1:
            raise invalid_request("A batch item needs exactly one entity object")
        entity, body = names[0], item[names[0]]
        operation = str(item.get("operation", "create")).lower()
        if operation == "create":
            result = writes.create(company, entity, body)
        elif operation == "update":
            if not body.get("Id"):
                raise required("Id")
            result = writes.update(company, entity, body)
        elif operation in ("delete", "void"):
            result = writes.save(company, entity, body, operation, None)
        else:
            raise unsupported(f"Batch operation {operation!r} is not supported")
        return {"bId": bid, entity: result}
    except QboFault as fault:
        return {"bId": bid, "Fault": fault.fault()}


@bp.get(f"{PREFIX}/<entity_name>/<object_id>/pdf")
@api_call()
def pdf_view(company: Company, entity_name: str, object_id: str) -> Response:
    """An invoice as a PDF."""
    if _entity(entity_name) != "Invoice":
        raise unsupported(f"PDF is not available for {entity_name} in the sandbox")
    invoice = company.require("Invoice", object_id)
    return Response(render_invoice_pdf(company.name, invoice), mimetype="application/pdf")


@bp.get(f"{PREFIX}/<entity_name>/<object_id>")
@api_call()
def read_view(company: Company, entity_name: str, object_id: str) -> dict[str, Any]:
    """Read one row (or CompanyInfo)."""
    if entity_name.lower() == "companyinfo":
        return {"CompanyInfo": company.company_info()}
    entity = _entity(entity_name)
    return {entity: company.require(entity, object_id)}


@bp.post(f"{PREFIX}/<entity_name>")
@api_call()
def write_view(company: Company, entity_name: str) -> dict[str, Any]:
    """Create, update, sparse update, delete (?operation=delete) or void."""
    entity = _entity(entity_name)
    operation = request.args.get("operation")
    payload = _json_body()
    _office_edit(company, entity, payload)
    result = writes.save(company, entity, payload, operation, request.args.get("include"))
    return {entity: result}


def _office_edit(company: Company, entity: str, payload: Any) -> None:
    """An injected edit by someone else between the caller's read and its update."""
    current = (
        company.rows.get(entity, {}).get(str(payload.get("Id")))
        if isinstance(payload, dict) and payload.get("Id")
        else None
    )
    faults = sandbox_state().faults
    if current is not None and faults.take("edits"):
        edited = copy.deepcopy(current)
        edited.update(copy.deepcopy(faults.edit_changes))
        company.stamp(entity, edited, "Update")
