"""What AWS accepts, from offline catalogues: regions, instance types, tag characters, VPC ranges.

Settings that AWS would refuse at apply fail at load instead (exit 2). The lists are not kept by hand:

* regions: the commercial partition (``aws``) of botocore's bundled endpoints data (``botocore/data/endpoints.json``);
* EC2 instance types: the ``InstanceType`` enum of botocore's EC2 service model;
* RDS PostgreSQL instance classes and ElastiCache node types, per region: cfn-lint's schema extensions
  (``cfnlint/data/schemas/extensions/aws_rds_dbinstance/dbinstanceclass_enum.json`` and
  ``aws_elasticache_cachecluster/cachenodetype_enum.json``), which cfn-lint generates from the AWS Pricing API.
  botocore has no enum for either (``DBInstanceClass`` and ``CacheNodeType`` are plain strings in its models), and
  this is the only offline, per-region list installed with the project.

Each catalogue is read once, when first needed (a settings file that names none of them costs nothing).
"""
from __future__ import annotations

import importlib.util
import ipaddress
import json
import unicodedata
from functools import lru_cache
from pathlib import Path

#: Tag limits, https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html ("Tag naming limits and
#: requirements") and every service's ``Tag`` API shape (e.g.
#: https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_Tag.html): keys 1 to 128
#: and values 0 to 256 Unicode characters of the pattern ``^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`` (letters, separators
#: such as spaces, numbers and ``_ . : / = + - @``); the prefix ``aws:`` is reserved.
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAG_SYMBOLS = "_.:/=+-@"

#: The only ranges a VPC may use here: RFC 1918 (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
#: recommends them; everything else is public or reserved: 0/8, 127/8, 169.254/16, 100.64/10 shared address space,
#: 198.18/15 benchmarking, multicast, 240/4).
RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
#: Inside RFC 1918 but used by AWS services themselves (Docker's default bridge in Cloud9, SageMaker): the same page
#: says not to use it for a VPC.
AWS_SERVICE_RANGE = ipaddress.IPv4Network("172.17.0.0/16")


def tag_text_problem(text: str, limit: int) -> str | None:
    """Why ``text`` cannot be an AWS tag key/value (``limit`` characters at most), or None when it can."""
    if len(text) > limit:
        return f"is {len(text)} characters long; AWS allows at most {limit}"
    bad = sorted({c for c in text if not (unicodedata.category(c)[0] in "LZN" or c in TAG_SYMBOLS)})
    if bad:
        return (f"contains {', '.join(repr(c) for c in bad)}, outside AWS's tag characters (letters, numbers, spaces "
                f"and {' '.join(TAG_SYMBOLS)})")
    if text.lower().startswith("aws:"):
        return "starts with 'aws:', a prefix AWS reserves"
    return None


def vpc_range_problem(net: ipaddress.IPv4Network) -> str | None:
    """Why ``net`` cannot be a VPC's private range, or None when it can."""
    if not any(net.subnet_of(private) for private in RFC1918):
        kind = ("loopback" if net.is_loopback else "link-local" if net.is_link_local else
                "multicast" if net.is_multicast else "reserved" if net.is_reserved else
                "shared address space (RFC 6598)" if net.subnet_of(ipaddress.IPv4Network("100.64.0.0/10")) else
                "benchmarking (RFC 2544)" if net.subnet_of(ipaddress.IPv4Network("198.18.0.0/15")) else
                "'this network' (RFC 1122)" if net.subnet_of(ipaddress.IPv4Network("0.0.0.0/8")) else
                "documentation (RFC 5737)" if net.subnet_of(ipaddress.IPv4Network("192.0.2.0/24")) or
                net.subnet_of(ipaddress.IPv4Network("198.51.100.0/24")) or
                net.subnet_of(ipaddress.IPv4Network("203.0.113.0/24")) else
                "public" if net.is_global else "special-purpose")
        return f"{net} is a {kind} range, not a private (RFC 1918) one"
    if net.overlaps(AWS_SERVICE_RANGE):
        return f"{net} overlaps {AWS_SERVICE_RANGE}, which AWS services use themselves"
    return None


@lru_cache(maxsize=1)
def _botocore_loader():  # type: ignore[no-untyped-def]
    from botocore.loaders import Loader

    return Loader()


@lru_cache(maxsize=1)
def commercial_regions() -> frozenset[str]:
    """Regions of the commercial partition (``aws``) in botocore's endpoints data."""
    data = _botocore_loader().load_data("endpoints")
    return frozenset(next(p for p in data["partitions"] if p["partition"] == "aws")["regions"])


@lru_cache(maxsize=1)
def ec2_instance_types() -> frozenset[str]:
    """The ``InstanceType`` enum of botocore's EC2 service model."""
    model = _botocore_loader().load_service_model("ec2", "service-2")
    return frozenset(model["shapes"]["InstanceType"]["enum"])


def _cfnlint_extension(name: str) -> dict:
    spec = importlib.util.find_spec("cfnlint")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed; install the project's dependencies (pip install -e .)")
    root = Path(next(iter(spec.submodule_search_locations)))
    return json.loads((root / "data" / "schemas" / "extensions" / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _rds_classes() -> dict[str, frozenset[str]]:
    data = _cfnlint_extension("aws_rds_dbinstance/dbinstanceclass_enum.json")
    out: dict[str, frozenset[str]] = {}
    for region, schema in data.items():
        if not isinstance(schema, dict):
            continue  # "description" and the like
        classes: set[str] = set()
        for case in schema.get("allOf", ()):
            engine = case.get("if", {}).get("properties", {}).get("Engine")
            if isinstance(engine, dict) and engine.get("const") == "postgres":
                classes.update(case["then"]["properties"]["DBInstanceClass"].get("enum", ()))
        out[region] = frozenset(classes)
    return out


@lru_cache(maxsize=1)
def _cache_node_types() -> dict[str, frozenset[str]]:
    data = _cfnlint_extension("aws_elasticache_cachecluster/cachenodetype_enum.json")
    return {region: frozenset(schema.get("enum", ())) for region, schema in data.items() if isinstance(schema, dict)}


def _in_region(catalogue: dict[str, frozenset[str]], region: str) -> tuple[frozenset[str], bool]:
    """The region's list, or the union of every region's when the catalogue does not know it (then False)."""
    if region in catalogue:
        return catalogue[region], True
    return frozenset().union(*catalogue.values()), False


def rds_postgres_classes(region: str) -> tuple[frozenset[str], bool]:
    """RDS for PostgreSQL instance classes offered in ``region`` (and whether the catalogue knows the region)."""
    return _in_region(_rds_classes(), region)


def cache_node_types(region: str) -> tuple[frozenset[str], bool]:
    """ElastiCache node types offered in ``region`` (and whether the catalogue knows the region)."""
    return _in_region(_cache_node_types(), region)


def closest(value: str, choices: frozenset[str], n: int = 3) -> str:
    """Up to ``n`` suggestions for a misspelt ``value``, for the fix part of a message."""
    import difflib

    found = difflib.get_close_matches(value, sorted(choices), n=n)
    return f" (closest: {', '.join(found)})" if found else ""
