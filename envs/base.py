"""Base of every settings model: frozen, no unknown keys, field docstrings kept for the settings reference."""
from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
