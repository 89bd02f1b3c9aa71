"""Secrets by name and by value: used by the PLAT_SEC_001 check and by every renderer to mask values.

A string is a secret when

- it sits under a credential-like name (``password``, ``secret``, ``token``, ``api_key``, ``DB_PASSWORD`` in an
  ``environment.variables`` map, ``{"name": "DB_PASSWORD", "value": ...}`` in an ECS container definition, the value
  after ``--password`` in a command list); or
- its value is one: a known credential format (AWS access key ids, private keys, JWTs, credentials in a URL, GitHub,
  Slack, Stripe, Twilio, SendGrid, npm, Azure... tokens; the detectors of ``bc-detect-secrets``, which comes with
  Checkov), a ``NAME=value`` / ``--password=value`` assignment of a credential-like name inside free text (scripts,
  commands), or a high-entropy base64-alphabet token (Shannon entropy >= 4.5 bits a character over 20+ characters,
  detect_secrets' own threshold).

Before judging, a value is decoded: base64 (``user_data``, ``*_base64`` and any string that decodes to text), URL
encoding (``%xx``) and JSON documents inside strings (policies, container definitions: judged by their values, so a
policy is not "high entropy").  Known non-secrets are not judged by entropy: ARNs, resource ids (``ami-…``, ``sg-…``),
UUIDs, pure hex strings (digests, hashes, ETags), values under hash/digest/etag/fingerprint/id/arn names, public keys
and certificates.  References (``${...}``), values unknown until apply and ``true``/``false`` are never secrets.

The check fails only on a literal (:func:`find_literal_secrets`); masking (:func:`mask`, :func:`scrub_text`,
:func:`collect_secrets`) is deliberately wider: anything named like a credential and every value Terraform marks
sensitive is hidden.
"""
from __future__ import annotations

import base64
import binascii
import functools
import gzip
import io
import json
import math
import re
import tarfile
import urllib.parse
import zlib
from collections import Counter
from typing import Any, Iterable, Iterator

MASK = "(sensitive value)"

SECRET_NAME_RE = re.compile(
    r"(pass(word|wd|phrase)|(^|_)pass($|_)|(^|_)pwd($|_)|secret|token|private[_-]?key|api[_-]?key|access[_-]?key|"
    r"auth[_-]?key|credential|client[_-]?secret|connection[_-]?string|signing[_-]?key|sas[_-]?key|bearer|"
    r"(encryption|master|hmac|session|shared|app|license|webhook)[_-]?key|(^|_)dsn($|_))",
    re.IGNORECASE,
)
# names that contain a secret-ish word but hold no secret
NOT_SECRET_NAME_RE = re.compile(
    r"(_arn|_arns|_id|_ids|_name|_names|_length|_type|_version|_enabled|_count|_policy|_rotation|_mode|"
    r"_kms_key_id|_kms_key|_ttl|_days|_interval|_status|_required|_reuse_prevention|_age|_source|_header|"
    r"_validity|_validity_units|_expiration|_timeout|_spec|_usage|_size|_algorithm|_format|_location)$"
    r"|^(manage_master_user_password|master_user_secret|master_user_secret_kms_key_id|secret_id|"
    r"password_policy|token_validity_units|secret_binary_wo_version|secret_string_wo_version|"
    r"password_wo_version|client_secret_setting_name|enable_token_revocation|description|http_tokens|"
    r"http_put_response_hop_limit|secrets|value_from|valueFrom|secret_arn|secret_name|secretOptions)$",
    re.IGNORECASE,
)
# names whose values are identifiers, digests or public material: never judged by entropy
_NO_ENTROPY_NAME_RE = re.compile(
    r"(hash|etag|digest|checksum|fingerprint|sha1|sha256|sha512|md5|(^|_)ids?$|_ids?$|arns?$|(^|_)uri$|url$|"
    r"public_key|certificate|cert_body|certificate_chain|encoded_key|image|version_id|version$|revision|"
    r"(^|_)name$|_names?$|signature|^policy$|_policy$|thumbprint|^key$|_path$|^path$|domain|endpoint|host)",
    re.IGNORECASE,
)

# Known credential formats (fast pre-filter; bc-detect-secrets' detectors run as well, see _ds_plugins).
SECRET_VALUE_RES = (
    re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),                # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----"),          # PEM/PGP private key
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),                      # GitHub token
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b"),                    # GitHub fine-grained token
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),                   # Slack token
    re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}\b"),                     # Stripe key
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),        # SendGrid
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),                           # Google API key
    re.compile(r"(?i:\b(?:aws_secret_access_key|password|passwd|pwd|secret|token))\s*[=:]\s*[^\s$&{}\"']{6,}"),
    re.compile(r"://[^/\s:@]+:[^/\s@${}]{3,}@"),                         # credentials in a URL
)
_ANY_SECRET_VALUE = re.compile("|".join(f"(?:{r.pattern})" for r in SECRET_VALUE_RES))

# NAME=value / NAME: value / --name=value / --name value in free text, NAME credential-like
_ASSIGN = re.compile(
    r"""(?ix)
    (?:^|[\s;&|'"(,{\[])                       # start of a word
    (?:export\s+|set\s+)?
    (?P<dash>--?)?
    (?P<name>[A-Za-z_][A-Za-z0-9_.-]*)
    ["']?\s*(?P<sep>=|:(?!//)|(?(dash)\s|(?!)))\s*   # = or : (not ://); a space only after a --flag
    (?P<q>["']?)
    (?P<value>[^\s"'`;&|<>]{4,})
    (?P=q)
    """)
# curl -u user:password / --user user:password
_CURL_USER = re.compile(r"(?:^|\s)(?:-u|--user)\s+[\"']?[^:\s\"']+:([^\s\"'$]{6,})")
_USER_PASS = re.compile(r"^[A-Za-z0-9._@+-]{1,64}:[^\s:]{6,}$")
_VALUE_REF = re.compile(r"^(\$|%\{|\{\{|<|\*+$|x+$|null$|none$|true$|false$|changeme$|arn:|/dev/|/etc/|https?://[^@]*$)",
                        re.IGNORECASE)
_REF = re.compile(r"^\$\{.*\}$", re.DOTALL)
#: An ARN inside free text or a policy document (``arn:aws:secretsmanager:…:secret:name``): a name, not a value.
_ARN = re.compile(r"\barn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(?:\d{12})?:[^\s\"',\]}]+")
_INTERPOLATION = re.compile(r"\$\{[^{}]*\}")
_UNKNOWN = "true_after_unknown"

# identifiers that look random but are not secrets
_IDENTIFIER = re.compile(
    r"^(arn:|[a-z]{1,12}(-[a-z0-9]{1,12})?-[0-9a-f]{8,17}$|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|"
    r"[0-9a-f]+$|[0-9A-F]+$|sha(1|256|384|512):|md5:|\d+(\.\d+)*$|ssh-(rsa|ed25519|dss) |ecdsa-sha2-)")
_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_\-=]{20,}")
_B64_CHARSET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/\\-_="
_PUBLIC_PEM = re.compile(r"-----BEGIN (CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|X509 CRL|CERTIFICATE REQUEST)-----"
                         r".*?-----END \1-----", re.DOTALL)
ENTROPY_LIMIT = 4.5          # bc-detect-secrets' Base64HighEntropyString default
ENTROPY_MIN_LEN = 20

# camelCase names of identifiers (``apiKeyId``, ``secretArn``) and IAM condition keys (``token.actions.…:aud``)
_CAMEL_NOT_SECRET_RE = re.compile(r"[a-z](Id|Ids|Arn|Arns|Name|Names|Type|Version|Enabled|From|Options)$")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    if ":" in name or _CAMEL_NOT_SECRET_RE.search(name):
        return False
    return bool(SECRET_NAME_RE.search(name)) and not NOT_SECRET_NAME_RE.search(name)


@functools.lru_cache(maxsize=1)
def _ds_plugins() -> tuple[Any, ...]:
    """The known-format detectors of bc-detect-secrets (not the keyword and entropy ones, judged here)."""
    try:
        from detect_secrets.plugins.artifactory import ArtifactoryDetector
        from detect_secrets.plugins.aws import AWSKeyDetector
        from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
        from detect_secrets.plugins.basic_auth import BasicAuthDetector
        from detect_secrets.plugins.discord import DiscordBotTokenDetector
        from detect_secrets.plugins.github_token import GitHubTokenDetector
        from detect_secrets.plugins.jwt import JwtTokenDetector
        from detect_secrets.plugins.mailchimp import MailchimpDetector
        from detect_secrets.plugins.npm import NpmDetector
        from detect_secrets.plugins.private_key import PrivateKeyDetector
        from detect_secrets.plugins.sendgrid import SendGridDetector
        from detect_secrets.plugins.slack import SlackDetector
        from detect_secrets.plugins.square_oauth import SquareOAuthDetector
        from detect_secrets.plugins.stripe import StripeDetector
        from detect_secrets.plugins.twilio import TwilioKeyDetector
    except ImportError:  # pragma: no cover - Checkov brings bc-detect-secrets; the own formats above still apply
        return ()
    return tuple(cls() for cls in (AWSKeyDetector, PrivateKeyDetector, BasicAuthDetector, JwtTokenDetector,
                                   GitHubTokenDetector, SlackDetector, StripeDetector, TwilioKeyDetector,
                                   SendGridDetector, NpmDetector, DiscordBotTokenDetector, AzureStorageKeyDetector,
                                   ArtifactoryDetector, MailchimpDetector, SquareOAuthDetector))


# what some detector of bc-detect-secrets needs to see before it can match (skips 15 regex passes on most strings)
_DS_HINT = re.compile(r"AKIA|ASIA|ABIA|ACCA|aws|AWS|PRIVATE|://|eyJ|gh[pousr]_|github|xox|slack|_live_|_test_|"
                      r"\b(?:AC|SK)[a-z0-9]{32}|SG\.|_authToken|AccountKey|AKC|\bAP[\dABCDEF]|-us\d|sq0|"
                      r"\b[MNO][a-zA-Z\d_-]{23,25}\.")
_SHORT_HINT = re.compile(r"[=:%@\s]")


def shannon_entropy(data: str, charset: str = _B64_CHARSET) -> float:
    if not data:
        return 0.0
    n = len(data)
    return -sum((c / n) * math.log2(c / n) for ch, c in Counter(data).items() if ch in charset)


_WORD_RUN = re.compile(r"[a-z]{3,}|[A-Z][a-z]{2,}")
_PATH_WORD = re.compile(r"^([a-z]{4,}|[a-z]+(_[a-z0-9]+)+)$")


_NAME_PART = re.compile(r"[^-_.:]+")


def _wordy(token: str) -> bool:
    """Mostly words (``security_waf_cloudfront-log-delivery_B309EC70``, ``customer-managed``,
    ``AWSManagedRulesCommonRuleSet``): a name, not a key. Judged part by part (the token split at ``- _ . :``, not at
    ``/``, a base64 character): a part counts as a word when word runs make up 80% of it and, longer than 6
    characters, it holds no digit; the words must make up half of the token. A random key has letter runs too
    (``rg30NnqsMRi...Ghutroad+MsGBcNem``: half of it in runs of 3+ letters), but mixed with digits and symbols; counting
    every run of the whole token called 1 random 40-character key in 17 a name (tests/compliance/test_secrets_archive.py)."""
    words = 0
    for part in _NAME_PART.findall(token):
        if sum(len(w) for w in _WORD_RUN.findall(part)) >= 0.8 * len(part) and \
                (len(part) <= 6 or not any(c.isdigit() for c in part)):
            words += len(part)
    return words >= 0.5 * len(token)


def _high_entropy_tokens(text: str) -> list[str]:
    out = []
    candidates = []
    for tok in _B64_TOKEN.findall(text):
        segments = tok.split("/")
        if len(segments) > 1 and "+" not in tok and any(_PATH_WORD.match(seg) for seg in segments):
            # a path: judge its parts (a path has no "+"; a random key with a lowercase run between two slashes and a
            # "+" is judged whole)
            candidates.extend(segments)
        else:
            candidates.append(tok)
    for tok in candidates:
        t = tok.strip("=-_/")
        if len(t) < ENTROPY_MIN_LEN or _IDENTIFIER.match(t) or _wordy(t):
            continue
        classes = sum((any(c.islower() for c in t), any(c.isupper() for c in t), any(c.isdigit() for c in t)))
        if classes < 3 and not any(c in "+/" for c in t):
            continue
        if shannon_entropy(t) >= ENTROPY_LIMIT:
            out.append(tok)
    return out


def _decoded_base64(value: str) -> str | None:
    """The text a base64 string encodes (standard or URL-safe alphabet), or None."""
    s = "".join(value.split())
    if len(s) < 12 or len(s) % 4 or not re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", s):
        return None
    try:
        raw = base64.b64decode(s.replace("-", "+").replace("_", "/"), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not text or sum(ch.isprintable() or ch in "\n\r\t" for ch in text) < 0.95 * len(text):
        return None
    return text


#: Bounds of the archive reader: a decompressed payload, one member, and the number of members judged.
_ARCHIVE_MAX_BYTES = 32 * 1024 * 1024
_MEMBER_MAX_BYTES = 1024 * 1024
_MEMBERS_MAX = 2000
#: A base64 blob at least this long that decodes to bytes which are not text is a binary payload (an artifact, an
#: image): its base64 text is not a token, so it is not judged by entropy (its decodable content is, below).
_BINARY_BLOB_MIN = 256


def _binary_base64(value: str) -> bytes | None:
    """The bytes of a long base64 blob that does not decode to text (a binary payload), else None."""
    s = "".join(value.split())
    if len(s) < _BINARY_BLOB_MIN or len(s) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", s):
        return None
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None


def _archive_texts(raw: bytes) -> list[str] | None:
    """The text files of a gzip payload (a gzipped tarball or one gzipped text), decompressed within bounds; None
    when ``raw`` is no gzip payload or exceeds the bounds (then it is judged as an opaque binary, see below)."""
    if raw[:2] != b"\x1f\x8b":
        return None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
            data = gz.read(_ARCHIVE_MAX_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        return None
    if len(data) > _ARCHIVE_MAX_BYTES:
        return None
    texts: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for n, member in enumerate(tar):
                if n >= _MEMBERS_MAX:
                    return None
                if not member.isfile() or member.size > _MEMBER_MAX_BYTES:
                    continue
                f = tar.extractfile(member)
                if f is None:
                    continue
                try:
                    texts.append(f.read().decode("utf-8"))
                except UnicodeDecodeError:
                    continue
        return texts
    except tarfile.TarError:
        try:
            return [data.decode("utf-8")]
        except UnicodeDecodeError:
            return []


def _json_document(value: str) -> Any:
    """The parsed JSON object or array a string holds, else None."""
    v = value.strip()
    if v[:1] not in ("{", "[") or len(v) <= 2:
        return None
    try:
        inner = json.loads(v)
    except ValueError:
        return None
    return inner if isinstance(inner, (dict, list)) else None


#: ``password=self.password()``, ``token: get_token(...)``, ``secret = os.environ[...]``: code that computes a
#: credential, not a literal one.
_CODE_VALUE = re.compile(r"[=:]\s*([A-Za-z_][\w.]*\(|[A-Za-z_][\w]*\.[A-Za-z_][\w.]*[,)\]]?$|os\.environ)")

#: A credential written as a quoted literal in code or config: ``PASSWORD = "…"``, ``api_key: '…'``.
_QUOTED_LITERAL = re.compile(
    r"""(?i)\b[\w-]*(?:password|passwd|secret|token|api_?key|private_?key)[\w-]*["']?\s*[=:]\s*"""
    r"""(?P<q>["'])(?P<value>[^"'\s$%{}<>]{6,})(?P=q)""")


def _format_secrets(text: str) -> list[str]:
    """Known credential formats only (the project's patterns and bc-detect-secrets' format detectors), line by line."""
    found = [m.group(0) for m in _ANY_SECRET_VALUE.finditer(text) if not _CODE_VALUE.search(m.group(0))]
    found += [m.group("value") for m in _QUOTED_LITERAL.finditer(text)]
    if _DS_HINT.search(text):
        for line in text.splitlines():
            if _DS_HINT.search(line):
                for plugin in _ds_plugins():
                    for ps in plugin.analyze_line(filename="plan", line=line, line_number=0):
                        if ps.secret_value:
                            found.append(ps.secret_value)
    return found


@functools.lru_cache(maxsize=16384)
def _secrets_in_text(text: str, entropy: bool = True, depth: int = 0) -> tuple[str, ...]:
    """The secret substrings of free text (formats, credential assignments, high-entropy tokens), after decoding."""
    if len(text) < 6 or text == _UNKNOWN or depth > 3:
        return ()
    if len(text) < 20 and not (len(text) >= 12 and len(text) % 4 == 0) and not _SHORT_HINT.search(text):
        return ()  # too short for a format, an entropy token or base64 credentials, and no assignment
    found: list[str] = []
    if text.startswith("arn:"):
        return ()  # an ARN names a resource (``...:secret:name-AbCdEf`` is a Secrets Manager secret's name)
    body = _PUBLIC_PEM.sub(" ", text) if "-----BEGIN" in text else text
    if "arn:" in body:
        body = _ARN.sub(" ", body)
    if "${" in body:
        body = _INTERPOLATION.sub(" ", body)  # references are not literals
        if len(body.strip()) < 6:
            return ()
    doc = _json_document(body)
    if doc is not None:
        return tuple(s for _, s in _walk_secrets(doc, "", entropy, depth + 1))
    if "%" in body:
        unq = urllib.parse.unquote(body)
        if unq != body:
            found.extend(_secrets_in_text(unq, entropy, depth + 1))
    decoded = _decoded_base64(body) if len(body) >= 12 else None
    if decoded is not None:
        inner = _secrets_in_text(decoded, entropy, depth + 1)
        if not inner and _USER_PASS.match(decoded.strip()):
            inner = (decoded.strip(),)  # base64("user:password"): HTTP Basic credentials
        if inner:
            return tuple(dict.fromkeys((*inner, text)))
        return tuple(found)
    raw = _binary_base64(body)
    if raw is not None:
        # A binary payload (e.g. the reference workload's tarball in ``content_base64``): judged by what it holds. A
        # gzip payload is decompressed (tar members read as text, within bounds) and every text judged like any
        # other; another binary is not a credential by its entropy (a random key is tens of bytes, not hundreds).
        # Archive members are mostly source code, where ``password=self.password()`` is code, not a credential:
        # they are judged by the known credential formats (keys, tokens, private keys), as code scanners do.
        for member in _archive_texts(raw) or ():
            if _format_secrets(member):
                return tuple(dict.fromkeys((*found, text)))  # the payload itself is what an output must not show
        return tuple(found)
    for m in _ANY_SECRET_VALUE.finditer(body):
        found.append(m.group(0))
    if _DS_HINT.search(body):
        for plugin in _ds_plugins():
            for ps in plugin.analyze_line(filename="plan", line=body, line_number=0):
                if ps.secret_value:
                    found.append(ps.secret_value)
    for m in _CURL_USER.finditer(body):
        found.append(m.group(1))
    for m in _ASSIGN.finditer(body):
        name, value = m.group("name"), m.group("value")
        if not is_secret_name(name) or _VALUE_REF.match(value) or len(value) < 6:
            continue
        if m.group("sep") != "=":
            if m.group("sep") == ":" and not body[m.end("sep"):m.end("sep") + 1].isspace() and \
                    body[m.start("name") - 1:m.start("name")] not in ("'", '"'):
                continue  # secretsmanager:GetSecretValue, a namespaced token
            if not re.search(r"[^A-Za-z-]", value) and not (re.search(r"[a-z]", value) and
                                                            re.search(r"[A-Z]", value[1:])):
                continue  # "Secret: stored in ...", "secrets: customer-managed key": prose, not a credential
        found.append(value)
    if entropy:
        found.extend(_high_entropy_tokens(body))
    return tuple(dict.fromkeys(found))


def secret_parts(name: str, value: str, *, entropy: bool = True) -> tuple[str, ...]:
    """The secret substrings of one attribute value (the whole value for a literal under a secret name)."""
    if not isinstance(value, str) or not value or value == _UNKNOWN:
        return ()
    stripped = value.strip()
    if name and is_secret_name(name):
        if _REF.match(stripped) or stripped.startswith("arn:") or stripped.lower() in ("true", "false", ""):
            return ()
        doc = _json_document(stripped)
        if doc is None:
            return (value,)
    judge_entropy = entropy and not (name and _no_entropy_name(name))
    return _secrets_in_text(value, judge_entropy)


@functools.lru_cache(maxsize=4096)
def _no_entropy_name(name: str) -> bool:
    return _NO_ENTROPY_NAME_RE.search(name) is not None


def looks_like_secret_value(value: str) -> bool:
    if not isinstance(value, str) or len(value) < 8 or value.startswith("arn:"):
        return False
    return bool(_secrets_in_text(value, True))


def literal_secret(name: str, value: Any) -> bool:
    """A plaintext secret: a literal non-empty string under a secret-looking name, or a secret by value."""
    return isinstance(value, str) and bool(secret_parts(name, value))


def _walk_secrets(body: Any, path: str, entropy: bool = True, depth: int = 0,
                  name: str = "") -> Iterator[tuple[str, str]]:
    """``(path, secret substring)`` for every secret anywhere in ``body``."""
    if isinstance(body, dict):
        # {"name": "DB_PASSWORD", "value": "..."} (ECS/Lambda/Beanstalk environment style)
        pair_name = body.get("name") if isinstance(body.get("name"), str) else body.get("Name")
        for k, v in body.items():
            if k == "//":
                continue
            p = f"{path}.{k}" if path else str(k)
            key = str(k)
            if k in ("value", "Value") and isinstance(pair_name, str) and is_secret_name(pair_name):
                key = pair_name
            yield from _walk_secrets(v, p, entropy, depth, key)
    elif isinstance(body, list):
        flag: str | None = None
        for i, v in enumerate(body):
            p = f"{path}[{i}]"
            if isinstance(v, str) and flag is not None:
                # ["--password", "hunter2"] (container commands, CLI argument lists)
                if not _VALUE_REF.match(v) and len(v) >= 4:
                    yield p, v
                flag = None
                continue
            if isinstance(v, str) and v.startswith("-") and "=" not in v and is_secret_name(v.lstrip("-")):
                flag = v
                continue
            yield from _walk_secrets(v, p, entropy, depth, name)
    elif isinstance(body, str):
        for s in secret_parts(name, body, entropy=entropy):
            yield path, s


def find_literal_secrets(body: Any, path: str = "") -> Iterator[str]:
    """Yield dotted paths of plaintext secrets anywhere in ``body`` (JSON documents and base64 in strings included)."""
    seen: set[str] = set()
    for p, _ in _walk_secrets(body, path):
        if p not in seen:
            seen.add(p)
            yield p


def mask(value: Any, sensitive: Any = None, name: str = "") -> Any:
    """Return ``value`` with every sensitive or secret leaf replaced by :data:`MASK`.

    ``sensitive`` mirrors the structure of ``value`` the way a plan's ``after_sensitive`` does (``true`` marks a
    sensitive subtree)."""
    if sensitive is True:
        return MASK if value is not None else None
    if isinstance(value, dict):
        sens = sensitive if isinstance(sensitive, dict) else {}
        out = {k: mask(v, sens.get(k), str(k)) for k, v in value.items()}
        pair_name = value.get("name") if isinstance(value.get("name"), str) else value.get("Name")
        if isinstance(pair_name, str) and is_secret_name(pair_name):
            for vk in ("value", "Value"):
                if value.get(vk) is not None:
                    out[vk] = MASK
        return out
    if isinstance(value, list):
        sens_l = sensitive if isinstance(sensitive, list) else []
        out_l = [mask(v, sens_l[i] if i < len(sens_l) else None, name) for i, v in enumerate(value)]
        for i, v in enumerate(value[:-1]):  # ["--password", "hunter2"]
            if isinstance(v, str) and v.startswith("-") and "=" not in v and is_secret_name(v.lstrip("-")):
                out_l[i + 1] = MASK if value[i + 1] is not None else None
        return out_l
    if value is None or isinstance(value, bool):
        return value
    if name and is_secret_name(name) and not (isinstance(value, str) and _json_document(value) is not None):
        return MASK
    if isinstance(value, str):
        doc = _json_document(value)
        if doc is not None:
            masked = mask(doc, None, "")
            return json.dumps(masked, sort_keys=True) if masked != doc else value
        if secret_parts(name, value):
            return MASK
    return value


def encodings(secret: str) -> list[str]:
    """The forms a secret may take in an output: itself, base64 (standard and URL-safe, with and without padding),
    URL-encoded, JSON-escaped."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
             json.dumps(secret)[1:-1]}
    raw = secret.encode()
    for enc in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms.add(enc)
        forms.add(enc.rstrip("="))
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def collect_secrets(plan: Any) -> list[str]:
    """Every secret string of a plan JSON (or any JSON): values Terraform marks sensitive, values under secret
    names, secret values anywhere (resource changes, planned values, prior state, configuration constants,
    variables, outputs).  Renderers scrub these, and their encodings, from whatever they print."""
    found: set[str] = set()

    def sensitive_leaves(value: Any, marks: Any) -> None:
        if marks is True:
            if isinstance(value, str):
                found.add(value)
            elif isinstance(value, (dict, list)):
                for leaf in _leaves(value):
                    found.add(leaf)
        elif isinstance(marks, dict) and isinstance(value, dict):
            for k, m in marks.items():
                sensitive_leaves(value.get(k), m)
        elif isinstance(marks, list) and isinstance(value, list):
            for v, m in zip(value, marks):
                sensitive_leaves(v, m)

    if isinstance(plan, dict):
        for rc in list(plan.get("resource_changes") or ()) + list(plan.get("resource_drift") or ()):
            ch = rc.get("change") if isinstance(rc, dict) else None
            if isinstance(ch, dict):
                sensitive_leaves(ch.get("before"), ch.get("before_sensitive"))
                sensitive_leaves(ch.get("after"), ch.get("after_sensitive"))
        for oc in (plan.get("output_changes") or {}).values():
            if isinstance(oc, dict):
                sensitive_leaves(oc.get("before"), oc.get("before_sensitive"))
                sensitive_leaves(oc.get("after"), oc.get("after_sensitive"))
        cfg_vars = ((plan.get("configuration") or {}).get("root_module") or {}).get("variables") or {}
        for vname, var in (plan.get("variables") or {}).items():
            if isinstance(var, dict) and ((cfg_vars.get(vname) or {}).get("sensitive") or is_secret_name(vname)):
                sensitive_leaves(var.get("value"), True)
    for _, s in _walk_secrets(plan, ""):
        found.add(s)
    return sorted((s for s in found if isinstance(s, str) and len(s) >= 4 and s != MASK), key=len, reverse=True)


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Last line of defence for free text: replace known secret strings (and their base64/URL/JSON encodings) and
    credential-shaped substrings."""
    forms: set[str] = set()
    for s in secrets:
        if s and len(s) >= 4 and s != MASK:
            forms.update(encodings(s))
    for f in sorted(forms, key=len, reverse=True):
        if f in text:
            text = text.replace(f, MASK)
    for r in SECRET_VALUE_RES:
        text = r.sub(MASK, text)
    return text
