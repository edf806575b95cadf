"""Keeping methods at Authorize.Net: one customer profile per customer, found again from the
E00039 a second one gets; methods saved from a charge or from an Accept.js token."""

from __future__ import annotations

import logging
import re
from typing import Any

from authorizenet import apicontractsv1

from portal.payments.anet_client import AnetClient, NoAnswer, NotSent, result
from portal.payments.gateway import GatewayError, MethodOwner, SavedProfile, Token, Validation

logger = logging.getLogger(__name__)

DUPLICATE = "E00039"
NOT_FOUND = "E00040"
TOO_MANY = "E00042"
DECLINED = "E00027"
INVALID_TOKEN = "E00114"  # noqa: S105  (an error code, not a secret)
_EXISTING_ID = re.compile(r"ID (\d+) already exists")
_WHY = {
    TOO_MANY: "You have the most saved methods allowed (10). Remove one first.",
    INVALID_TOKEN: "Your card details expired before they were sent. Enter them again.",
    NOT_FOUND: "The payment could not be found to save its method.",
}


def _send(client: AnetClient, element: str, request: Any) -> Any:
    try:
        return client.send(element, request)
    except (NotSent, NoAnswer) as exc:
        raise GatewayError(f"Authorize.Net could not be reached: {exc}") from exc


def _field(reply: Any, name: str) -> str | None:
    """A leaf of a reply as text; PyXB files some (customerProfileId after the optional
    sessionToken) under the wildcard instead of the named property, so look there too."""
    value = getattr(reply, name, None)
    if value is None:
        for content in reply.orderedContent():
            element = getattr(getattr(content, "value", None), "_element", None)
            if element is not None and element().name().localName() == name:
                value = content.value
                break
    return None if value is None else str(value)


def _ids(reply: Any) -> list[str]:
    ids = getattr(reply, "customerPaymentProfileIdList", None)
    return [str(i) for i in ids.numericString] if ids is not None else []


def _refused(code: str, text: str) -> GatewayError:
    return GatewayError(_WHY.get(code, text or "Authorize.Net refused to save the method."))


def save_from_charge(client: AnetClient, owner: MethodOwner, trans_id: str) -> SavedProfile:
    """createCustomerProfileFromTransaction into the owner's profile; when they have none
    and one exists (E00039 names it), again into that one."""
    profile_id = owner.customer_profile_id
    for _ in range(2):
        request = apicontractsv1.createCustomerProfileFromTransactionRequest()
        request.transId = trans_id
        if profile_id:
            request.customerProfileId = profile_id
        else:
            request.customer = _customer(owner)
        reply = _send(client, "createCustomerProfileFromTransactionRequest", request)
        status, code, text = result(reply)
        ids = _ids(reply)
        if status == "Ok" and ids:
            return SavedProfile(_field(reply, "customerProfileId") or "", ids[0])
        if code == DUPLICATE and profile_id and ids:  # this method is kept already
            return SavedProfile(profile_id, ids[0])
        existing = _EXISTING_ID.search(text) if code == DUPLICATE and not profile_id else None
        if existing is None:
            raise _refused(code, text)
        profile_id = existing[1]
    raise GatewayError("Authorize.Net refused to save the method.")


def add_method(
    client: AnetClient, owner: MethodOwner, token: Token, validation: Validation
) -> SavedProfile:
    """createCustomerPaymentProfile with the token, checked as `validation` says, in the
    owner's profile (created first when they have none)."""
    profile_id = owner.customer_profile_id or customer_profile(client, owner)
    request = apicontractsv1.createCustomerPaymentProfileRequest()
    request.customerProfileId = profile_id
    opaque = apicontractsv1.opaqueDataType()
    opaque.dataDescriptor, opaque.dataValue = token.descriptor, token.value
    spec = apicontractsv1.customerPaymentProfileType()
    spec.payment = apicontractsv1.paymentType()
    spec.payment.opaqueData = opaque
    request.paymentProfile = spec
    request.validationMode = validation.value
    reply = _send(client, "createCustomerPaymentProfileRequest", request)
    status, code, text = result(reply)
    saved = _field(reply, "customerPaymentProfileId")
    if (status == "Ok" or code == DUPLICATE) and saved:
        return SavedProfile(profile_id, saved)
    if code == DECLINED:
        raise GatewayError(_declined(_field(reply, "validationDirectResponse")))
    raise _refused(code, text)


def customer_profile(client: AnetClient, owner: MethodOwner) -> str:
    """The owner's customer profile id: a new one, or the one E00039 names."""
    request = apicontractsv1.createCustomerProfileRequest()
    profile = apicontractsv1.customerProfileType()
    base = _customer(owner)
    profile.merchantCustomerId, profile.email = base.merchantCustomerId, base.email
    request.profile = profile
    reply = _send(client, "createCustomerProfileRequest", request)
    status, code, text = result(reply)
    made = _field(reply, "customerProfileId")
    if status == "Ok" and made:
        return made
    existing = _EXISTING_ID.search(text) if code == DUPLICATE else None
    if existing is None:
        raise _refused(code, text)
    return existing[1]


def _customer(owner: MethodOwner) -> Any:
    base = apicontractsv1.customerProfileBaseType()
    base.merchantCustomerId = owner.customer_ref[:20]
    if owner.email:
        base.email = owner.email[:255]
    return base


def _declined(direct: str | None) -> str:
    """The reason a validation authorization gives (the 4th field of its direct response)."""
    fields = direct.split(",") if direct else []
    reason = fields[3].strip() if len(fields) > 3 else ""
    return f"The card or account was declined when we checked it. {reason}".strip()
