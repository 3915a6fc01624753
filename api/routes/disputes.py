"""Disputes: a party's unsigned openDispute / submitEvidence and the arbiter's resolveDispute.

The dispute's state (GET) is the chain follower's view in the store; the transaction builders
read the chain itself, as building needs the escrow's current record.

Every transaction is simulated (eth_call from the user's wallet) before it is returned, so a
call the escrow would refuse answers 409/422 with the contract's reason instead of a wallet's
failed transaction. Evidence is built from the stored reading: its fields and device signature,
and its Merkle proof to the attested evidence root, recomputed from the readings the settlement
worker used (and checked against the root the escrow holds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.types import TxParams

from api.chain_access import shipment_escrow, shipment_escrow_v2
from api.deps import ChainDep, CurrentPrincipal, SessionDep, wallet_of
from api.errors import (
    ApiError,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    revert_message,
    revert_status,
)
from api.escrow_view import arbiter, as_of, evidence, followed
from api.openapi_doc import errors
from api.schemas.common import EthTx, UnsignedTx
from api.schemas.disputes import DisputePublic, EvidenceIn, ResolutionIn
from api.signing import trace_anchor_domain
from api.state import ChainAccess
from chain.clients import (
    EscrowClient,
    ShipmentEscrowClient,
    ShipmentEscrowV2Client,
    ShipmentState,
    ShipmentStateV2,
    ShipmentView,
    ShipmentViewV2,
)
from chain.errors import ContractRevert
from chain.settlement.attestation import (
    DeliveryError,
    delivery_facts,
    reading_of,
    verified_digest,
    verified_terms,
)
from chain.settlement.attestation_v2 import shipment_facts, verified_terms_v2
from core.device_set import device_proof as device_set_proof
from core.eip712 import Domain, TermsV2
from core.escrow_times import dispute_ends_at, dispute_times_out_at
from core.evidence import evidence_leaf, evidence_root, evidence_tree
from store.models import Principal, Shipment
from store.models import Reading as ReadingRow
from store.shipment_access import is_party, shipment_for_write, terms_of, visible_shipment

router = APIRouter(prefix="/shipments/{shipment_id}/dispute", tags=["disputes"])

_ZERO = "0x0000000000000000000000000000000000000000"


class _Refused(ApiError):
    """The escrow would revert: 409 when the state is in the way, 422 when the input is wrong."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code


def _when(ts: Any) -> str:
    return f"{datetime.fromtimestamp(int(ts), UTC).isoformat()} ({int(ts)})"


def _refusal(exc: ContractRevert) -> _Refused:
    """A sentence for the escrow's dispute errors (the error's name stays in the text): the
    notice, or for the errors whose arguments a user needs, a sentence that shows them."""
    a = exc.args_dict
    name = exc.name
    if name == "EscrowInvalidState":
        state = ShipmentState(int(a["state"])).name.lower()
        text, status = f"the escrow holds this shipment as {state}, which does not allow this", 409
    elif name == "EscrowDisputeWindowClosed":
        text, status = f"the dispute window closed at {_when(a['endedAt'])}", 409
    elif name == "EscrowDisputeTimedOut":
        timed_out = _when(a["timedOutAt"])
        text, status = f"the dispute timed out at {timed_out}; settle() applies the split", 409
    elif name == "EscrowInvalidSplit":
        text, status = f"the payout {a['payout']} exceeds the deposit {a['amount']}", 422
    else:  # the rest: the error's NatSpec notice (api.errors.revert_message)
        text = revert_message(name) or str(exc)
        # Evidence whose signature is not its device's is the caller's bad input here.
        status = 422 if name == "EscrowInvalidReadingSignature" else revert_status(exc)
    return _Refused(status, f"the contract refused: {text} ({name})")


def _checked(escrow: EscrowClient, build: Callable[[], TxParams]) -> EthTx:
    """The built transaction, once an eth_call from its sender shows the escrow accepts it.

    Building estimates gas, which runs the call too: a revert there gets the same sentence.
    """
    try:
        tx = build()
        escrow.simulate(tx)
    except ContractRevert as exc:
        raise _refusal(exc) from None
    return EthTx.of(tx)


def _wallet_role(principal: Principal, shipment: Shipment) -> tuple[str, str]:
    """(wallet, "buyer" | "payee" | "carrier" (v2) | "arbiter") of the caller for the terms."""
    wallet = wallet_of(principal)
    terms = terms_of(shipment)
    roles = [("buyer", terms.buyer), ("payee", terms.payee)]
    if isinstance(terms, TermsV2):
        roles.append(("carrier", terms.carrier))
    for role, address in (*roles, ("arbiter", terms.arbiter)):
        if address != _ZERO and wallet.lower() == address.lower():
            return wallet, role
    return wallet, ""


def _party_wallet(
    principal: Principal, shipment: Shipment, what: str, roles: tuple[str, ...] = ("buyer", "payee")
) -> str:
    wallet, role = _wallet_role(principal, shipment)
    if role not in roles:
        named = " or the ".join(f"{role}'s" for role in roles)
        raise Forbidden(f"only the {named} wallet may {what}; yours is {wallet}")
    return wallet


def _escrow(chain: ChainAccess, shipment: Shipment) -> EscrowClient:
    """The shipment's own escrow release."""
    return shipment_escrow_v2(chain) if shipment.escrow_version == 2 else shipment_escrow(chain)


def _shipment_for(session: Session, principal: Principal, shipment_id: str) -> Shipment:
    """Visible to parties and overseers as usual, and to the arbiter its terms name."""
    shipment = shipment_for_write(session, shipment_id)
    if is_party(shipment, principal) or _wallet_role_safe(principal, shipment) == "arbiter":
        return shipment
    return visible_shipment(session, principal, shipment_id)  # overseers, else 404


def _wallet_role_safe(principal: Principal, shipment: Shipment) -> str:
    if principal.wallet_address is None:
        return ""
    return _wallet_role(principal, shipment)[1]


def _deposit(escrow: EscrowClient, shipment: Shipment) -> int:
    """The deposit the shipment's escrow holds (409 if none)."""
    view: ShipmentView | ShipmentViewV2
    if isinstance(escrow, ShipmentEscrowV2Client):
        view = escrow.shipment(shipment.shipment_id)
    else:
        assert isinstance(escrow, ShipmentEscrowClient)
        view = escrow.shipment(shipment.shipment_id)
    if view.state.value == 0:
        raise Conflict("the escrow holds no deposit for this shipment")
    return view.amount


def _view(escrow: ShipmentEscrowClient, shipment: Shipment) -> ShipmentView:
    view = escrow.shipment(shipment.shipment_id)
    if view.state is ShipmentState.NONE:
        raise Conflict("the escrow holds no deposit for this shipment")
    return view


# ---------------------------------------------------------------- evidence


def evidence_digests(
    session: Session, shipment: Shipment, view: ShipmentView, domain: Domain
) -> list[bytes]:
    """The reading digests of the attested evidence, as chain.settlement.attestation selects them.

    chain.settlement.attestation.delivery_facts selects them: the shipment's devices' verified
    readings inside its window (shipping..receiving). A set whose root is not the escrow's
    evidenceRoot is refused (409): a proof from it would not verify.
    """
    try:
        facts = delivery_facts(session, shipment, verified_terms(shipment, view.terms_hash), domain)
    except DeliveryError as exc:
        raise Conflict(f"the shipment's evidence cannot be rebuilt: {exc}") from None
    digests = list(facts.evidence)
    if evidence_root(digests) != view.evidence_root:
        raise Conflict(
            "the stored readings do not reproduce the attested evidence root "
            f"0x{view.evidence_root.hex()}: no proof can be built"
        )
    return digests


def _evidence_row(session: Session, shipment: Shipment, body: EvidenceIn) -> ReadingRow:
    row = session.scalar(
        select(ReadingRow).where(
            ReadingRow.device_address == body.device,
            ReadingRow.seq == body.seq,
            ReadingRow.shipment_id == shipment.id,
        )
    )
    if row is None:
        raise NotFound(f"no reading {body.seq} of device {body.device} in this shipment")
    return row


# ---------------------------------------------------------------- routes


@router.get("", response_model=DisputePublic, responses=errors(404, 409))
def dispute(shipment_id: str, session: SessionDep, principal: CurrentPrincipal) -> DisputePublic:
    """The escrow's dispute state and the evidence on record, as the chain follower read them."""
    at = as_of(session)  # first: state and evidence read below include every block up to it
    shipment = _shipment_for(session, principal, shipment_id)
    f = followed(session, shipment, at)
    if f is None:
        raise Conflict("the chain follower has not read any block yet; ask again shortly")
    view = f.view  # only a deposit under the shipment's own terms hash (store.chain_view)
    if view is None:
        raise Conflict(f"the escrow holds no deposit for this shipment as of block {f.as_of.block}")
    terms = f.terms
    attested_at, disputed_at = f.attested_at(session), f.disputed_at(session)
    return DisputePublic(
        state=view.state,
        as_of_block=f.as_of.block,
        as_of_time=f.as_of.time,
        arbiter=arbiter(f),
        evidence_root=view.evidence_root,
        amount_wei=str(view.amount or 0),
        payout_wei=str(view.payout or 0),
        refund_wei=str(view.refund or 0),
        dispute_window_ends_at=None
        if terms is None
        else dispute_ends_at(attested_at, terms.dispute_window),
        disputed_at=disputed_at,
        dispute_times_out_at=None
        if terms is None
        else dispute_times_out_at(disputed_at, terms.dispute_timeout),
        evidence=evidence(session, shipment),
    )


@router.get("/open-tx", response_model=UnsignedTx, responses=errors(403, 404, 409))
def open_tx(
    shipment_id: str, session: SessionDep, chain: ChainDep, principal: CurrentPrincipal
) -> UnsignedTx:
    """The unsigned openDispute for the buyer's or the payee's wallet (within the window)."""
    shipment = visible_shipment(session, principal, shipment_id)
    wallet = _party_wallet(principal, shipment, "open a dispute")
    escrow = _escrow(chain, shipment)
    tx = _checked(escrow, lambda: escrow.build_open_dispute(wallet, shipment.shipment_id))
    return UnsignedTx(
        description=f"ShipmentEscrow v{shipment.escrow_version}.openDispute for shipment "
        f"{shipment.shipment_id}",
        tx=tx,
    )


@router.post("/evidence-tx", response_model=UnsignedTx, responses=errors(403, 404, 409))
def evidence_tx(
    shipment_id: str,
    body: EvidenceIn,
    session: SessionDep,
    chain: ChainDep,
    principal: CurrentPrincipal,
) -> UnsignedTx:
    """The unsigned submitEvidence for a stored reading, with its proof to the attested root.

    On escrow v2 any verified reading of a device in the shipment's set may be put on record,
    with the device's proof to devicesRoot; it carries a proof to the attested evidence root
    when it is part of it, and the escrow records whether it is (inAttestedEvidence).
    """
    shipment = visible_shipment(session, principal, shipment_id)
    # Escrow v2 takes evidence from the carrier too (it operates the devices).
    parties = ("buyer", "payee", "carrier") if shipment.escrow_version == 2 else ("buyer", "payee")
    wallet = _party_wallet(principal, shipment, "submit evidence", parties)
    if shipment.escrow_version == 2:
        return _evidence_tx_v2(session, chain, shipment, wallet, body)
    escrow = shipment_escrow(chain)
    view = _view(escrow, shipment)
    if not view.attested_at:
        raise Conflict("the shipment is not attested yet: there is no evidence root")
    domain = trace_anchor_domain(chain)
    row = _evidence_row(session, shipment, body)
    digest = verified_digest(row, domain)
    if digest is None:
        raise FieldError(["body"], "the stored reading's signature or digest does not verify")
    digests = evidence_digests(session, shipment, view, domain)
    if digest not in digests:
        raise Conflict("this reading is outside the shipment window the oracle attested")
    proof = evidence_tree(digests).proof(evidence_leaf(digest))
    reading, signature = reading_of(row), bytes(row.signature)
    tx = _checked(
        escrow,
        lambda: escrow.build_submit_evidence(
            wallet, shipment.shipment_id, reading, signature, proof
        ),
    )
    return UnsignedTx(
        description=f"ShipmentEscrow.submitEvidence: reading {row.seq} of {row.device_address} "
        f"(0x{digest.hex()}) for shipment {shipment.shipment_id}",
        tx=tx,
    )


def _evidence_tx_v2(
    session: Session, chain: ChainAccess, shipment: Shipment, wallet: str, body: EvidenceIn
) -> UnsignedTx:
    escrow = shipment_escrow_v2(chain)
    view = escrow.shipment(shipment.shipment_id)
    if view.state is ShipmentStateV2.NONE:
        raise Conflict("the escrow holds no deposit for this shipment")
    devices = [d.address for d in shipment.devices]
    if body.device not in devices:
        raise NotFound(f"no device {body.device} in this shipment")
    row = session.scalar(
        select(ReadingRow).where(
            ReadingRow.device_address == body.device, ReadingRow.seq == body.seq
        )
    )
    if row is None:
        raise NotFound(f"no reading {body.seq} of device {body.device}")
    domain = trace_anchor_domain(chain)
    digest = verified_digest(row, domain)
    if digest is None:
        raise FieldError(["body"], "the stored reading's signature or digest does not verify")
    evidence_proof: list[bytes] = []
    if view.attested_at:
        digests = _attested_digests_v2(session, chain, shipment, view, domain)
        if digest in digests:
            evidence_proof = evidence_tree(digests).proof(evidence_leaf(digest))
    reading, signature = reading_of(row), bytes(row.signature)
    device_proof = device_set_proof(devices, body.device)
    tx = _checked(
        escrow,
        lambda: escrow.build_submit_evidence(
            wallet, shipment.shipment_id, reading, signature, device_proof, evidence_proof
        ),
    )
    part = "part of" if evidence_proof else "not part of"
    return UnsignedTx(
        description=f"ShipmentEscrow v2.submitEvidence: reading {row.seq} of "
        f"{row.device_address} (0x{digest.hex()}), {part} the attested evidence, for shipment "
        f"{shipment.shipment_id}",
        tx=tx,
    )


def _attested_digests_v2(
    session: Session, chain: ChainAccess, shipment: Shipment, view: ShipmentViewV2, domain: Domain
) -> list[bytes]:
    """The reading digests behind the attested evidence root: as the settlement worker stored
    them at attestation, else rebuilt by core.shipment_report as of the attestation's block;
    empty when neither gives the attested root (then each reading is recorded as not attested).
    """
    stored = shipment.attested_evidence
    if stored:
        kept = [bytes(stored[i : i + 32]) for i in range(0, len(stored), 32)]
        if evidence_root(kept) == view.evidence_root:
            return kept
    try:
        terms = verified_terms_v2(shipment, view.terms_hash)
        facts = shipment_facts(
            session, shipment, terms, domain, now=view.attested_at, funded_at=view.funded_at
        )
    except DeliveryError:
        return []
    digests = list(facts.report.evidence)
    return digests if evidence_root(digests) == view.evidence_root else []


@router.post("/resolve-tx", response_model=UnsignedTx, responses=errors(403, 404, 409))
def resolve_tx(
    shipment_id: str,
    body: ResolutionIn,
    session: SessionDep,
    chain: ChainDep,
    principal: CurrentPrincipal,
) -> UnsignedTx:
    """The unsigned resolveDispute for the arbiter named in the terms: payout to the payee."""
    shipment = _shipment_for(session, principal, shipment_id)
    wallet, role = _wallet_role(principal, shipment)
    if role != "arbiter":
        raise Forbidden(f"only the arbiter named in the terms may resolve; yours is {wallet}")
    escrow = _escrow(chain, shipment)
    amount = _deposit(escrow, shipment)
    if body.payout_wei > amount:
        raise FieldError(
            ["body", "payoutWei"], f"exceeds the deposit of {amount} wei held in escrow"
        )
    tx = _checked(
        escrow,
        lambda: escrow.build_resolve_dispute(wallet, shipment.shipment_id, body.payout_wei),
    )
    return UnsignedTx(
        description=f"ShipmentEscrow.resolveDispute for shipment {shipment.shipment_id}: "
        f"{body.payout_wei} wei to the payee, {amount - body.payout_wei} wei to the buyer",
        tx=tx,
    )
