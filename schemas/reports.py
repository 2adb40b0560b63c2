"""The shapes of the API's answers outside TMF683: a party's timeline and the KPI report (the
routes write them directly; these models state them in the OpenAPI)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.party_interaction import PartyInteraction


class FacetCount(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    channel: list[FacetCount]
    status: list[FacetCount]
    reason: list[FacetCount]


class Timeline(BaseModel):
    items: list[PartyInteraction] = Field(description="Newest first")
    nextCursor: str | None = Field(description="`cursor` for the next page; null on the last one")
    facets: Facets = Field(description="Counts over every page of the filtered timeline, largest first")


class KpiFigures(BaseModel):
    volume: int
    avgHandlingSeconds: float | None
    resolutionRate: float
    firstContactResolutionRate: float | None


class KpiBucket(KpiFigures):
    t: str = Field(description="Start of the bucket (UTC)")


class KpiGroup(KpiFigures):
    key: str
    series: list[KpiBucket]


class KpiReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    interval: str
    groupBy: str
    fcrDays: int = Field(description="Whole days within which a repeat contact undoes first-contact resolution")
    groups: list[KpiGroup] = Field(description="Largest first")
