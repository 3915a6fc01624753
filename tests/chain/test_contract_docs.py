"""docs/contracts.md documents every function, event and error of every released ABI, no other.

A signature is written in backticks in its canonical form, `release(bytes32)`. An entry is
documented where it heads a bullet (functions: the text before the first ": ") or the first cell
of a table row, in a table whose header starts with "function", "event" or "error" for its kind.
Each `## ` section names the releases it covers in its heading ("TraceAnchor v1", "ShipmentEscrow
v2", ...): every entry of a release's committed ABI must be documented in a section naming that
release, and every signature a section names anywhere (also in "Emits ..." / "Reverts ...") must
be in the ABI of a release it names (a section naming none: of any release). So the document can
neither lose an entry's line nor name a signature its release does not have.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from chain.releases import ARTIFACTS_DIR, RELEASES, ReleaseSpec, release_artifact
from chain.toolchain.artifacts import abi_signature

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "contracts.md"

_SIGNATURE = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*\([^`\s]*\))`")
_ELEMENTARY = re.compile(r"u?int[0-9]*|address|bool|string|bytes[0-9]*")
_RELEASE = re.compile(r"\b([A-Z][A-Za-z]+) v([0-9]+)\b")
_KINDS = ("function", "event", "error")


def abi_entries(spec: ReleaseSpec) -> set[tuple[str, str]]:
    """(kind, `name(types)`) of every function, event and error in the committed ABI."""
    abi = release_artifact(spec).abi
    return {(str(e["type"]), abi_signature(e)) for e in abi if e.get("type") in _KINDS}


def abi_signatures(spec: ReleaseSpec) -> set[str]:
    return {signature for _kind, signature in abi_entries(spec)}


def named_signatures(text: str) -> set[str]:
    """Backticked `name(types)` spans whose arguments are canonical ABI types only."""
    found = set()
    for signature in _SIGNATURE.findall(text):
        arguments = re.sub(r"\[[0-9]*\]", "", signature[signature.index("(") :])
        tokens = [t for t in re.split(r"[(),]", arguments) if t]
        if all(_ELEMENTARY.fullmatch(t) for t in tokens):
            found.add(signature)
    return found


def documented(body: str) -> set[tuple[str, str]]:
    """(kind, signature) of the entries a section's bullets and table rows document."""
    found: set[tuple[str, str]] = set()
    kind = None
    previous = ""
    for line in body.splitlines():
        if line.startswith("|"):
            first = line.strip("|").split("|")[0].strip()
            if not previous.startswith("|"):  # a table's header names the kind of its rows
                kind = next((k for k in _KINDS if first.lower().startswith(k)), None)
            elif kind is not None and not set(first) <= set("-: "):
                found |= {(kind, s) for s in named_signatures(first)}
        elif line.startswith("- "):
            found |= {("function", s) for s in named_signatures(line[2:].split(": ")[0])}
        previous = line
    return found


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of each `## ` section; the text before the first is heading ''."""
    parts = re.split(r"^## (.*)$", text, flags=re.MULTILINE)
    return [("", parts[0]), *zip(parts[1::2], parts[2::2], strict=True)]


def releases_named(heading: str) -> list[ReleaseSpec]:
    named = {(name, int(version)) for name, version in _RELEASE.findall(heading)}
    return [s for s in RELEASES if (s.name, s.version) in named]


def doc_problems(text: str) -> list[str]:
    """Every signature missing from, or wrongly present in, the document."""
    problems = []
    covered: dict[ReleaseSpec, set[tuple[str, str]]] = {spec: set() for spec in RELEASES}
    every = set().union(*(abi_signatures(s) for s in RELEASES))
    for heading, body in sections(text):
        specs = releases_named(heading)
        allowed = set().union(*(abi_signatures(s) for s in specs)) if specs else every
        for signature in sorted(named_signatures(body) - allowed):
            where = ", ".join(f"{s.name} v{s.version}" for s in specs) or "any release"
            problems.append(f"'{heading}' names {signature}, which {where} does not have")
        for spec in specs:
            covered[spec] |= documented(body)
    for spec in RELEASES:
        for kind, signature in sorted(abi_entries(spec) - covered[spec]):
            problems.append(f"{spec.name} v{spec.version}: {kind} {signature} is not documented")
    return problems


def test_every_released_function_event_and_error_is_documented_and_nothing_else() -> None:
    assert doc_problems(DOC.read_text(encoding="utf-8")) == []


def test_the_document_says_where_each_releases_abi_is() -> None:
    text = DOC.read_text(encoding="utf-8")
    for spec in RELEASES:
        assert str(spec.path.relative_to(ROOT)) in text
    assert ARTIFACTS_DIR == ROOT / "chain" / "release_artifacts"


def without_line(text: str, start: str) -> str:
    """`text` without its first line that starts with `start`."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(start))
    return "\n".join(lines[:index] + lines[index + 1 :])


DRIFTS: dict[str, tuple[Callable[[str], str], str]] = {
    "an event's row gone": (
        lambda t: without_line(t, "| `RootEndorsed(bytes32,address)`"),
        "TraceAnchor v2: event RootEndorsed(bytes32,address) is not documented",
    ),
    "a function's bullet gone": (
        lambda t: without_line(t, "- `withdraw(address)`"),
        "ShipmentEscrow v1: function withdraw(address) is not documented",
    ),
    "an error's row gone": (
        lambda t: without_line(t, "| `EscrowV2NoDevices()`"),
        "ShipmentEscrow v2: error EscrowV2NoDevices() is not documented",
    ),
    "a signature no ABI has": (
        lambda t: t.replace("## Where", "- `release(bytes32)`: pays out\n\n## Where", 1),
        "names release(bytes32), which any release does not have",
    ),
    "a signature under a release that lacks it": (
        lambda t: t.replace("## TraceAnchor v1\n", "## TraceAnchor v1\n\n- `settle(bytes32)`\n"),
        "names settle(bytes32), which TraceAnchor v1 does not have",
    ),
}


@pytest.mark.parametrize("drift", DRIFTS)
def test_the_check_catches_a_drifted_document(drift: str) -> None:
    edit, expected = DRIFTS[drift]
    problems = doc_problems(edit(DOC.read_text(encoding="utf-8")))
    assert any(expected in problem for problem in problems), problems


def test_prose_calls_are_not_taken_for_signatures() -> None:
    text = '`hasRole(ORACLE_ROLE, x)` `keccak256("X")` `min(a,b)` `f(uint8[2],(bool,bytes32)[])`'
    assert named_signatures(text) == {"f(uint8[2],(bool,bytes32)[])"}
