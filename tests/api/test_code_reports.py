"""The verdict's pages for unknown codes, and "report this code" into the brand's inbox.

A registered brand's prefix with an unknown serial (or another lot) gets "<Brand> has not
registered this code" and a report form (plain HTML, and JSON); a GTIN no brand registered gets
a neutral page, never a warning. Reports: public, rate limited per client, bounded per code,
read by the brand holding the prefix only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.main import create_app
from api.settings import ApiSettings
from store.code_reports import MAX_STORED_PER_CODE
from store.models import CodeReport, Item
from tests.api.flows import (
    OTHER_PREFIX,
    PREFIX,
    PUBLIC_BASE_URL,
    Api,
    auth,
    gtin13,
    ok,
    register_brand_on_chain,
)

GTIN = "0" + gtin13(PREFIX, "24680")  # GTIN-14, as links are rebuilt
STRANGER_GTIN = gtin13(OTHER_PREFIX, "1")
UNKNOWN = f"/01/{GTIN}/21/NOPE"
HTML = {"Accept": "text/html"}


@dataclass
class Cast:
    """The app under test (rate limits as given), the brand's key and its registered item."""

    api: Api
    app: FastAPI
    client: TestClient
    brand_key: str


def _app(api: Api, deployments_file: Path | None, **overrides: Any) -> FastAPI:
    settings = ApiSettings(
        database_url=str(api.engine.url.render_as_string(hide_password=False)),
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=deployments_file or Path("/nonexistent/deployments.json"),
        **overrides,
    )
    w3 = api.chain.w3 if api.chain is not None and deployments_file is not None else None
    return create_app(settings, engine=api.engine, w3=w3)


def _client(app: FastAPI, address: str = "198.51.100.1") -> TestClient:
    """A client of the app seen from `address` (each address has its own budget and hash)."""
    return TestClient(app, client=(address, 40000))


@pytest.fixture
def cast(api: Api, deployments_file: Path) -> Iterator[Cast]:
    """Acme Foods registered on chain with one item G1; reports limited to 2 per minute."""
    assert api.chain is not None
    key = api.brand(api.chain.brand, name="Acme Foods")
    api.product(key, GTIN)
    api.commission(key, api.chain.brand, GTIN, ["G1"])
    register_brand_on_chain(api)
    app = _app(api, deployments_file, rate_limit_code_reports="1000/minute")
    with _client(app) as client:
        yield Cast(api, app, client, key)


def _report(client: TestClient, link: str = UNKNOWN, **fields: Any) -> Any:
    return client.post("/reports", json={"link": link, **fields})


def _inbox(client: TestClient, key: str, **params: Any) -> Any:
    return ok(client.get("/reports", params=params, headers=auth(key)))


def test_a_registered_brands_unknown_serial_names_the_brand_and_offers_the_report(
    cast: Cast,
) -> None:
    page = cast.client.get(UNKNOWN, headers=HTML)
    assert page.status_code == 404
    assert "Acme Foods has not registered this code" in page.text
    assert "Report this code" in page.text
    assert '<form method="post" action="https://id.example.test/reports/form">' in page.text
    assert f'name="link" value="{UNKNOWN}"' in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    body = cast.client.get(UNKNOWN, params={"format": "json"}).json()
    assert body["authentic"]["verdict"] == "not_recognised"
    assert body["authentic"]["brand"] == {"name": "Acme Foods", "companyPrefix": PREFIX}
    assert body["authentic"]["code"] == {"gtin": GTIN, "serial": "NOPE", "lot": None}
    assert body["authentic"]["report"] == {
        "url": f"{PUBLIC_BASE_URL}/reports",
        "formUrl": f"{PUBLIC_BASE_URL}/reports/form",
        "link": UNKNOWN,
    }


def test_a_gtin_no_brand_registered_gets_a_neutral_page_and_no_report(cast: Cast) -> None:
    link = f"/01/{STRANGER_GTIN}/21/X1"
    page = cast.client.get(link, headers=HTML)
    assert page.status_code == 404
    assert "This product number is not registered with chaintrace" in page.text
    assert f"<dd>0{STRANGER_GTIN}</dd>" in page.text and "<dd>X1</dd>" in page.text
    for warning in ("not registered this code", "counterfeit", "badge warn", "<form", "Report"):
        assert warning.lower() not in page.text.lower(), warning
    authentic = cast.client.get(link, params={"format": "json"}).json()["authentic"]
    assert authentic["verdict"] == "unregistered"
    assert authentic["brand"] is None and authentic["report"] is None
    refused = _report(cast.client, link)
    assert refused.status_code == 404
    assert "no brand to report the code to" in refused.json()["detail"]


def test_a_lot_other_than_the_items_is_not_recognised_and_reportable(cast: Cast) -> None:
    with Session(cast.api.engine) as session:
        session.execute(update(Item).where(Item.serial == "G1").values(lot="L1"))
        session.commit()
    wrong = f"/01/{GTIN}/10/L2/21/G1"
    body = cast.client.get(wrong, params={"format": "json"}).json()
    assert body["authentic"]["verdict"] == "not_recognised"
    assert body["authentic"]["report"]["link"] == wrong
    assert ok(_report(cast.client, wrong), 202)["outcome"] == "stored"
    # The item's own lot, or no lot, is the registered item: nothing to report.
    for real in (f"/01/{GTIN}/10/L1/21/G1", f"/01/{GTIN}/21/G1"):
        refused = _report(cast.client, real)
        assert refused.status_code == 409, real
        assert "registered item" in refused.json()["detail"]
    [report] = _inbox(cast.client, cast.brand_key)["reports"]
    assert (report["gtin"], report["serial"], report["lot"], report["link"]) == (
        GTIN,
        "G1",
        "L2",
        wrong,
    )


def test_the_form_posts_without_javascript_and_redirects_to_a_thank_you(cast: Cast) -> None:
    form = {"link": UNKNOWN, "comment": "Label looks odd", "whereBought": "Market stall, Köln"}
    answer = cast.client.post("/reports/form", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{UNKNOWN}?reported=1#report"
    thanks = cast.client.get(answer.headers["location"], headers=HTML)
    assert "Your report of this code reached Acme Foods" in thanks.text
    assert "<form" not in thanks.text  # a reload is a GET: nothing is posted again
    [report] = _inbox(cast.client, cast.brand_key)["reports"]
    assert (report["comment"], report["whereBought"]) == ("Label looks odd", "Market stall, Köln")
    assert report["timesReported"] == 1 and report["handledAt"] is None


def test_a_form_refusal_is_a_page_saying_why(cast: Cast) -> None:
    answer = cast.client.post("/reports/form", data={"link": f"/01/{GTIN}/21/G1"})
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("text/html")
    assert "Your report was not sent" in answer.text and "registered item" in answer.text
    extra = cast.client.post("/reports/form", data={"link": UNKNOWN, "email": "x@example.com"})
    assert extra.status_code == 422 and "not a field of the report form" in extra.text
    bad = cast.client.post(
        "/reports/form", content=b"link=%ff", headers={"Content-Type": "text/plain"}
    )
    assert bad.status_code == 422
    assert _inbox(cast.client, cast.brand_key)["reports"] == []


def test_repeats_are_counted_not_stored_and_the_inbox_counts_per_code(cast: Cast) -> None:
    first = ok(_report(cast.client, comment="one"), 202)
    assert first == {"outcome": "stored", "timesReported": 1}
    again = ok(_report(cast.client, comment="two"), 202)
    assert again == {"outcome": "repeated", "timesReported": 2}
    # The same code as a URL, with a GTIN-13 and a query: the same code, the same client.
    as_url = f"https://scanner.example/01/{GTIN[1:]}/21/NOPE?x=1"  # its GTIN-13 form
    assert ok(_report(cast.client, as_url), 202)["outcome"] == "repeated"
    other = ok(_report(_client(cast.app, "203.0.113.9"), comment="three"), 202)
    assert other == {"outcome": "stored", "timesReported": 4}
    ok(_report(cast.client, f"/01/{GTIN}/21/NOPE2"), 202)
    page = _inbox(cast.client, cast.brand_key, limit=2)
    assert [(r["serial"], r["comment"], r["timesReported"]) for r in page["reports"]] == [
        ("NOPE2", None, 1),
        ("NOPE", "three", 4),
    ]
    rest = _inbox(cast.client, cast.brand_key, limit=2, before=page["nextBefore"])
    assert [(r["comment"], r["timesReported"]) for r in rest["reports"]] == [("one", 4)]
    assert rest["nextBefore"] is None


def test_reports_of_one_code_are_bounded_however_many_clients(cast: Cast) -> None:
    clients = MAX_STORED_PER_CODE + 2
    outcomes = [
        ok(_report(_client(cast.app, f"192.0.2.{n}")), 202)["outcome"] for n in range(clients)
    ]
    assert outcomes == ["stored"] * MAX_STORED_PER_CODE + ["counted"] * 2
    reports = _inbox(cast.client, cast.brand_key, limit=200)["reports"]
    assert len(reports) == MAX_STORED_PER_CODE
    assert {r["timesReported"] for r in reports} == {clients}


def test_hostile_text_is_bounded_cleaned_and_returned_as_plain_text(cast: Cast) -> None:
    too_long = _report(cast.client, comment="x" * 501)
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "comment"]
    assert _report(cast.client, whereBought="y" * 201).status_code == 422
    assert _report(cast.client, comment="nul\u0000").status_code == 422  # JSON NUL: the guard
    script = "<script>alert(1)</script> \u202eevil\u200b\x1b[31m\r\nnext"
    form = {"link": UNKNOWN, "comment": script + "\x00"}
    assert cast.client.post("/reports/form", data=form, follow_redirects=False).status_code == 303
    [report] = _inbox(cast.client, cast.brand_key)["reports"]
    assert report["comment"] == "<script>alert(1)</script> evil[31m\nnext"
    # The form's oversized text is refused on a page, too.
    page = cast.client.post("/reports/form", data={"link": UNKNOWN, "comment": "z" * 501})
    assert page.status_code == 422 and "comment" in page.text


def test_a_hostile_serial_is_escaped_on_the_page(cast: Cast) -> None:
    link = f"/01/{GTIN}/21/%3Cb%3E%22x"
    page = cast.client.get(link, headers=HTML).text
    assert "Acme Foods has not registered this code" in page
    assert "<b>" not in page and "&lt;b&gt;" in page
    assert f'value="{link}"' in page  # the link as a percent-encoded path, quotes and all


def test_a_brand_reads_its_own_reports_only_and_other_roles_none(cast: Cast) -> None:
    api = cast.api
    assert api.chain is not None
    ok(_report(cast.client), 202)
    other = api.brand(api.chain.stranger, prefix=OTHER_PREFIX, name="Other Brand")
    assert _inbox(cast.client, other) == {"reports": [], "nextBefore": None}
    [report] = _inbox(cast.client, cast.brand_key)["reports"]
    stolen = cast.client.patch(
        f"/reports/{report['id']}", json={"handled": True}, headers=auth(other)
    )
    assert stolen.status_code == 404
    for role in ("carrier", "buyer", "auditor"):
        key = api.principal(role)
        assert cast.client.get("/reports", headers=auth(key)).status_code == 403, role
    assert cast.client.get("/reports", headers=auth(api.admin_key)).status_code == 403
    assert cast.client.get("/reports").status_code == 401


def test_a_brand_marks_a_report_handled(cast: Cast) -> None:
    ok(_report(cast.client), 202)
    [report] = _inbox(cast.client, cast.brand_key)["reports"]
    path = f"/reports/{report['id']}"
    handled = ok(cast.client.patch(path, json={"handled": True}, headers=auth(cast.brand_key)))
    assert handled["handledAt"] is not None
    assert _inbox(cast.client, cast.brand_key, handled="false")["reports"] == []
    assert len(_inbox(cast.client, cast.brand_key, handled="true")["reports"]) == 1
    reopened = ok(cast.client.patch(path, json={"handled": False}, headers=auth(cast.brand_key)))
    assert reopened["handledAt"] is None


def test_reports_are_rate_limited_per_client(cast: Cast, deployments_file: Path) -> None:
    app = _app(cast.api, deployments_file, rate_limit_code_reports="2/minute")
    client = _client(app, "198.51.100.77")
    assert [_report(client, f"{UNKNOWN}{n}").status_code for n in range(2)] == [202, 202]
    spent = _report(client, f"{UNKNOWN}9")
    assert spent.status_code == 429 and int(spent.headers["retry-after"]) >= 1
    form = client.post("/reports/form", data={"link": UNKNOWN}, follow_redirects=False)
    assert form.status_code == 429 and "Too many reports" in form.text
    # Another client has its own budget; the refused ones stored nothing.
    assert _report(_client(app, "198.51.100.78"), f"{UNKNOWN}9").status_code == 202
    with Session(cast.api.engine) as session:
        assert len(session.scalars(select(CodeReport)).all()) == 3


def test_without_the_chain_the_page_says_so_and_reports_wait(api_no_chain: Api) -> None:
    client = api_no_chain.client
    page = client.get(UNKNOWN, headers=HTML)
    assert page.status_code == 404
    assert "We cannot check this code right now" in page.text
    assert "<form" not in page.text and "badge warn" not in page.text
    authentic = client.get(UNKNOWN, params={"format": "json"}).json()["authentic"]
    assert authentic["verdict"] is None and authentic["report"] is None
    assert _report(client).status_code == 503
