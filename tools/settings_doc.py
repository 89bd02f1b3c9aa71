"""The environment settings reference, generated from the schema (field docstrings state the defaults).

A development tool (not shipped in the package): ``python tools/settings_doc.py`` prints it; ``--write README.md``
replaces the part of the README between the ``settings-reference`` markers. A test keeps the README in step with the
schema (tests/test_project.py).
"""
from __future__ import annotations

import argparse
import sys
import typing
from enum import Enum
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the checkout: envs/ importable

from pydantic import BaseModel

from envs.schema import EnvironmentSettings

BEGIN, END = "<!-- settings-reference:begin -->", "<!-- settings-reference:end -->"


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return "table"
    if origin is typing.Literal:
        return " / ".join(f'"{a}"' for a in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " / ".join(f'"{m.value}"' for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def _list_item_model(annotation: object) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            return args[0]
    return None


def _rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        description = " ".join((field.description or "").split())
        rows.append((path, _type_name(annotation), description))
        nested = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if nested is not None:
            rows.extend(_rows(nested, f"{path}."))
        item = _list_item_model(annotation)
        if item is not None:  # the fields of each entry of a list of tables: `<list>[].<field>`
            rows.extend(_rows(item, f"{path}[]."))
    return rows


def render() -> str:
    lines = ["| setting | type | meaning and default |", "| --- | --- | --- |"]
    for path, kind, description in _rows(EnvironmentSettings):
        lines.append(f"| `{path}` | {kind} | {description.replace('|', '/')} |")
    return "\n".join(lines)


def replace_in(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + render() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", metavar="FILE", help="replace the reference between the markers in FILE")
    args = parser.parse_args(argv)
    if args.write:
        path = Path(args.write)
        path.write_text(replace_in(path.read_text()))
    else:
        sys.stdout.write(render() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
