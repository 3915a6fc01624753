"""HTTP errors of the API and the handlers that turn store, core and chain errors into them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from chain.errors import ChainConnectionError, ChainError, ContractRevert
from core.errors import CoreValueError
from store.errors import (
    DuplicateEventError,
    InvalidTransitionError,
    NotFoundError,
    StoreValueError,
)

_LOGGER = logging.getLogger(__name__)

# What a user should read instead of the Solidity error's name: one sentence per custom error
# (tests/api/test_api_errors.py fails when an Escrow*/Anchor* error lacks one).
_REVERT_MESSAGES = {
    "AnchorBrandRegistered": "this wallet already owns a company prefix on chain",
    "AnchorBrandRevoked": "the brand was revoked and can no longer commission items",
    "AnchorInvalidBrand": "the brand account must not be the zero address",
    "AnchorBrandCompromised": (
        "the brand's key is recorded as compromised and can no longer sign roots"
    ),
    "AnchorInvalidCompromiseTime": (
        "the compromise time must be set, not in the future, and earlier than any recorded one"
    ),
    "AnchorInvalidGtin": "the GTIN must be 14 digits",
    "AnchorInvalidKind": (
        "the leaf kind must be 0 (event), 1 (errorDeclaration) or 3 (passport); kind 2 leaves "
        "are built by memberLeafHash"
    ),
    "AnchorNotPrefixHolder": "only the current holder of the root's company prefix may re-sign it",
    "AnchorPlatformRoot": "a platform root has no brand signature to restore",
    "AnchorPrefixNested": (
        "this company prefix starts with, or is the start of, a prefix already registered"
    ),
    "AnchorRootEndorsed": "this root was already re-signed, or its own signer cannot re-sign it",
    "AnchorUnknownRoot": "this root is not anchored",
    "AnchorInvalidPrefix": "the company prefix must be 6 to 12 digits",
    "AnchorInvalidSignature": "the signature is not the brand's commissioning signature",
    "AnchorPrefixRegistered": "this company prefix is already registered on chain",
    "AnchorRootExists": "this root is already anchored",
    "AnchorUnknownBrand": "the brand is not registered on chain",
    "AnchorZeroLeafCount": "a batch must hold at least one leaf",
    "AnchorZeroRoot": "the zero root cannot be anchored",
    "AccessControlUnauthorizedAccount": "the sending wallet lacks the role this call needs",
    "EscrowAttestationExpired": "the attestation came after deadline + refund grace",
    "EscrowDeadlineNotPassed": "a refund is possible only after deadline + refund grace",
    "EscrowDeliveryInFuture": "the attested delivery time is later than the chain's clock",
    "EscrowDisputePending": (
        "the dispute is still the arbiter's to resolve; settle after its timeout"
    ),
    "EscrowDisputeTimedOut": (
        "the dispute timed out: only the attestation's split can settle it now"
    ),
    "EscrowDisputeWindowClosed": "the dispute window has closed; the attestation stands",
    "EscrowDisputeWindowOpen": "the dispute window is still open; settle after it closes",
    "EscrowEvidenceNotAttested": (
        "the reading is not in the attested evidence (its proof does not lead to the root)"
    ),
    "EscrowInvalidArbiter": (
        "the arbiter must differ from buyer and payee, and needs a dispute timeout"
    ),
    "EscrowInvalidDeadline": "the deadline has passed",
    "EscrowInvalidDurations": (
        "deadline + refund grace + dispute window + dispute timeout overflow a timestamp"
    ),
    "EscrowInvalidPayee": "the payee must be non-zero and differ from the buyer",
    "EscrowInvalidPenaltyCap": "the penalty cap exceeds 10000 basis points",
    "EscrowInvalidReadingSignature": "the reading's signature is not its device's",
    "EscrowInvalidSignature": "a terms signature does not match the buyer or the payee",
    "EscrowInvalidSplit": "the arbiter's payout exceeds the deposit",
    "EscrowInvalidState": "the escrow is not in a state that allows this",
    "EscrowInvalidTemperatureBand": "the temperature band is empty",
    "EscrowInvalidToken": "only a token contract can be allowlisted",
    "EscrowLateDelivery": "the attested delivery is after the deadline",
    "EscrowNoArbiter": "the terms name no arbiter, so the attestation cannot be disputed",
    "EscrowNotArbiter": "only the arbiter named in the terms may resolve the dispute",
    "EscrowNotBuyer": "only the buyer named in the terms may fund them",
    "EscrowNotOracle": "the attestation is not signed by an oracle",
    "EscrowNotParty": "only the shipment's buyer or payee may dispute or submit evidence",
    "EscrowNothingOwed": "the account is owed nothing in this token",
    "EscrowShipmentExists": "this shipment is already funded",
    "EscrowTermsMismatch": "the attestation names other terms than the funded ones",
    "EscrowTransferFailed": "sending the ETH failed; the balance is kept for a later withdrawal",
    "EscrowUnsupportedToken": "token not on the allowlist",
    "EscrowWrongAmount": "the value sent differs from what the call needs",
    "EscrowZeroAmount": "the amount must be greater than zero",
    # ShipmentEscrow v2: the @notice of each error in IShipmentEscrowV2.sol (issue 13 makes
    # NatSpec the only source of these sentences).
    "EscrowV2ArrivalNotAcceptable": (
        "device arrival can be attested only when autoAcceptAfter > 0, from acceptableAt on"
    ),
    "EscrowV2AttestationExpired": (
        "attestations are accepted only until expiredAt (deadline + refundGrace + suspension)"
    ),
    "EscrowV2DeviceNotInShipment": "the proof does not show device in the shipment's devicesRoot",
    "EscrowV2DisputeNotOpenable": (
        "no dispute can be opened now (window closed, before the deadline, "
        "or after the refund time)"
    ),
    "EscrowV2DisputePending": (
        "the dispute is still the arbiter's to resolve; settle() succeeds from settleableAt on"
    ),
    "EscrowV2DisputeTimedOut": (
        "the dispute timed out at timedOutAt; only settle() or a mutual release can end it"
    ),
    "EscrowV2DisputeWindowOpen": (
        "the dispute window is still open; settle() succeeds from endsAt on"
    ),
    "EscrowV2FundingClosed": "the terms could be funded only until fundBy",
    "EscrowV2InvalidArbiter": (
        "the arbiter is a party, lacks a timeout, or is missing although autoAcceptAfter > 0"
    ),
    "EscrowV2InvalidAutoAccept": "autoAcceptAfter is neither 0 (off) nor at least one hour",
    "EscrowV2InvalidDeadline": "the deadline is not in the future",
    "EscrowV2InvalidDeliveryBasis": (
        "deliveryBasis is neither 0 (receiving) nor 1 (device arrival)"
    ),
    "EscrowV2InvalidDeliveryTime": (
        "deliveredAt is in the future, or windowStart is after deliveredAt"
    ),
    "EscrowV2InvalidDurations": (
        "deadline + refundGrace + disputeWindow + disputeTimeout does not fit a uint64"
    ),
    "EscrowV2InvalidHumidityBand": (
        "the humidity bounds are neither both 0 (off) nor min <= max <= 10000"
    ),
    "EscrowV2InvalidParties": "buyer, payee or carrier is zero, or the payee is the buyer",
    "EscrowV2InvalidPenaltyCap": "the penalty cap exceeds 10000 basis points",
    "EscrowV2InvalidRadius": "the destination radius is outside 100 m to 50 km",
    "EscrowV2InvalidReadingSignature": (
        "the reading's signature does not recover to device (signer is what it recovers to)"
    ),
    "EscrowV2InvalidRefundGrace": (
        "refundGrace is shorter than arrivalDwellMinutes * 60 + autoAcceptAfter + 3600"
    ),
    "EscrowV2InvalidSignature": (
        "a signature over the terms or a release is not valid for expectedSigner"
    ),
    "EscrowV2InvalidSplit": "the payout exceeds the deposit",
    "EscrowV2InvalidState": "the shipment is not in a state that allows the call",
    "EscrowV2InvalidTemperatureBand": (
        "the temperature band is empty (minTempCentiC > maxTempCentiC)"
    ),
    "EscrowV2InvalidToken": (
        "the allowlist takes only contracts (ETH is always accepted as address(0))"
    ),
    "EscrowV2InvalidTraceAnchor": ("the TraceAnchor given to the constructor is the zero address"),
    "EscrowV2NoArbiter": "the terms name no arbiter, so there can be no dispute",
    "EscrowV2NoDevices": "the terms name no device set (devicesRoot == 0)",
    "EscrowV2NotArbiter": "only the arbiter named in the terms may resolve the dispute",
    "EscrowV2NotBuyer": "only the buyer named in the terms may fund them",
    "EscrowV2NotParty": (
        "only the shipment's buyer or payee (or carrier, for evidence) may make this call"
    ),
    "EscrowV2NotRefundable": (
        "refund() succeeds from refundableAt on (later while the oracle is suspended)"
    ),
    "EscrowV2NothingOwed": "the account has no balance of the token to withdraw",
    "EscrowV2OracleInactive": "the oracle lacks ORACLE_ROLE or is paused by a guardian",
    "EscrowV2PauseUnchanged": "the oracle is already in the requested pause state",
    "EscrowV2ReadingOutsideWindow": (
        "the reading was taken outside the shipment's window [fromMs, toMs]"
    ),
    "EscrowV2ShipmentExists": "a shipment with this id was funded before; ids are funded once",
    "EscrowV2ShipmentMismatch": "the attestation is for another shipment",
    "EscrowV2TermsMismatch": (
        "the terms passed do not hash to the terms the shipment was funded with"
    ),
    "EscrowV2TransferFailed": "sending amount ETH to account failed; its balance is kept",
    "EscrowV2UnsupportedToken": (
        "the token is neither ETH (address(0)) nor on the admin's allowlist"
    ),
    "EscrowV2WrongAmount": (
        "msg.value differs from what the call needs (the amount for ETH, zero for a token)"
    ),
    "EscrowV2ZeroAmount": (
        "the deposit (as the terms state it, or as received) must be greater than zero"
    ),
}
# Reverts that say the caller's input is wrong (422) rather than the state being in the way (409).
_INPUT_REVERTS = frozenset(
    {
        "AnchorInvalidBrand",
        "AnchorInvalidKind",
        "AnchorInvalidPrefix",
        "AnchorZeroLeafCount",
        "AnchorZeroRoot",
        "EscrowInvalidArbiter",
        "EscrowInvalidDurations",
        "EscrowInvalidPayee",
        "EscrowInvalidPenaltyCap",
        "EscrowInvalidSplit",
        "EscrowInvalidTemperatureBand",
        "EscrowInvalidToken",
        "EscrowUnsupportedToken",
        "EscrowZeroAmount",
        "EscrowV2InvalidArbiter",
        "EscrowV2InvalidAutoAccept",
        "EscrowV2InvalidDeliveryBasis",
        "EscrowV2InvalidDurations",
        "EscrowV2InvalidHumidityBand",
        "EscrowV2InvalidParties",
        "EscrowV2InvalidPenaltyCap",
        "EscrowV2InvalidRadius",
        "EscrowV2InvalidRefundGrace",
        "EscrowV2InvalidSplit",
        "EscrowV2InvalidTemperatureBand",
        "EscrowV2InvalidToken",
        "EscrowV2InvalidTraceAnchor",
        "EscrowV2NoDevices",
        "EscrowV2UnsupportedToken",
        "EscrowV2ZeroAmount",
    }
)


def revert_message(name: str) -> str | None:
    """The sentence the API shows for the custom error `name` (None: it has none)."""
    return _REVERT_MESSAGES.get(name)


class ApiError(Exception):
    """An error with an HTTP status and a JSON `detail`."""

    status_code = 400

    def __init__(self, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail
        self.headers = headers


class Unauthorized(ApiError):
    """401: no API key, or one that is unknown or revoked."""

    status_code = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    """403: the principal's role or ownership does not allow this."""

    status_code = 403


class NotFound(ApiError):
    """404: nothing with that name exists (or the principal may not see it)."""

    status_code = 404


class Conflict(ApiError):
    """409: the request is valid but the current state does not allow it."""

    status_code = 409


class ChainUnavailable(ApiError):
    """503: the endpoint needs the chain and none is configured or reachable."""

    status_code = 503


class FieldError(ApiError):
    """422 naming the offending field, in FastAPI's validation-error shape."""

    status_code = 422

    def __init__(self, loc: Sequence[str | int], msg: str) -> None:
        super().__init__([{"loc": list(loc), "msg": msg, "type": "value_error"}])
        self.loc = list(loc)
        self.msg = msg

    def __str__(self) -> str:
        return f"{'.'.join(map(str, self.loc))}: {self.msg}"


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


def revert_body(exc: ContractRevert) -> dict[str, Any]:
    """The JSON body for a decoded revert: a sentence, the error name and its arguments."""
    message = _REVERT_MESSAGES.get(exc.name, str(exc))
    return {
        "detail": f"the contract refused: {message}",
        "error": exc.name,
        "args": {k: _json(v) for k, v in exc.args_dict.items()},
    }


def revert_status(exc: ContractRevert) -> int:
    """422 for a revert caused by bad input, 409 for one caused by state."""
    return 422 if exc.name in _INPUT_REVERTS else 409


# A 422 repeats the offending input only when it is a short scalar: echoing a large or deeply
# nested body back would cost as much to encode as the attack did to send.
_ECHO_MAX_CHARS = 64


def _validation_item(error: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "loc": [part if isinstance(part, int | str) else str(part) for part in error["loc"]],
        "msg": str(error.get("msg", ""))[:500],
        "type": str(error.get("type", "value_error")),
    }
    value = error.get("input")
    scalar = value is None or isinstance(value, bool | int | float | str)
    if scalar and len(repr(value)) <= _ECHO_MAX_CHARS:
        item["input"] = value
    return item


def validation_body(exc: RequestValidationError) -> dict[str, Any]:
    """FastAPI's 422 shape (`detail`: loc, msg, type per error), without large inputs."""
    errors = exc.errors()
    body: dict[str, Any] = {"detail": [_validation_item(e) for e in errors[:20]]}
    if len(errors) > 20:
        body["more"] = len(errors) - 20
    return body


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; every error body is JSON with a `detail`."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc), 422)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(NotFoundError)
    async def _not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 404)

    @app.exception_handler(DuplicateEventError)
    async def _duplicate(_request: Request, exc: DuplicateEventError) -> JSONResponse:
        body = {"detail": "this event is already recorded", "eventId": exc.existing_event_id}
        return JSONResponse(body, 409)

    @app.exception_handler(InvalidTransitionError)
    async def _transition(_request: Request, exc: InvalidTransitionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(StoreValueError)
    async def _store_value(_request: Request, exc: StoreValueError) -> JSONResponse:
        body = [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": body}, 422)

    @app.exception_handler(CoreValueError)
    async def _core_value(_request: Request, exc: CoreValueError) -> JSONResponse:
        body = [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": body}, 422)

    @app.exception_handler(IntegrityError)
    async def _conflict(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique thing; the loser learns it exists.
        _LOGGER.info("integrity conflict: %s", exc.orig)
        return JSONResponse({"detail": "this already exists (a concurrent request won)"}, 409)

    @app.exception_handler(ContractRevert)
    async def _revert(_request: Request, exc: ContractRevert) -> JSONResponse:
        return JSONResponse(revert_body(exc), revert_status(exc))

    @app.exception_handler(ChainConnectionError)
    async def _chain_down(_request: Request, exc: ChainConnectionError) -> JSONResponse:
        _LOGGER.warning("chain unreachable: %s", exc)
        return JSONResponse({"detail": "the chain node is unreachable, try again later"}, 503)

    @app.exception_handler(ChainError)
    async def _chain(_request: Request, exc: ChainError) -> JSONResponse:
        _LOGGER.warning("chain error: %s", exc)
        return JSONResponse({"detail": f"chain error: {exc}"}, 502)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged in full here; the client learns nothing about the internals.
        _LOGGER.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, 500)
