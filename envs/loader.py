"""Load and validate ``envs/<name>.toml`` into :class:`EnvironmentSettings`.

Every problem becomes a :class:`SettingsError` line naming the file, the field and the fix; the CLI turns them into
exit code 2 before anything is synthesized.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from pydantic import ValidationError

from .schema import CrossFieldError, EnvironmentSettings

#: The folder holding the settings files; ``PLATFORM_ENVS_DIR`` or ``--envs-dir`` point elsewhere.
DEFAULT_ENVS_DIR = Path(__file__).resolve().parent
ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class SettingsError(ValueError):
    """Bad settings: one or more problems, each naming the file, the field and the fix."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def envs_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The settings folder: ``override``, else ``$PLATFORM_ENVS_DIR``, else the ``envs/`` package folder."""
    chosen = override or os.environ.get("PLATFORM_ENVS_DIR")
    return Path(chosen) if chosen else DEFAULT_ENVS_DIR


def available(directory: Path | None = None) -> tuple[str, ...]:
    """Names of the environments that have a settings file, in promotion order (dev, staging, prod, others)."""
    names = sorted(p.stem for p in (directory or envs_dir()).glob("*.toml"))
    return tuple(sorted(names, key=lambda n: (ENVIRONMENTS.index(n) if n in ENVIRONMENTS else len(ENVIRONMENTS), n)))


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-")) or "(file)"


def _problems_from(error: ValidationError, file: str) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        ctx_error = (item.get("ctx") or {}).get("error")
        prefix = _field_path(tuple(item["loc"]))
        if isinstance(ctx_error, CrossFieldError):
            problems.extend(Problem(file, f"{prefix + '.' if prefix != '(file)' else ''}{field}", msg)
                            for field, msg in ctx_error.problems)
            continue
        kind = item["type"]
        message = str(ctx_error) if ctx_error is not None else item["msg"]
        given = item.get("input")
        if kind in ("int_type", "float_type", "int_from_float") and isinstance(given, bool):
            message = f"is {str(given).lower()}, a boolean, but must be a number; write a number"
        elif kind == "bool_type" and isinstance(given, (int, float)):
            message = f"is {given!r}, a number, but must be true or false; write true or false (no quotes)"
        elif kind == "missing":
            message = "is required but missing; add it to the file (see the settings reference in README.md)"
        elif kind == "extra_forbidden":
            message = "is not a known setting; remove it or fix its spelling (see the settings reference in README.md)"
        elif kind in ("string_pattern_mismatch", "enum", "literal_error", "int_parsing", "greater_than_equal",
                      "less_than_equal", "greater_than", "less_than", "string_too_short", "string_too_long",
                      "bool_parsing", "string_type", "int_type", "int_from_float", "float_type", "bool_type",
                      "list_type", "tuple_type", "dict_type", "model_type", "model_attributes_type"):
            message = f"{item['msg']} (got {item.get('input')!r}); fix the value"
        problems.append(Problem(file, prefix, message))
    return problems


#: The markers cdktf encodes its own references with inside strings (``${TfToken[TOKEN.n]}``, ``#{...}`` for lists,
#: ``&{...}`` for maps): a settings string holding one would be replaced by a Terraform reference at synthesis.
CDKTF_TOKEN_MARKER = "TfToken["


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a parsed TOML document (keys too), with its dotted field path."""
    if isinstance(value, str):
        yield path or "(file)", value
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub, str(key)
            yield from _strings(item, sub)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")


def _toml_scalar(value: Any) -> Any:
    """JSON stand-in for TOML dates and times: an object no setting accepts (no setting is a date)."""
    if isinstance(value, (datetime.date, datetime.time)):
        return {"TOML date/time": value.isoformat()}
    raise TypeError(f"unexpected TOML value {value!r}")


def _read(path: Path, shown: str) -> dict[str, Any]:
    """The parsed TOML of ``path``; every way it can fail is a :class:`SettingsError` naming the file."""
    def bad(message: str) -> SettingsError:
        return SettingsError([Problem(shown, "(file)", message)])

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise bad("does not exist; create it (copy envs/dev.toml) or choose another --env") from None
    except IsADirectoryError:
        raise bad("is a folder, not a settings file; point at an envs/<name>.toml file") from None
    except OSError as exc:
        raise bad(f"cannot be read ({exc.strerror or exc}); check its permissions") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as "
                  "UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise bad(f"is not valid TOML: {exc}; fix the syntax") from None


def validate(raw: Mapping[str, Any], shown: str) -> EnvironmentSettings:
    """Validate a parsed settings document strictly: types as written (no ``1`` for ``true``, no ``true`` for a
    number, no ``"5"`` for 5), every rule of the schema, and no cdktf token marker in any string."""
    markers = [Problem(shown, field, f"contains {CDKTF_TOKEN_MARKER!r}, the marker of cdktf's internal references "
                                     "(synthesis would replace it with a Terraform reference); remove it")
               for field, text in _strings(raw) if CDKTF_TOKEN_MARKER in text]
    if markers:
        raise SettingsError(markers)
    try:
        # JSON mode is pydantic's strict mode for data from a file: TOML arrays fill tuples, strings fill enums,
        # and a boolean is never a number (nor a number a boolean).
        return EnvironmentSettings.model_validate_json(json.dumps(raw, default=_toml_scalar), strict=True)
    except ValidationError as exc:
        raise SettingsError(_problems_from(exc, shown)) from None


def load_file(path: Path) -> EnvironmentSettings:
    """Parse and validate one settings file; raise :class:`SettingsError` naming the file on any problem."""
    shown = str(path)
    settings = validate(_read(path, shown), shown)
    if settings.name != path.stem:
        raise SettingsError([Problem(shown, "name", f"is {settings.name!r} but the file is {path.name}; set "
                                                    f"name = \"{path.stem}\"")])
    return settings


def load(name: str, directory: Path | None = None) -> EnvironmentSettings:
    """Load the environment ``name`` from the settings folder."""
    folder = directory or envs_dir()
    if not folder.is_dir():
        raise SettingsError([Problem(str(folder), "--envs-dir", "is not a folder of settings files; point "
                                                              "--envs-dir (or PLATFORM_ENVS_DIR) at one, e.g. envs/")])
    if name not in available(folder):
        raise SettingsError([Problem(str(folder / f"{name}.toml"), "--env",
                                     f"no environment {name!r}; choose one of: {', '.join(available(folder))}")])
    return load_file(folder / f"{name}.toml")


def load_all(names: Iterable[str] | None = None, directory: Path | None = None) -> dict[str, EnvironmentSettings]:
    """Load several environments (all by default) and apply the rules across them (no overlapping VPC CIDRs).

    Raises one :class:`SettingsError` holding every problem of every file.
    """
    folder = directory or envs_dir()
    if not folder.is_dir():
        raise SettingsError([Problem(str(folder), "--envs-dir", "is not a folder of settings files; point "
                                                              "--envs-dir (or PLATFORM_ENVS_DIR) at one, e.g. envs/")])
    wanted = tuple(names) if names is not None else available(folder)
    if not wanted:
        raise SettingsError([Problem(str(folder), "--envs-dir", "holds no settings file (<name>.toml); add one "
                                                              "(copy envs/dev.toml) or point --envs-dir elsewhere")])
    loaded: dict[str, EnvironmentSettings] = {}
    problems: list[Problem] = []
    for name in wanted:
        try:
            loaded[name] = load(name, folder)
        except SettingsError as exc:
            problems.extend(exc.problems)
    # Overlap is checked against every environment on file, not only those asked for.
    others: Mapping[str, EnvironmentSettings] = dict(loaded)
    for name in available(folder):
        if name not in others:
            try:
                others = {**others, name: load_file(folder / f"{name}.toml")}
            except SettingsError:
                pass  # reported when that environment itself is loaded
    for (a, sa), (b, sb) in combinations(sorted(others.items()), 2):
        if a not in loaded and b not in loaded:
            continue
        if ipaddress.IPv4Network(sa.network.vpc_cidr).overlaps(ipaddress.IPv4Network(sb.network.vpc_cidr)):
            target = b if b in loaded else a
            problems.append(Problem(str(folder / f"{target}.toml"), "network.vpc_cidr",
                                    f"{others[target].network.vpc_cidr} overlaps {a if target == b else b}'s "
                                    f"{(sa if target == b else sb).network.vpc_cidr}; give every environment its own "
                                    "non-overlapping range"))
    if problems:
        raise SettingsError(problems)
    return loaded
