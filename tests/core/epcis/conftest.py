"""Fixtures: the reference implementation as an oracle, offline."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.core.epcis.reference_oracle import Oracle, reference_prehashes


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[Oracle]:
    """reference(doc, workaround=False): the reference's pre-hash per event (None: it failed)."""
    from pyld import jsonld

    def offline(*_args: Any, **_kwargs: Any) -> Callable[..., Any]:
        def refuse(url: str, options: Any = None) -> Any:
            raise jsonld.JsonLdError(f"offline test: no fetch of {url}", "loading document failed")

        return refuse

    # Contexts the reference does not bundle would be fetched over the network: refuse instead.
    monkeypatch.setattr(jsonld, "requests_document_loader", offline)
    logging.disable(logging.CRITICAL)
    try:
        yield lambda doc, workaround=False: reference_prehashes(doc, workaround)
    finally:
        logging.disable(logging.NOTSET)


@pytest.fixture
def reference_ni() -> Callable[[str], str]:
    """The reference's ni: URI for a pre-hash string."""
    from epcis_event_hash_generator import hash_generator

    return lambda prehash: hash_generator.calculate_hashes_from_pre_hashes([prehash])[0]
