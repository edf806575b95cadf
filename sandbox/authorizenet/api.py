"""POST /xml/v1/request.api: authenticate, apply faults, dispatch on the root element, reply."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from flask import Blueprint, Response, current_app, request
from lxml import etree

from . import profile_changes, profiles, reporting, transactions
from .state import AnetState
from .wire import (
    CONTENT_TYPE,
    ApiError,
    Reply,
    Value,
    error_reply,
    find,
    local_name,
    parse_request,
    render,
    text,
)

logger = logging.getLogger(__name__)

API_PATH = "/xml/v1/request.api"
Handler = Callable[[AnetState, etree._Element], Reply]
HANDLERS: dict[str, Handler] = {
    "createTransactionRequest": transactions.create_transaction,
    "createCustomerProfileRequest": profiles.create_customer_profile,
    "createCustomerPaymentProfileRequest": profiles.create_customer_payment_profile,
    "getCustomerProfileRequest": profiles.get_customer_profile,
    "getCustomerPaymentProfileRequest": profiles.get_customer_payment_profile,
    "deleteCustomerPaymentProfileRequest": profiles.delete_customer_payment_profile,
    "deleteCustomerProfileRequest": profiles.delete_customer_profile,
    "createCustomerProfileFromTransactionRequest": (
        profile_changes.create_customer_profile_from_transaction
    ),
    "updateCustomerProfileRequest": profile_changes.update_customer_profile,
    "updateCustomerPaymentProfileRequest": profile_changes.update_customer_payment_profile,
    "validateCustomerPaymentProfileRequest": profile_changes.validate_customer_payment_profile,
    "getCustomerPaymentProfileListRequest": profile_changes.get_customer_payment_profile_list,
    "getTransactionDetailsRequest": reporting.get_transaction_details,
    "getUnsettledTransactionListRequest": reporting.get_unsettled_transaction_list,
    "getSettledBatchListRequest": reporting.get_settled_batch_list,
    "getTransactionListRequest": reporting.get_transaction_list,
    "getMerchantDetailsRequest": reporting.get_merchant_details,
    "authenticateTestRequest": lambda state, root: Reply(),
}
# Required elements an error reply must still carry to stay schema-valid
PLACEHOLDERS: dict[str, list[tuple[str, Value]]] = {
    "createTransactionResponse": transactions.ERROR_PLACEHOLDERS,
    "createCustomerProfileResponse": profiles.CREATE_PLACEHOLDERS,
}
# Requests answered with another request's response element
RESPONSE_NAMES = {
    "createCustomerProfileFromTransactionRequest": "createCustomerProfileResponse",
}
# Responses whose required content cannot be faked: errors come back as ErrorResponse
ERROR_RESPONSE_ONLY = {"getTransactionDetailsResponse", "getMerchantDetailsResponse"}
# Requests that only read (every other one is written to the state file before the reply)
READ_ONLY = frozenset(
    {
        "getCustomerProfileRequest",
        "getCustomerPaymentProfileRequest",
        "getTransactionDetailsRequest",
        "getUnsettledTransactionListRequest",
        "getSettledBatchListRequest",
        "getTransactionListRequest",
        "getMerchantDetailsRequest",
        "getCustomerPaymentProfileListRequest",
        "validateCustomerPaymentProfileRequest",
        "authenticateTestRequest",
    }
)

bp = Blueprint("anet_api", __name__)


def _state() -> AnetState:
    """The AnetState this app serves."""
    state: AnetState = current_app.extensions["anet_sandbox_state"]
    return state


def _xml(body: bytes) -> Response:
    """HTTP 200 with the gateway's content type (errors too)."""
    return Response(body, status=200, content_type=CONTENT_TYPE)


def _drop_connection() -> Response:
    """Close the client's socket without a reply (werkzeug then finds the pipe closed)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("socket already closed")
    return Response(b"", status=200)


@bp.post(API_PATH)
def request_api() -> Response:
    """The single XML endpoint."""
    state = _state()
    root: etree._Element | None = None
    try:
        root = parse_request(request.get_data())
    except ApiError as error:
        unparsable = error
    # faults come first: a failing or hanging front end never looks at the body
    plan = state.faults.plan(local_name(root) if root is not None else "")
    if plan.fail_status is not None:
        return Response("Internal Server Error", status=plan.fail_status, mimetype="text/plain")
    if plan.hang_before is not None:
        state.faults.wait(plan.hang_before)
        return _drop_connection()  # the request was never processed
    if root is None:
        return _xml(render("ErrorResponse", None, error_reply(unparsable.code, unparsable.text)))
    operation = local_name(root)
    body = _dispatch(state, operation, root)
    if plan.drop_after:
        return _drop_connection()
    if plan.hang_after is not None:
        state.faults.wait(plan.hang_after)
    return _xml(body)


def _dispatch(state: AnetState, operation: str, root: etree._Element) -> bytes:
    """Authenticate and run the handler under the state lock; render the reply."""
    ref_id = text(root, "refId")
    response_name = RESPONSE_NAMES.get(operation, operation.removesuffix("Request") + "Response")
    handler = HANDLERS.get(operation)
    if handler is None:
        note = f"The element '{operation}' is not a supported API method."
        return render("ErrorResponse", ref_id, error_reply("E00003", note))
    with state.lock:
        state.auto_settle()
        auth = find(root, "merchantAuthentication")
        try:
            if not state.credentials_ok(text(auth, "name"), text(auth, "transactionKey")):
                raise ApiError(
                    "E00007", "User authentication failed due to invalid authentication values."
                )
            reply = handler(state, root)
        except ApiError as error:
            logger.info("%s failed: %s", operation, error.code)
            if response_name in ERROR_RESPONSE_ONLY:
                response_name = "ErrorResponse"
            reply = error_reply(error.code, error.text, PLACEHOLDERS.get(response_name, []))
        if operation not in READ_ONLY:
            state.mark_changed()
        state.persist()  # on disk before the reply, even one that is then held or dropped
    return render(response_name, ref_id, reply)
