"""Settings of the data tier (database, cache, storage, CDN, backup and disaster recovery)."""
from __future__ import annotations

from .base import Section


class DataTierSettings(Section):
    """Settings of the data tier (database, cache, storage, CDN, backup and disaster recovery). Every field has a default; see README.md's settings reference."""
