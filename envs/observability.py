"""Settings of observability, SLOs and cost."""
from __future__ import annotations

from .base import Section


class ObservabilitySettings(Section):
    """Settings of observability, SLOs and cost. Every field has a default; see README.md's settings reference."""
