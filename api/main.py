"""Builds the FastAPI application: state, error handlers, routers."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine
from web3 import HTTPProvider, Web3

from api.answer_cache import AnswerCache, AnswerCacheMiddleware
from api.errors import install_error_handlers
from api.limits import BodyGuard
from api.linkset_view import LinksetHeader
from api.openapi_doc import document_errors
from api.rate_limit import RateLimits
from api.resolver_http import ResolverHttp
from api.routes import (
    audit_log,
    batches,
    brand_keys,
    brands,
    code_reports,
    commissionings,
    custody,
    devices,
    disputes,
    epcis_capture,
    epcis_query,
    epcis_subscriptions,
    erasures,
    health,
    links,
    locations,
    mutual_release,
    principals,
    product_content,
    products,
    qr,
    resolver,
    scans,
    shipment_events,
    shipment_report,
    shipments,
    verifier_script,
    withdrawals,
)
from api.scan_counter import ScanCounter
from api.schemas.epcis import EpcisProblem
from api.schemas.events import MinimalEventIn
from api.schemas.resolver import ResolvedItem, ResolvedProduct, UnresolvedItem
from api.security_headers import DOCS_ASSETS, SecurityHeaders
from api.settings import ApiSettings
from api.state import AppState, ChainAccess
from chain.toolchain.deploy import Deployment
from core.recursion import bound_recursion_limit
from store.db import make_engine, session_factory, sqlite_url

_DESCRIPTION = """
Traceability and settlement API of chaintrace.

Writes need an API key (`Authorization: Bearer ct_...` or `X-API-Key`) bound to one principal and
role. The API never holds a private key: it returns EIP-712 payloads and unsigned transactions for
the user's own wallet to sign. The consumer resolver (`/01/{gtin}`, `/01/{gtin}/10/{lot}`,
`/01/{gtin}/21/{serial}`, compressed links, `/.well-known/gs1resolver`; docs/resolver.md) and
`/qr/...` are public.
"""


def create_app(
    settings: ApiSettings,
    *,
    engine: Engine | None = None,
    w3: Web3 | None = None,
    deployment: Deployment | None = None,
) -> FastAPI:
    """The application for `settings`; pass `engine` / `w3` to share already-built ones.

    `deployment` (an already verified one, with `w3`) saves reading DEPLOYMENTS_FILE.
    """
    bound_recursion_limit()  # web3's py_ecc raised it to 100,000: see core.recursion
    owns_engine = engine is None
    if engine is None:
        engine = make_engine(settings.database_url or sqlite_url())
    if w3 is None and settings.chain_rpc_url:
        w3 = Web3(HTTPProvider(settings.chain_rpc_url, request_kwargs={"timeout": 10}))
    sessions = session_factory(engine)
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        chain=ChainAccess(settings, w3, deployment if w3 is not None else None),
        rate_limits=RateLimits(settings),
        scans=ScanCounter(
            sessions,
            enabled=settings.scan_counting_enabled,
            flush_seconds=settings.scan_flush_seconds,
            max_keys=settings.scan_buffer_max,
        ),
        answers=AnswerCache(settings.resolver_cache_seconds, settings.resolver_cache_entries),
        owns_engine=owns_engine,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.scans.start()
        try:
            yield
        finally:
            state.scans.close()  # the last flush, before the engine goes
            state.rate_limits.close()
            if state.owns_engine:
                state.engine.dispose()

    # Swagger UI (/docs) and ReDoc (/redoc) from fastapi-offline's own copies, under
    # DOCS_ASSETS: they work offline and the docs' CSP names no other origin.
    app = FastAPIOffline(
        title="chaintrace",
        version="1",
        description=_DESCRIPTION,
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
    app.state.chaintrace = state
    # The last added runs first: headers go on every answer, the body guard's refusals included.
    app.state.body_refusals = body_refusals = Counter[str]()
    app.add_middleware(AnswerCacheMiddleware)  # inside ResolverHttp: its ETag, 304, HEAD
    app.add_middleware(ResolverHttp)
    app.add_middleware(BodyGuard, refused=body_refusals)
    app.add_middleware(LinksetHeader, base_url=settings.base_url)
    https = settings.base_url.startswith("https://")
    app.add_middleware(SecurityHeaders, https=https, rpc_url=settings.public_rpc_url)
    install_error_handlers(app)
    for module in (
        health,
        principals,
        brands,
        brand_keys,
        products,
        commissionings,
        devices,
        shipments,
        custody,
        shipment_report,
        shipment_events,
        disputes,
        mutual_release,
        withdrawals,
        batches,
        erasures,
        audit_log,
        qr,
        resolver,
        epcis_capture,
        epcis_query,
        epcis_subscriptions,
        locations,
        links,
        code_reports,
        product_content,
        verifier_script,
        scans,
    ):
        app.include_router(module.router)
    # Last: a compressed Digital Link is one path segment, which must not shadow another route.
    app.include_router(resolver.compressed_router)
    document_errors(
        app,
        models=[EpcisProblem, MinimalEventIn, ResolvedItem, ResolvedProduct, UnresolvedItem],
    )
    return app
