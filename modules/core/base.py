"""What every module shares: the one settings error type, the stack context and the construct base class.

Tags, policy JSON, trust policies and security-group rules: :mod:`modules.core.helpers`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

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


def require(condition: bool, message: str) -> None:
    """Raise :class:`ModuleSettingsError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ModuleSettingsError(message)


class Module(Construct):
    """Base of the project's constructs: keeps the context at hand."""

    def __init__(self, scope: Construct, id_: str, ctx: Context) -> None:
        super().__init__(scope, id_)
        self.ctx = ctx
