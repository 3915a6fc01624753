"""The /epcis interface against GS1's own OpenAPI document for the EPCIS 2.0 REST binding
(../shared/epcis-rest/openapi.json; skipped, with the reason, where it is absent).

schemathesis generates requests from GS1's document (valid and invalid) and runs every check on
the answers: no server error, every status code documented by the binding, every body and
content type as the binding describes it, valid data accepted, invalid data refused, auth not
ignored. It runs over every operation chaintrace serves: the operations are derived from the
app's own routes under /epcis, mapped onto the binding's paths (the binding's server base is
/epcis), so a newly implemented path is tested without touching this file; binding paths the app
does not serve are left out. Deliberate deviations are listed in DEVIATIONS, each with its reason.

GS1's file is not edited. It is loaded and a copy is patched here, every patch in PATCHES with the
reason (GS1's own defects: patterns OpenAPI does not allow, a oneOf nothing can satisfy, no
security declared...), and schemathesis runs on the copy.

Bounded for `make test`: EXAMPLES examples an operation (and schemathesis's coverage phase, but
for the two capture bodies, whose schemas it would walk for minutes), against the real HTTP server
on a SQLite store holding the standard cast and a real anvil (tests/api/served_support.py).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from api.epcis_problem import QUERY_PARAMETER
from tests.api.served_support import Served
from tests.api.served_support import served as served  # the fixture

EXAMPLES = 25
REPO = Path(__file__).resolve().parents[2]
BINDING = REPO.parent / "shared" / "epcis-rest" / "openapi.json"
PREFIX = "/epcis"  # the binding's server base
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

Document = dict[str, Any]


def _schedule_pattern(number: str) -> str:
    """GS1's query-schedule grammar (a list of numbers and [low-high] ranges) as a regex."""
    element = f"({number}|\\[{number}-{number}\\])"
    return f"^{element}(,{element})*$"


_SCHEDULE_NUMBERS = {
    "Second": "([0-9]|[1-5][0-9])",
    "Minute": "([0-9]|[1-5][0-9])",
    "Hour": "([0-9]|1[0-9]|2[0-3])",
    "DayOfMonth": "([1-9]|[12][0-9]|3[01])",
    "Month": "([1-9]|1[0-2])",
    "DayOfWeek": "[1-7]",
}


def _schedule_patterns(doc: Document) -> None:
    for name, number in _SCHEDULE_NUMBERS.items():
        schema = doc["components"]["schemas"][f"GS1-Query-{name}"]
        schema["pattern"] = _schedule_pattern(number)
        schema["example"] = str(schema["example"])


def _capture_job_errors(doc: Document) -> None:
    job = doc["components"]["schemas"]["CaptureJob"]
    job["allOf"][1] = {"anyOf": job["allOf"][1]["oneOf"]}


def _bearer_key(doc: Document) -> None:
    doc.setdefault("components", {})["securitySchemes"] = {
        "apiKey": {"type": "http", "scheme": "bearer"}
    }
    doc["security"] = [{"apiKey": []}]


def _query_issues(doc: Document) -> None:
    for item in doc["paths"].values():
        get = item.get("get")
        if get is None or "400" in get["responses"]:
            continue
        names = {p.get("$ref", "").rsplit("/", 1)[-1] for p in get.get("parameters", [])}
        if names & {"NextPageToken", "PerPage"}:
            get["responses"]["400"] = {"$ref": "#/components/responses/400QueryIssues"}


def _body_issues(doc: Document) -> None:
    for path in ("/queries", "/queries/{queryName}/subscriptions"):
        doc["paths"][path]["post"]["responses"].setdefault(
            "400", {"$ref": "#/components/responses/400QueryIssues"}
        )


def _problem_answers(doc: Document) -> None:
    answers = doc["components"]["responses"]
    answers["409ResourceAlreadyExistsException"]["content"]["application/problem+json"]["schema"][
        "allOf"
    ][0]["properties"]["status"] = {"type": "integer", "enum": [409], "default": 409}
    subscription = answers["400SubscriptionIssues"]["content"]
    schema = copy.deepcopy(subscription["application/json"]["schema"])
    schema["allOf"][0]["properties"]["type"]["enum"].append(QUERY_PARAMETER)
    subscription["application/problem+json"] = {"schema": schema}


def _link_header(doc: Document) -> None:
    doc["components"]["schemas"]["Link"].pop("format")


def _bare_words(doc: Document) -> None:
    for name in ("BizStep", "Disposition"):
        doc["components"]["parameters"][name]["schema"].pop("format")


# Every change made to GS1's document, with the reason. Nothing else differs from GS1's file.
PATCHES: list[tuple[str, Callable[[Document], None]]] = [
    (
        "The six query-schedule schemas (GS1-Query-Second ... DayOfWeek) use Ruby/Oniguruma "
        "subroutine calls (\\g<name>) and digit 'ranges' like [0-59]: not ECMA-262, which "
        "OpenAPI requires. Replaced by the grammar their descriptions state (numbers within "
        "the range, [low-high] ranges, comma-separated); their integer examples on string "
        "schemas become strings.",
        _schedule_patterns,
    ),
    (
        "CaptureJob ends in oneOf {errors} / {errorFile} where neither branch requires its "
        "property: every object matches both, so no capture job can be valid. anyOf is what "
        "the description says (errors or errorFile).",
        _capture_job_errors,
    ),
    (
        "The document declares no security although every endpoint documents 401/403: the "
        "binding leaves authentication to the implementation; chaintrace's is an API key sent "
        "as a bearer token, declared so that schemathesis also checks auth is not ignored.",
        _bearer_key,
    ),
    (
        "GET /events, GET /capture and a few others take perPage and nextPageToken (and GET "
        "/events all of SimpleEventQuery's parameters) but document no 400, while the "
        "per-resource query endpoints with the same parameters document 400QueryIssues (the "
        "standard's QueryParameterException): added to every GET taking them.",
        _query_issues,
    ),
    (
        "POST /queries and POST /queries/{queryName}/subscriptions take a body (a query's "
        "parameters, a subscription's dest and schedule) but document no 400, though an invalid "
        "query is the standard's QueryParameterException, as on the query endpoints: the same "
        "400 (400QueryIssues) added to both.",
        _body_issues,
    ),
    (
        "409ResourceAlreadyExistsException's schema says status 406 (its own example says 409); "
        "400SubscriptionIssues is application/json (every other problem of the document is "
        "application/problem+json) and omits QueryParameterException, though the GETs it "
        "answers take perPage and nextPageToken: status 409, the problem media type and the "
        "query exception added.",
        _problem_answers,
    ),
    (
        "The Link header's schema says format: uri, but a Link value is `<url>; "
        'rel="next"` (RFC 8288; GS1\'s own example): never a URI. The format is dropped.',
        _link_header,
    ),
    (
        "The bizStep and disposition path parameters say format: uri, but the standard values "
        "are bare words (CBV 2.0: `shipping`, `in_progress`; GS1's own example for disposition "
        "is `in_progress`, which its schema refuses, so no example can be generated). The "
        "format is dropped.",
        _bare_words,
    ),
]

# chaintrace's deliberate deviations from the binding, each with its reason; each is either
# applied to the copy (documented there as what chaintrace answers) or relaxes one check of one
# operation (config()), never a whole check for the whole run.
DEVIATIONS: dict[str, str] = {
    "unread parameters": "Parameters and headers chaintrace does not implement (those absent "
    "from the app's own OpenAPI entry for the operation: GS1-EPC-Format, GS1-CBV-XML-Format, "
    "GS1-EPCIS-Min/Max, GS1-CBV-Min/Max, GS1-Extensions, the query parameters not yet "
    "implemented...) are ignored, not refused: dropped from the copy, derived from the app's "
    "routes, so a newly implemented one is tested.",
    "unknown values": "GET /epcs/{epc}/events, /bizLocations/{bizLocation}/events and "
    "/readPoints/{readPoint}/events answer a value that is not a URI like any value with no "
    "event the caller may see: 200 and an empty list (a 404 would tell which exist): the copy "
    "drops format: uri from those path parameters.",
    "public discovery": "OPTIONS /capture answers without an API key (it only states versions "
    "and limits): the copy declares it public.",
    "NUL guard": "A NUL anywhere in the URL, headers or body is refused API-wide before "
    "routing (api/limits.py) with 422 and the API's ErrorBody: documented in the copy, its "
    "schema naming exactly that refusal.",
    "write rights": "POST /capture and POST /events refuse an event naming a chaintrace shipment "
    "or a commissioning with 422 and the field list, pointing to the endpoint that records it "
    "(issue 15's write rights): documented in the copy for those two operations.",
    "opaque tokens and bounds": "perPage is bounded (1..1000, capture jobs 1..500) and a "
    "nextPageToken has a shape (capture jobs: digits): the copy takes both from the app's own "
    "entry. An event page token is opaque (only one this server issued is valid): positive data "
    "acceptance allows 400 on the GET operations.",
    "named query bodies": "POST /queries and POST /queries/{queryName}/subscriptions check "
    "more than GS1's schemas say (a name of 1-128 unreserved characters, the query's "
    "parameters as GET /events reads them, a dest that resolves to public addresses only, a "
    "schedule that runs): 400 naming the field; positive data acceptance allows 400 there, and 409 "
    "(documented by GS1) for a name already taken or the per-principal limit.",
    "capture bodies": "GS1's request schemas for POST /capture and POST /events are looser than "
    "GS1's own EPCIS JSON Schema the routes apply (400 naming each event and field), a "
    "GS1-*-Version other than 2.0.0 is 406 and GS1-Capture-Error-Behaviour 'all' (the server's "
    "word) is 400: positive data acceptance allows 400 and 406 there.",
}

_NUL_REFUSAL = {
    "description": "chaintrace: NUL refused before routing (DEVIATIONS: NUL guard)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["detail"],
                "properties": {
                    "detail": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["msg"],
                            "properties": {"msg": {"enum": ["NUL characters are not accepted"]}},
                        },
                    }
                },
            }
        }
    },
}
_RIGHTS_REFUSAL = {
    "description": "chaintrace: refused by the write rights (DEVIATIONS: write rights)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["detail"],
                "properties": {
                    "detail": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "required": ["loc", "msg"]},
                    }
                },
            }
        }
    },
}
_CAPTURES = {("post", "/capture"), ("post", "/events")}
_NAMED = {("post", "/queries"), ("post", "/queries/{queryName}/subscriptions")}
_ANY_VALUE = {"epc", "bizLocation", "readPoint"}


def _header_or_query(parameter: Document, doc: Document) -> Document:
    ref = parameter.get("$ref")
    if ref is None:
        return parameter
    found: Document = doc["components"]["parameters"][ref.rsplit("/", 1)[-1]]
    return found


_PAGING = {"perPage", "nextPageToken"}
_BOUNDS = {"minimum", "maximum", "pattern", "maxLength"}


def _bounded(parameter: Document, ours: Document | None) -> Document:
    """The paging parameter with the bounds the app's own entry states (DEVIATIONS: opaque
    tokens and bounds): GS1's perPage is any integer, its nextPageToken any string."""
    mine = next(
        (p for p in (ours or {}).get("parameters", []) if p["name"] == parameter["name"]), {}
    )
    schema = mine.get("schema", {})
    if "anyOf" in schema:  # FastAPI's optional: [the type, null]
        schema = next((s for s in schema["anyOf"] if s.get("type") != "null"), {})
    kind = "integer" if parameter["name"] == "perPage" else "string"
    bounded = {k: v for k, v in parameter.items() if k != "schema"}
    bounded["schema"] = {"type": kind, **{k: v for k, v in schema.items() if k in _BOUNDS}}
    return bounded


def deviate(doc: Document, app: Document) -> None:
    """Apply DEVIATIONS to the patched copy (the app's own OpenAPI document says what it reads)."""
    for path, item in doc["paths"].items():
        shared = item.pop("parameters", [])
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            ours = _app_operation(app, method, path)
            read = {(p["in"], p["name"].lower()) for p in (ours or {}).get("parameters", [])}
            kept = []
            for parameter in [*shared, *operation.get("parameters", [])]:
                found = _header_or_query(parameter, doc)
                if found["in"] == "path" or (found["in"], found["name"].lower()) in read:
                    kept.append(_bounded(found, ours) if found["name"] in _PAGING else parameter)
            operation["parameters"] = kept
            responses = operation["responses"]
            if (method, path) in _CAPTURES:
                rights = copy.deepcopy(_RIGHTS_REFUSAL)
                rights["content"]["application/json"]["schema"] = {
                    "anyOf": [
                        _NUL_REFUSAL["content"]["application/json"]["schema"],
                        _RIGHTS_REFUSAL["content"]["application/json"]["schema"],
                    ]
                }
                responses["422"] = rights
            else:
                responses["422"] = copy.deepcopy(_NUL_REFUSAL)
            for parameter in kept:
                found = _header_or_query(parameter, doc)
                if found["in"] == "path" and found["name"] in _ANY_VALUE:
                    found["schema"].pop("format", None)
            if (method, path) == ("options", "/capture"):
                operation["security"] = []


def config(operations: set[str]) -> str:
    """schemathesis's settings: the relaxations DEVIATIONS names, per operation."""
    lines = [
        "# Written by tests/api/test_epcis_conformance.py (DEVIATIONS), for one run.",
        "[checks.positive_data_acceptance]",
        'expected-statuses = ["2xx", "401", "403", "404", "422"]',
    ]
    for name in sorted(operations):
        method, path = name.split(" ", 1)
        statuses = ["2xx", "401", "403", "404", "422"]  # 422: NUL guard (its schema says which)
        if method == "GET":
            statuses.append("400")  # opaque tokens and bounds
        if (method.lower(), path) in _CAPTURES:
            statuses += ["400", "406"]  # capture bodies
        if (method.lower(), path) in _NAMED:
            statuses += ["400", "409"]  # named query bodies; a name (a subscription) repeated
        lines += [
            "",
            "[[operations]]",
            f'include-name = "{name}"',
            f"checks.positive_data_acceptance.expected-statuses = {json.dumps(statuses)}",
        ]
        if (method.lower(), path) in _CAPTURES:
            # Time bound: the coverage phase walks every branch of GS1's document schemas
            # (minutes); the fuzzing phase still generates EXAMPLES bodies, valid and invalid.
            lines.append("phases.coverage.enabled = false")
    return "\n".join(lines) + "\n"


def patched(binding: Document) -> Document:
    doc = copy.deepcopy(binding)
    for _, patch in PATCHES:
        patch(doc)
    return doc


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/")


def _param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _enum_of(operation: Document, segment: str) -> list[Any]:
    name = segment[1:-1]
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") == name:
            return list(parameter.get("schema", {}).get("enum", []))
    return []


def _maps(app_path: str, operation: Document, binding_path: str) -> bool:
    """The app's route serves the binding's path: literal segments equal, a path parameter for a
    path parameter, or an app parameter whose enum holds the binding's literal segment."""
    ours, theirs = _segments(app_path), _segments(binding_path)
    if len(ours) != len(theirs):
        return False
    for mine, its in zip(ours, theirs, strict=True):
        if _param(mine) and (_param(its) or its in _enum_of(operation, mine)):
            continue
        if mine != its:
            return False
    return True


def served_operations(app: Document, binding: Document) -> tuple[set[str], set[str]]:
    """("METHOD /binding/path" the app serves, "METHOD /app/path" no binding path matches)."""
    served_ops: set[str] = set()
    unmapped: set[str] = set()
    for app_path, item in app["paths"].items():
        if not app_path.startswith(PREFIX + "/"):
            continue
        local = app_path.removeprefix(PREFIX)
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            found = {
                f"{method.upper()} {path}"
                for path, ops in binding["paths"].items()
                if method in ops and _maps(local, operation, path)
            }
            served_ops |= found
            if not found:
                unmapped.add(f"{method.upper()} {app_path}")
    return served_ops, unmapped


def _app_operation(app: Document, method: str, binding_path: str) -> Document | None:
    """The app's OpenAPI operation serving the binding's (method, path), if any."""
    for app_path, item in app["paths"].items():
        if not app_path.startswith(PREFIX + "/") or method not in item:
            continue
        operation: Document = item[method]
        if _maps(app_path.removeprefix(PREFIX), operation, binding_path):
            return operation
    return None


def _binding() -> Document:
    if not BINDING.is_file():
        pytest.skip(f"GS1's EPCIS 2.0 OpenAPI document is absent: {BINDING}")
    loaded: Document = json.loads(BINDING.read_text())
    return loaded


def _app_openapi(served: Served) -> Document:
    document: Document = httpx.get(f"{served.url}/openapi.json", timeout=30).json()
    return document


def test_every_epcis_route_is_a_binding_operation(served: Served) -> None:
    """The interface under /epcis adds nothing outside the binding, and serves its core."""
    operations, unmapped = served_operations(_app_openapi(served), _binding())
    assert unmapped == set()
    assert {"POST /capture", "GET /capture/{captureID}", "GET /events"} <= operations


def _schemathesis(served: Served, key: str | None, tmp_path: Path) -> tuple[str, set[str]]:
    binding, app = _binding(), _app_openapi(served)
    operations, _ = served_operations(app, binding)
    document = patched(binding)
    deviate(document, app)
    schema = tmp_path / "epcis-openapi.json"
    schema.write_text(json.dumps(document))
    settings = tmp_path / "schemathesis.toml"
    settings.write_text(config(operations))
    command = [
        str(SCHEMATHESIS),
        f"--config-file={settings}",
        "run",
        str(schema),
        f"--url={served.url}{PREFIX}",
        "--checks=all",
        f"--max-examples={EXAMPLES}",
        "--workers=1",  # CPython 3.11 ast.parse is not thread-safe (hypothesis parses lambdas)
        "--generation-deterministic",
        "--no-color",
        # A bound for a loaded CI machine, not a timing check (schemathesis's default is 10 s:
        # one request over it on a busy 2-core runner failed a run that found nothing wrong).
        "--request-timeout=60",
        *(f"--include-name={name}" for name in sorted(operations)),
    ]
    if key is not None:
        command.append(f"--header=Authorization: Bearer {key}")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
    )
    (tmp_path / "schemathesis.txt").write_text(done.stdout + done.stderr)  # kept by pytest
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
    return done.stdout, operations


def test_as_a_brand(served: Served, tmp_path: Path) -> None:
    out, operations = _schemathesis(served, served.world.brand_key, tmp_path)
    assert f"Tested: {len(operations)}" in out, out[-3_000:]


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


def test_the_copy_mends_gs1s_patterns_and_nothing_else_is_edited() -> None:
    """Every pattern of the copy compiles; GS1's own file has the six that do not (a patch that
    no longer applies, GS1 having mended its file, fails here with KeyError)."""
    binding = _binding()

    def broken(doc: Document) -> list[str]:
        failing = []
        for pattern in _patterns(doc):
            try:
                re.compile(pattern)
            except re.error:
                failing.append(pattern)
        return failing

    assert len(broken(binding)) == 6
    copy_ = patched(binding)
    assert broken(copy_) == []
    assert re.fullmatch(copy_["components"]["schemas"]["GS1-Query-Second"]["pattern"], "0,[5-59],7")
    assert not re.fullmatch(copy_["components"]["schemas"]["GS1-Query-Hour"]["pattern"], "24")
    assert binding == json.loads(BINDING.read_text())  # the copy is a copy


def test_errors_are_the_bindings_problems(served: Served) -> None:
    """The fixes this test led to, each checked directly (api/epcis_problem.py, the routes)."""
    base, key = f"{served.url}{PREFIX}", served.world.brand_key
    bearer = {"Authorization": f"Bearer {key}"}
    cases = [
        (httpx.get(f"{base}/events"), 401, "epcisException:SecurityException"),
        (httpx.get(f"{base}/events/ni%3A%2F%2F%2Fnone", headers=bearer), 404, None),
        (httpx.get(f"{base}/events?perPage=0", headers=bearer), 400, None),
        (
            httpx.post(
                f"{base}/capture",
                json={},
                headers={**bearer, "GS1-Capture-Error-Behaviour": "sometimes"},
            ),
            400,
            "epcisException:ValidationException",
        ),
    ]
    kinds = {404: "epcisException:NoSuchNameException", 400: QUERY_PARAMETER}
    for answer, status, kind in cases:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert body["type"] == (kind or kinds[status]) and body["status"] == status
        assert body["title"] and body["detail"]
    assert "perPage" in cases[2][0].json()["detail"]
    assert cases[0][0].headers["WWW-Authenticate"] == "Bearer"  # kept from the API's answer
    options = httpx.options(f"{base}/capture")
    assert options.headers["GS1-Capture-Error-Behaviour"] == "all"


def test_the_next_page_link_names_the_path_as_sent(served: Served) -> None:
    """The Link header names the next page with the path percent-encoded as it was sent: a value
    holding `%20`, `?` or `/` (a readPoint that is a URL) must come back as the same value, not
    decoded once more (the second page would then query another readPoint); a header holds ASCII
    only."""
    base = f"{served.url}{PREFIX}"
    bearer = {"Authorization": f"Bearer {served.world.brand_key}"}
    point = "https://example.org/dock%207?hall=3"  # a %-escape of its own, and a query
    events = [
        {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "readPoint": {"id": point},
            "eventTime": f"2026-07-22T06:4{n}:00.000+02:00",
            "eventTimeZoneOffset": "+02:00",
            "epcList": [f"urn:epc:id:sgtin:0614141.107346.77{n}"],
        }
        for n in range(2)
    ]
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T07:00:00Z",
        "epcisBody": {"eventList": events},
    }
    captured = httpx.post(f"{base}/capture", json=doc, headers=bearer)
    assert captured.status_code == 202, captured.text
    path = f"{base}/readPoints/{quote(point, safe='')}/events"
    first = httpx.get(path, params={"perPage": 1}, headers=bearer)
    assert first.status_code == 200, first.text
    link = first.headers["Link"]
    second = httpx.get(link[1 : link.index(">")], headers=bearer)
    assert second.status_code == 200 and "Link" not in second.headers, second.text
    points = [
        e["readPoint"]["id"]
        for answer in (first, second)
        for e in answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    ]
    assert points == [point, point], link
    assert link.isascii() and link.startswith(f"<{path}?"), link
