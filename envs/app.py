"""Settings of the application tier (load balancer, compute, scaling, blue-green)."""
from __future__ import annotations

from .base import Section


class AppTierSettings(Section):
    """Settings of the application tier (load balancer, compute, scaling, blue-green). Every field has a default; see README.md's settings reference."""
