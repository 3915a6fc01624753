"""The bodies of /locations: location master data (a GLN or SGLN, its name, a coarse position)."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_MAX = 100


class LocationIn(BaseModel):
    """PUT /locations/{id}: the place's name, position (rounded to 0.01 degree, about 1 km, by
    the server: a finer position is never stored) and whether anyone may read it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=NAME_MAX, description="No control characters")
    # strict: a JSON number (an integer too), never a string read as one.
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, strict=True)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, strict=True)
    public: bool = Field(default=False, strict=True, description="Readable by anyone, no key")

    @field_validator("name")
    @classmethod
    def _printable(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("a name is not blank")
        for char in name:
            if unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
                raise ValueError(f"no control or format characters (U+{ord(char):04X})")
        return name

    @model_validator(mode="after")
    def _both_or_neither(self) -> LocationIn:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together")
        return self


class LocationOut(BaseModel):
    """A place as its owner registered it."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(description="The GLN (13 digits) or SGLN EPC URI")
    gln: str
    name: str
    latitude: float | None = Field(description="Rounded to 0.01 degree")
    longitude: float | None = Field(description="Rounded to 0.01 degree")
    public: bool
    yours: bool = Field(description="Whether the caller owns it")
    updated_at: datetime = Field(serialization_alias="updatedAt")


class LocationList(BaseModel):
    """The caller's places."""

    locations: list[LocationOut]
