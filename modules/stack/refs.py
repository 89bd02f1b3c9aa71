"""Typed references to what a stack has built so far: what the stack layer's composition functions
(:mod:`modules.stack.mapping`, :mod:`modules.stack.operations`, :mod:`modules.stack.pilot_light`) take instead of the
whole stack (no ``stack: Any``, no ``getattr(stack, ...)``; tests/test_modules_layout.py).

:class:`modules.stack.platform.PlatformStack` builds a :class:`TierRefs` (``_refs()``) each time it hands its tiers
on: the optional tiers are ``None`` while absent or switched off.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from cdktf_cdktf_provider_aws.provider import AwsProvider
from constructs import Construct

from modules.app.tier import AppTier
from modules.core.alarms import AlarmTopics
from modules.core.base import Context
from modules.data.tier import DataTier
from modules.network.vpc import Network
from modules.security.keys import EncryptionKey
from modules.security.tier import Security


@dataclass(frozen=True)
class Providers:
    """The stack's AWS providers: ``primary`` (the environment's region), ``dr`` (the DR region) and ``us_east_1``
    (CloudFront-scoped resources such as its WAF and certificates)."""

    primary: AwsProvider
    dr: AwsProvider
    us_east_1: AwsProvider


@dataclass(frozen=True)
class TierRefs:
    """What the next tier may use of the stack: always the scope, context, providers, keys, network and alarm topics;
    the app, data and security tiers when built."""

    scope: Construct
    """The stack: the scope the next tier is built in (and its outputs are added to)."""
    ctx: Context
    providers: Providers
    keys: Mapping[str, EncryptionKey]
    """Data class -> the environment's customer-managed key."""
    network: Network
    alarm_topics: AlarmTopics
    """What every alarm notifies (empty without alerting)."""
    app: AppTier | None = None
    data: DataTier | None = None
    security: Security | None = None
