"""Request dependencies: the DB session, the authenticated principal, role checks, the chain."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.errors import Conflict, Forbidden, Unauthorized
from api.openapi_doc import answers
from api.rate_limit import Bucket
from api.settings import ApiSettings
from api.state import AppState, ChainAccess
from store import read_only, transaction
from store.models import ApiKey, Principal, Role
from store.principals import live_api_key, mark_used, needs_marking

_LOGGER = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="API key as `Authorization: Bearer ct_...`")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key as `X-API-Key: ct_...`"
)


def get_state(request: Request) -> AppState:
    """The AppState create_app attached to the application."""
    state: AppState = request.app.state.chaintrace
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> ApiSettings:
    """The API's settings."""
    return state.settings


@answers(502, 503)
def get_chain(state: StateDep) -> ChainAccess:
    """The optional chain connection and its deployment."""
    return state.chain


def get_session(request: Request, state: StateDep) -> Iterator[Session]:
    """One session per request; endpoints that write commit it themselves before answering.

    A GET or HEAD reads in a read-only transaction: on SQLite it then neither waits for the
    writers (the gateway, the anchoring worker) nor holds them up; on PostgreSQL a write in it
    fails.
    """
    with state.sessions() as session:
        if request.method in ("GET", "HEAD"):
            read_only(session)
        yield session


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
ChainDep = Annotated[ChainAccess, Depends(get_chain)]
SessionDep = Annotated[Session, Depends(get_session)]


@answers(401, 429)
def get_current_principal(
    request: Request,
    state: StateDep,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key_header)],
) -> Principal:
    """The principal whose live API key the request carries, else 401.

    A wrong key counts against the client's failure budget, and once it is spent a wrong key
    gets 429. A right key is never refused for others' failures: behind one NAT or proxy
    address, a few strangers' bad requests must not lock every user out (a key is 256 random
    bits: the budget bounds the load of failed lookups, not the odds of a guess). A missing
    key guesses nothing and is not counted. 429 also when the key spent its write budget.
    """
    limits = state.rate_limits
    secret = bearer.credentials if bearer is not None else api_key
    if not secret:
        raise Unauthorized("missing API key: send `Authorization: Bearer ct_...` or `X-API-Key`")
    key = live_api_key(session, secret.strip())
    if key is None:
        client = limits.client(request)
        limits.check(Bucket.AUTH_FAILURES, client)
        limits.hit(Bucket.AUTH_FAILURES, client)
        raise Unauthorized("unknown or revoked API key")  # expired, or its principal disabled
    principal = key.principal
    limits.write(request.method, principal.id)
    if request.method in ("GET", "HEAD"):
        _mark_used_apart(state, key)
    else:
        # The request's own transaction: on SQLite it already holds the write lock, which a
        # second transaction would wait for in vain. Kept if the endpoint commits.
        mark_used(session, key)
    return principal


def _mark_used_apart(state: AppState, key: ApiKey) -> None:
    """Record a read's use of the key (at most every few minutes) in a transaction of its own:
    a GET's session is read-only (and holds no lock); a failure must not fail the request."""
    if not needs_marking(key):
        return
    try:
        with transaction(state.sessions) as session:
            mark_used(session, key)
    except SQLAlchemyError as exc:
        _LOGGER.warning("could not record the use of API key %d: %s", key.id, exc)


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


@answers(401, 429)
def get_optional_principal(
    request: Request,
    state: StateDep,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key_header)],
) -> Principal | None:
    """None without a key (a public read); with one, its principal exactly as
    get_current_principal decides (a wrong key is 401, never read as no key)."""
    if not (bearer is not None and bearer.credentials) and not api_key:
        return None
    return get_current_principal(request, state, session, bearer, api_key)


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only principals with one of `roles` through (403 otherwise)."""
    names = " or ".join(role.value for role in roles)

    @answers(403)
    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"this needs the {names} role; your key's role is {principal.role}")
        return principal

    return check


AdminPrincipal = Annotated[Principal, Depends(require_role(Role.ADMIN))]
BrandPrincipal = Annotated[Principal, Depends(require_role(Role.BRAND))]
CarrierPrincipal = Annotated[Principal, Depends(require_role(Role.CARRIER))]
BuyerPrincipal = Annotated[Principal, Depends(require_role(Role.BUYER))]


def wallet_of(principal: Principal) -> str:
    """The principal's wallet address, or 409 when it has none (signing flows need one)."""
    if principal.wallet_address is None:
        pid = principal.id
        raise Conflict(
            f"principal {pid} has no wallet address; an admin sets one (PATCH /principals/{pid})"
        )
    return principal.wallet_address
