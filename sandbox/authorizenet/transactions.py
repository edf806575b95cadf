"""createTransactionRequest on the wire: run the engine and shape createTransactionResponse."""

from __future__ import annotations

from lxml import etree

from . import charges
from .state import AnetState
from .wire import ApiError, Reply, Value, find

UNSUCCESSFUL = ("E00027", "The transaction was unsuccessful.")
# the real gateway omits transactionResponse on request-level errors, which the XSD requires
ERROR_PLACEHOLDERS: list[tuple[str, Value]] = [("transactionResponse", [])]


def create_transaction(state: AnetState, root: etree._Element) -> Reply:
    """Handle createTransactionRequest."""
    request = find(root, "transactionRequest")
    if request is None:
        raise ApiError("E00003", "The element 'createTransactionRequest' has incomplete content.")
    result = charges.run(state, request)
    for event in result.events:
        if result.trans is not None:
            state.notify(event, result.trans)
    body: list[tuple[str, Value]] = [("transactionResponse", _transaction_response(result))]
    if result.profile_reply is not None:
        body.append(("profileResponse", result.profile_reply))  # type: ignore[arg-type]
    if result.ok:
        return Reply(body=body)
    return Reply(body=body, ok=False, messages=[UNSUCCESSFUL])


def _transaction_response(result: charges.Result) -> list[tuple[str, Value]]:
    """transactionResponse children in schema order."""
    trans = result.trans
    method = result.method
    outcome: list[tuple[str, Value]]
    if result.ok:
        outcome = [
            ("messages", [("message", [("code", result.code), ("description", result.text)])])
        ]
    else:
        outcome = [
            ("errors", [("error", [("errorCode", result.code), ("errorText", result.text)])])
        ]
    profile: list[tuple[str, Value]] | None = None
    if trans is not None and trans.profile_id and result.profile_reply is None:
        profile = [
            ("customerProfileId", trans.profile_id),
            ("customerPaymentProfileId", trans.payment_profile_id),
        ]
    return [
        ("responseCode", result.response_code),
        ("authCode", trans.auth_code if trans else ""),
        ("avsResultCode", trans.avs_code if trans else "P"),
        ("cvvResultCode", trans.cvv_code if trans else ""),
        ("cavvResultCode", ""),
        # errors without a recorded transaction (duplicates too, unless echoed) report transId 0
        ("transId", trans.trans_id if trans else "0"),
        ("refTransID", result.ref_trans_id or ""),
        ("transHash", ""),
        ("testRequest", "0"),
        ("accountNumber", method.masked if method else ""),
        ("accountType", trans.account_type if trans else ""),
        *outcome,
        ("transHashSha2", ""),
        ("profile", profile),
    ]
