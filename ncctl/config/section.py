"""What every section of the configuration is built from: the base class and shared field types."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

NonEmpty = Annotated[str, Field(min_length=1)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _check_file_ref(value: str) -> str:
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    return value


FileRef = Annotated[str, Field(min_length=1), AfterValidator(_check_file_ref)]
"""A file name or path written in the configuration: not empty, no control characters."""


class Section(BaseModel):
    """Every section rejects unknown keys so that a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_default=True, defer_build=True)
