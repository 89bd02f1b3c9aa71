"""What every module shares: the one settings error type, the stack context, tag merging and policy JSON."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from constructs import Construct

from envs.target import Target


class ModuleSettingsError(ValueError):
    """Conflicting or invalid module settings, raised when a construct is built. The message names the fields."""


@dataclass(frozen=True)
class Context:
    """What every module of one stack may need besides its own settings.

    Built once by :class:`modules.stack.platform.PlatformStack`; modules read values from it, never the environment name.
    """

    name_prefix: str
    """Prefix of resource names, ``<project>-<environment>``."""
    region: str
    """Primary region."""
    account_id: str
    """Account id as a Terraform expression (``data.aws_caller_identity``), so it is right on every target."""
    partition: str
    """AWS partition as a Terraform expression."""
    target: Target
    """Deploy target; modules skip what :meth:`Target.supports` rules out."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Module-level tags merged under each resource's Name (provider default tags hold the organisation tags)."""


def tags(ctx: Context, name: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resource tags, general to specific: context tags, then ``extra``, then ``Name``."""
    return {**ctx.tags, **(extra or {}), "Name": name}


def policy_json(*statements: Mapping[str, Any]) -> str:
    """An IAM policy document as JSON (Terraform tokens inside strings are resolved by cdktf)."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=False)


def require(condition: bool, message: str) -> None:
    """Raise :class:`ModuleSettingsError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ModuleSettingsError(message)


class Module(Construct):
    """Base of the project's constructs: keeps the context at hand."""

    def __init__(self, scope: Construct, id_: str, ctx: Context) -> None:
        super().__init__(scope, id_)
        self.ctx = ctx
