"""The bodies the EPCIS 2.0 query interface answers with (GS1 EPCIS 2.0 REST binding)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ResultsBody(BaseModel):
    """The events: each as stored (its eventID added if it had none) with `ct:anchoring`."""

    event_list: list[dict[str, Any]] = Field(alias="eventList")


class QueryResults(BaseModel):
    """What a SimpleEventQuery found."""

    model_config = ConfigDict(populate_by_name=True)

    query_name: str = Field(default="SimpleEventQuery", alias="queryName")
    results_body: ResultsBody = Field(alias="resultsBody")


class QueryBody(BaseModel):
    """The document's body."""

    model_config = ConfigDict(populate_by_name=True)

    query_results: QueryResults = Field(alias="queryResults")


class EpcisQueryDocument(BaseModel):
    """An EPCIS 2.0 EPCISQueryDocument (JSON-LD); `ct:` names chaintrace's namespace."""

    model_config = ConfigDict(populate_by_name=True)

    context: list[str | dict[str, str]] = Field(alias="@context")
    type: Literal["EPCISQueryDocument"] = "EPCISQueryDocument"
    schema_version: Literal["2.0"] = Field(default="2.0", alias="schemaVersion")
    creation_date: str = Field(alias="creationDate")
    epcis_body: QueryBody = Field(alias="epcisBody")


class Collection(BaseModel):
    """A list of vocabulary values (event types, bizSteps)."""

    model_config = ConfigDict(populate_by_name=True)

    context: list[str | dict[str, str]] = Field(alias="@context")
    type: Literal["Collection"] = "Collection"
    member: list[str]
