"""Settings are data: every string that comes from settings reaches Terraform as a literal.

Terraform reads every string of its JSON configuration as a template: ``${ ... }`` interpolates an expression and
``%{ ... }`` runs a directive, so a settings value such as ``${file("/etc/hostname")}`` would be evaluated on the
plan runner. Terraform's own escapes make such text literal: ``$${`` stands for a literal ``${`` and ``%%{`` for a
literal ``%{`` (https://developer.hashicorp.com/terraform/language/expressions/strings, "Escape Sequences"; the
JSON syntax reads its strings as the same templates:
https://developer.hashicorp.com/terraform/language/syntax/json#expression-mapping). The escapes are the same inside a
quoted string of a native expression, so a value that a module embeds in one (``jsonencode``-style maps) stays
literal too.

The stack layer applies :func:`literal_settings` once, to the whole settings object, before any construct sees it:
no call site escapes by hand, and a new setting is covered the day it is added. cdktf's own token markers
(``${TfToken[...]}``) cannot come from settings: the loader refuses them (``envs/loader.py``).
"""
from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


def terraform_literal(text: str) -> str:
    """``text`` as a Terraform template that evaluates to exactly ``text``."""
    return text.replace("${", "$${").replace("%{", "%%{")


def _literal(value: Any) -> Any:
    if isinstance(value, Enum):  # str enums (ProtectionLevel, NatStrategy): fixed values, compared by identity
        return value
    if isinstance(value, str):
        return terraform_literal(value)
    if isinstance(value, BaseModel):
        return literal_settings(value)
    if isinstance(value, tuple):
        return tuple(_literal(v) for v in value)
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, dict):
        return {_literal(k): _literal(v) for k, v in value.items()}
    return value


def literal_settings(settings: T) -> T:
    """A copy of a settings model (frozen, nested) in which every string, in every nested model, list, tuple and
    mapping (keys too), is a Terraform literal. Strings without ``${`` or ``%{`` are unchanged, so is the copy."""
    assert isinstance(settings, BaseModel)
    changes = {name: _literal(getattr(settings, name)) for name in type(settings).model_fields}
    return settings.model_copy(update=changes)  # type: ignore[return-value]
