"""Every custom error of the contracts has a sentence in the API, and the right status."""

from __future__ import annotations

import inspect

import pytest

from api.errors import revert_body, revert_message, revert_status
from chain import solidity_errors as se
from chain.errors import ContractRevert

PROJECT_ERRORS = sorted(
    name
    for name, cls in inspect.getmembers(se, inspect.isclass)
    if issubclass(cls, ContractRevert) and name.startswith(("Escrow", "Anchor"))
)
DISPUTE_ERRORS = [
    "EscrowDisputePending",
    "EscrowDisputeTimedOut",
    "EscrowDisputeWindowClosed",
    "EscrowDisputeWindowOpen",
    "EscrowEvidenceNotAttested",
    "EscrowInvalidReadingSignature",
    "EscrowNoArbiter",
    "EscrowNotArbiter",
    "EscrowNotParty",
]


def test_the_generated_errors_include_the_dispute_and_token_errors() -> None:
    # Guards the parametrisation below against an empty or stale module.
    assert {*DISPUTE_ERRORS, "EscrowUnsupportedToken", "AnchorBrandRevoked"} <= set(PROJECT_ERRORS)


@pytest.mark.parametrize("name", PROJECT_ERRORS)
def test_every_project_error_has_a_sentence(name: str) -> None:
    message = revert_message(name)
    assert message, f"api/errors.py has no message for {name}"
    assert name not in message and len(message.split()) >= 4


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        # The words are the error's NatSpec @notice, the one source of revert text.
        ("EscrowUnsupportedToken", 422, "nor on the admin's allowlist"),
        ("EscrowInvalidDurations", 422, "disputeTimeout does not fit a uint64"),
        ("EscrowInvalidArbiter", 422, "arbiter"),
        ("EscrowZeroAmount", 422, "greater than zero"),
        *((name, 409, "") for name in DISPUTE_ERRORS),
    ],
)
def test_status_and_body(name: str, status: int, words: str) -> None:
    cls = getattr(se, name)
    exc = cls(name, dict.fromkeys(cls.arg_names, 2**60), None)
    body = revert_body(exc)
    assert revert_status(exc) == status
    assert body["detail"].startswith("the contract refused: ") and words in body["detail"]
    assert body["error"] == name
    # Large integers travel as strings so JavaScript clients keep every digit.
    assert body["args"] == dict.fromkeys(cls.arg_names, str(2**60))
