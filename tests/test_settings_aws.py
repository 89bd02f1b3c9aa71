"""Values AWS would refuse fail at load: where the lists come from (botocore, cfn-lint's pricing data), and that no
number field lets cdktf's encoded number tokens through (a number is data, like a string)."""
from __future__ import annotations

import copy
import tomllib
import typing
from typing import Any, Iterator

import pytest
from pydantic import BaseModel

from envs import SettingsError, aws_catalog
from envs.loader import DEFAULT_ENVS_DIR, validate
from envs.schema import EnvironmentSettings

#: The doubles cdktf encodes number tokens as (a bit pattern around -1.888e289); as a float and as an integer.
CDKTF_NUMBER_TOKEN = -1.8881545897087626e+289


def test_regions_are_botocores_commercial_partition() -> None:
    from botocore.loaders import Loader

    partitions = Loader().load_data("endpoints")["partitions"]
    aws = next(p for p in partitions if p["partition"] == "aws")
    assert aws_catalog.commercial_regions() == frozenset(aws["regions"])
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= aws_catalog.commercial_regions()
    assert not {"us-gov-west-1", "cn-north-1", "eu-moon-1"} & aws_catalog.commercial_regions()


def test_instance_types_are_botocores_ec2_enum() -> None:
    from botocore.loaders import Loader

    enum = Loader().load_service_model("ec2", "service-2")["shapes"]["InstanceType"]["enum"]
    assert aws_catalog.ec2_instance_types() == frozenset(enum)
    assert {"t3.micro", "m6i.large", "t4g.micro"} <= aws_catalog.ec2_instance_types()


def test_database_and_cache_classes_per_region() -> None:
    rds, known = aws_catalog.rds_postgres_classes("us-east-1")
    assert known and {"db.t4g.micro", "db.r6g.large"} <= rds and "db.t9.micro" not in rds
    cache, known = aws_catalog.cache_node_types("us-east-1")
    assert known and {"cache.t4g.micro", "cache.r6g.large"} <= cache and "cache.t4g.huge" not in cache
    union, known = aws_catalog.rds_postgres_classes("xx-nowhere-1")  # a region the catalogue does not know yet
    assert not known and rds <= union


@pytest.mark.parametrize("text, limit, problem", [
    ("team", 256, None), ("Team Ops_1 .:/=+-@", 256, None), ("équipe données", 256, None),
    ("o" * 256, 256, None), ("o" * 257, 256, "257 characters"), ("k" * 129, 128, "129 characters"),
    ("a;b", 256, "';'"), ("${x}", 256, "'$'"), ("AWS:thing", 256, "aws:"),
])
def test_tag_text_rules(text: str, limit: int, problem: str | None) -> None:
    found = aws_catalog.tag_text_problem(text, limit)
    assert (found is None) if problem is None else (problem in found)


def _numeric_paths(model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], type]]:
    for name, field in model.model_fields.items():
        yield from _numbers(field.annotation, (*prefix, name))


def _numbers(annotation: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], type]]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in (int, float):
        yield path, annotation
    elif origin is typing.Annotated:
        yield from _numbers(args[0], path)
    elif origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        for arg in args:
            yield from _numbers(arg, path)
    elif origin in (tuple, list):
        yield from _numbers(args[0], (*path, 0))
    elif origin is dict:
        yield from _numbers(args[1], (*path, "<value>"))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _numeric_paths(annotation, path)


def _put(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node: Any = out
    for part, nxt in zip(path[:-1], path[1:]):
        if isinstance(node, dict) and part not in node:
            node[part] = [] if isinstance(nxt, int) else {}
        node = node[part]
    if isinstance(node, list):
        node[:] = [value]
    else:
        node[path[-1]] = value
    return out


def test_no_number_field_accepts_a_cdktf_number_token() -> None:
    base = tomllib.loads((DEFAULT_ENVS_DIR / "dev.toml").read_text())
    base["observability"]["tracing"] = {"services": {"api": 0.1}}
    base["integration"]["api_partners"][0].update(rate_limit=5)
    validate(base, "number-token.toml")  # the base is valid: a refusal below is the number's
    paths = list(_numeric_paths(EnvironmentSettings))
    assert len(paths) > 80
    accepted = []
    for path, kind in paths:
        if path[-1] == "<value>":  # a mapping's values (initial weights, sampling rates): replace the mapping
            node: Any = base
            for part in path[:-2]:
                node = node.setdefault(part, {})
            mapping = dict(node.get(path[-2]) or {"blue": 100, "green": 0})
            doc = copy.deepcopy(base)
            target: Any = doc
            for part in path[:-2]:
                target = target.setdefault(part, {})
            target[path[-2]] = {key: (int(CDKTF_NUMBER_TOKEN) if kind is int else CDKTF_NUMBER_TOKEN)
                                for key in mapping}
        else:
            doc = _put(base, path, int(CDKTF_NUMBER_TOKEN) if kind is int else CDKTF_NUMBER_TOKEN)
        try:
            validate(doc, "number-token.toml")
        except SettingsError:
            continue
        accepted.append(".".join(map(str, path)))
    assert accepted == [], f"number fields without a lower bound: {accepted}"
