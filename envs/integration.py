"""Settings of the integration layer (API Gateway, service networking, outbound integrations)."""
from __future__ import annotations

from .base import Section


class IntegrationSettings(Section):
    """Settings of the integration layer (API Gateway, VPC Lattice + Cloud Map, VPC endpoints, integration
    secrets). Every field has a default; see README.md's settings reference."""
