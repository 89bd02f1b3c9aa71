"""The local variant: what differs for the emulator (moto), applied in one place after the stack is built.

Constructs synthesize the same for both targets; :func:`apply_local_variant` (called by
``modules/stack/platform.py`` as the last step of a stack) turns the built tree into its local variant:

- **Left out**: every resource whose type the emulator cannot create (``envs/target.py: EMULATOR_UNSUPPORTED``) is
  removed from the tree, and with it every construct a construct marked as serving only such types
  (``modules.core.helpers.serves_only``: a role that exists only for a backup selection, a key grant that exists
  only for a Macie job).
- **Ignored changes**: the arguments the emulator does not store (``EMULATOR_UNSTORED``) get a
  ``lifecycle.ignore_changes`` on every resource of their type (the values, and so every gate, stay as on AWS).
- **Stand-ins**: alarms that feed a composite alarm the emulator cannot create (``modules.core.helpers.notifies_for``)
  get the composite's alarm and OK actions, so that their condition still notifies.
- **Emulator-only arguments** (:data:`LOCAL_OVERRIDES`): set on every resource of a type.

Where leaving a part out changes what other parts build from it, removing resources afterwards would leave references
to them; the variant then acts on the settings a tier is built from, before it is built: :func:`data_tier_variant`
(the cache: no replication group on the emulator, and so nothing that serves it).

Nothing happens on the aws target: its JSON is what the constructs built (``tests/test_synth_digests.py`` proves
both variants byte for byte).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from cdktf import TerraformResourceLifecycle
from constructs import Construct, IConstruct

from envs.target import EMULATOR_UNSTORED, EMULATOR_UNSUPPORTED, Target
from modules.core.helpers import notified_composite, served_types
from modules.data.tier import DataTierSettings

#: Arguments set differently on the emulator, per resource type (argument -> value). Never a change of the real
#: configuration: only what the emulator needs to create or delete the resource at all.
LOCAL_OVERRIDES: Mapping[str, Mapping[str, Any]] = {
    # moto does not implement ListRecoveryPointsByBackupVault, which the provider calls before a forced delete (the
    # emulator's vault holds no recovery points to delete anyway).
    "aws_backup_vault": {"force_destroy": False},
    # moto never reports a distribution as Deployed; the provider's waiter would run into its timeout.
    "aws_cloudfront_distribution": {"wait_for_deployment": False},
}


def data_tier_variant(s: DataTierSettings, target: Target) -> DataTierSettings:
    """The data tier's settings for ``target``: without the cache where the target cannot create a replication group
    (the emulator), so that nothing serving it is built either (the instances' egress rule, the workload
    configuration's ``cache`` entry, the IAM grant to connect, the dashboard's Redis widgets), exactly as with
    ``data.cache.enabled = false``. The runbook reads the settings as they are."""
    if s.cache is not None and not target.supports("aws_elasticache_replication_group"):
        return replace(s, cache=None)
    return s


def _resource_type(node: IConstruct) -> str | None:
    return getattr(node, "terraform_resource_type", None)


def _remove(node: IConstruct) -> None:
    scope = node.node.scope
    if scope is not None:
        scope.node.try_remove_child(node.node.id)


def apply_local_variant(stack: Construct, target: Target) -> list[str]:
    """Turn ``stack`` into its local variant when ``target`` is local; the paths removed (nothing on aws)."""
    if not target.is_local:
        return []
    removed: list[str] = []
    for node in stack.node.find_all():
        served = served_types(node)
        kind = _resource_type(node)
        unsupported = (served is not None and all(t in EMULATOR_UNSUPPORTED for t in served)) or (
            kind is not None and kind in EMULATOR_UNSUPPORTED)
        if unsupported and not any(p in removed for p in _ancestors(node)):
            removed.append(node.node.path)
            _remove(node)
    # An alarm that feeds a composite alarm the emulator cannot create notifies in its place (with its actions).
    for node in stack.node.find_all():
        composite = notified_composite(node)
        if composite is not None and composite.node.path in removed:
            node.alarm_actions = composite.alarm_actions_input  # type: ignore[attr-defined]
            node.ok_actions = composite.ok_actions_input  # type: ignore[attr-defined]
    # Arguments are set through the resources' own properties, not ``add_override``: an override is recorded in the
    # stack's "//" metadata, a property is exactly what the construct would have passed.
    for node in stack.node.find_all():
        kind = _resource_type(node)
        if kind is None:
            continue
        for argument, value in LOCAL_OVERRIDES.get(kind, {}).items():
            setattr(node, argument, value)
        if kind in EMULATOR_UNSTORED:
            node.lifecycle = TerraformResourceLifecycle(  # type: ignore[attr-defined]
                ignore_changes=list(EMULATOR_UNSTORED[kind]))
    return removed


def _ancestors(node: IConstruct) -> list[str]:
    return [scope.node.path for scope in node.node.scopes[:-1]]
