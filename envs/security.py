"""Settings of the security baseline (WAF, IAM, encryption, audit, threat detection, incident response)."""
from __future__ import annotations

from .base import Section


class SecuritySettings(Section):
    """Settings of the security baseline (WAF, IAM, encryption, audit, threat detection, incident response). Every field has a default; see README.md's settings reference."""
