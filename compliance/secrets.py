"""Secret-looking names and values: used by the PLAT_SEC_001 check and by every renderer to mask values.

The heuristic is deliberately wider for masking (anything named like a credential is hidden) than for the
check (which fails only on a literal, non-empty string in such an attribute, or a value with a credential's
shape anywhere).
"""
from __future__ import annotations

import functools
import json
import re
from typing import Any, Iterator

MASK = "(sensitive value)"

SECRET_NAME_RE = re.compile(
    r"(pass(word|wd|phrase)|(^|_)pass($|_)|secret|token|private[_-]?key|api[_-]?key|access[_-]?key|auth[_-]?key|"
    r"credential|client[_-]?secret|connection[_-]?string|signing[_-]?key|sas[_-]?key|bearer)",
    re.IGNORECASE,
)
# names that contain a secret-ish word but hold no secret
NOT_SECRET_NAME_RE = re.compile(
    r"(_arn|_arns|_id|_ids|_name|_names|_length|_type|_version|_enabled|_count|_policy|_rotation|_mode|"
    r"_kms_key_id|_kms_key|_ttl|_days|_interval|_status|_required|_reuse_prevention|_age|_source|_header)$"
    r"|^(manage_master_user_password|master_user_secret|master_user_secret_kms_key_id|secret_id|"
    r"password_policy|token_validity_units|secret_binary_wo_version|secret_string_wo_version|"
    r"password_wo_version|client_secret_setting_name|enable_token_revocation|description|http_tokens)$",
    re.IGNORECASE,
)
SECRET_VALUE_RES = (
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),                       # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),                 # PEM private key
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),                     # GitHub token
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),                  # Slack token
    re.compile(r"\bsk_live_[A-Za-z0-9]{16,}\b"),                       # Stripe key
    re.compile(r"(?i:\b(?:aws_secret_access_key|password|passwd|pwd|secret|token))\s*[=:]\s*[^\s$&{}\"']{6,}"),
    re.compile(r"://[^/\s:@]+:[^/\s@${}]{3,}@"),                        # credentials in a URL
)
_ANY_SECRET_VALUE = re.compile("|".join(f"(?:{r.pattern})" for r in SECRET_VALUE_RES))
_REF = re.compile(r"^\$\{.*\}$", re.DOTALL)
_UNKNOWN = "true_after_unknown"


# camelCase names of identifiers (``apiKeyId``, ``secretArn``) and IAM condition keys (``token.actions.…:aud``)
_CAMEL_NOT_SECRET_RE = re.compile(r"[a-z](Id|Ids|Arn|Arns|Name|Names|Type|Version|Enabled)$")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    if ":" in name or _CAMEL_NOT_SECRET_RE.search(name):
        return False
    return bool(SECRET_NAME_RE.search(name)) and not NOT_SECRET_NAME_RE.search(name)


def looks_like_secret_value(value: str) -> bool:
    if len(value) < 8 or value.startswith("arn:"):
        return False
    return _ANY_SECRET_VALUE.search(value) is not None


def literal_secret(name: str, value: Any) -> bool:
    """A plaintext secret: a literal non-empty string under a secret-looking name, or a credential-shaped value."""
    if not isinstance(value, str) or not value or value == _UNKNOWN:
        return False
    if is_secret_name(name):
        stripped = value.strip()
        if _REF.match(stripped) or stripped.startswith("arn:") or stripped.lower() in ("true", "false"):
            return False
        return True
    return looks_like_secret_value(value)


def _json_document(value: str) -> Any:
    """The parsed JSON object or array a string holds, else None."""
    if value[:1] not in "{[" or len(value) <= 2:
        return None
    try:
        inner = json.loads(value)
    except ValueError:
        return None
    return inner if isinstance(inner, (dict, list)) else None


def find_literal_secrets(body: Any, path: str = "") -> Iterator[str]:
    """Yield dotted paths of plaintext secrets anywhere in ``body`` (JSON documents in strings included)."""
    if isinstance(body, dict):
        for k, v in body.items():
            if k == "//":
                continue
            p = f"{path}.{k}" if path else str(k)
            if isinstance(v, (dict, list)):
                yield from find_literal_secrets(v, p)
            elif isinstance(v, str):
                inner = _json_document(v)
                if inner is not None:  # a policy or other JSON document: judge its values, not the whole text
                    yield from find_literal_secrets(inner, p)
                elif literal_secret(str(k), v):
                    yield p
    elif isinstance(body, list):
        for i, v in enumerate(body):
            p = f"{path}[{i}]"
            if isinstance(v, (dict, list)):
                yield from find_literal_secrets(v, p)
            elif isinstance(v, str) and (looks_like_secret_value(v)):
                yield p
            elif isinstance(v, dict) and "name" in v and "value" in v:  # pragma: no cover - handled above
                pass
        # [{"name": "DB_PASSWORD", "value": "..."}] (ECS environment style)
        for i, v in enumerate(body):
            if isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("value"), str):
                if is_secret_name(v["name"]) and literal_secret(v["name"], v["value"]):
                    yield f"{path}[{i}].value"


def mask(value: Any, sensitive: Any = None, name: str = "") -> Any:
    """Return ``value`` with every sensitive or secret-looking leaf replaced by :data:`MASK`.

    ``sensitive`` mirrors the structure of ``value`` the way a plan's ``after_sensitive`` does (``true`` marks a
    sensitive subtree)."""
    if sensitive is True:
        return MASK if value is not None else None
    if isinstance(value, dict):
        sens = sensitive if isinstance(sensitive, dict) else {}
        out = {k: mask(v, sens.get(k), str(k)) for k, v in value.items()}
        # {"name": "DB_PASSWORD", "value": "..."} (ECS/Lambda/Beanstalk environment style)
        if isinstance(value.get("name"), str) and is_secret_name(value["name"]) and value.get("value") is not None:
            out["value"] = MASK
        return out
    if isinstance(value, list):
        sens_l = sensitive if isinstance(sensitive, list) else []
        return [mask(v, sens_l[i] if i < len(sens_l) else None, name) for i, v in enumerate(value)]
    if value is None or isinstance(value, bool):
        return value
    if name and is_secret_name(name):
        return MASK
    if isinstance(value, str):
        if looks_like_secret_value(value):
            return MASK
        if value[:1] in "{[" and len(value) > 2:
            try:
                inner = json.loads(value)
            except ValueError:
                return value
            masked = mask(inner, None, name)
            if masked != inner:
                return json.dumps(masked, sort_keys=True)
    return value


def scrub_text(text: str, secrets: Iterator[str] | list[str] = ()) -> str:
    """Last line of defence for free text: replace known secret strings and credential-shaped substrings."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, MASK)
    for r in SECRET_VALUE_RES:
        text = r.sub(MASK, text)
    return text
