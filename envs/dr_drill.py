"""``[data.dr.drill]``: what the disaster-recovery drill (``dr drill``, ``pipeline/dr_drill.py``) validates.

The backup-time job records, for every table named here, its row count and a checksum of its rows, and the result
of every query named here; the drill restores the latest cross-region backup into an isolated copy and runs the same
queries there. Settings are data: table names must be plain SQL identifiers (optionally ``schema.table``) and are
quoted by the drill; queries are read-only (``SELECT``/``WITH``, one statement, run in a READ ONLY transaction).
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from .base import Section

_IDENT = r"[a-z_][a-z0-9_]{0,62}"
_TABLE = re.compile(rf"^({_IDENT}\.)?{_IDENT}$")
_QUERY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_READ_ONLY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
#: RDS allows 50 tags per resource; the instance's own tags are copied to its snapshots (about ten), so the manifest
#: (one tag per table and per query, plus three) keeps to 30 entries.
MAX_ENTRIES = 30


class DrillSettings(Section):
    """``[data.dr.drill]``: the tables and queries the DR drill validates against the manifest recorded at backup
    time (docs/data-tier.md "DR drill")."""

    tables: list[Annotated[str, Field(min_length=1, max_length=127)]] = []
    """Tables whose row count and checksum (md5 over the sorted md5 of every row's text) are recorded at backup time
    and compared after the restore: lowercase SQL identifiers, optionally ``schema.table``. Default: none (the drill
    refuses to run without a table or a query)."""
    queries: dict[str, Annotated[str, Field(min_length=1, max_length=2000)]] = {}
    """Named read-only queries (``SELECT``/``WITH``, one statement) whose result is recorded at backup time and
    compared after the restore, e.g. ``orders_total = "SELECT sum(total_cents) FROM orders"``. Default: none."""
    database: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] | None = None
    """Database to validate. Default: `data.database.db_name`."""

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _TABLE.match(name):
                raise ValueError(f"{name!r} is not a table name; data.dr.drill.tables takes lowercase SQL identifiers "
                                 "like \"orders\" or \"sales.orders\"")
        if len(set(value)) != len(value):
            raise ValueError("data.dr.drill.tables names a table twice; list each table once")
        return value

    @field_validator("queries")
    @classmethod
    def _queries(cls, value: dict[str, str]) -> dict[str, str]:
        for name, sql in value.items():
            if not _QUERY_NAME.match(name):
                raise ValueError(f"{name!r} is not a query name; name data.dr.drill.queries entries with lowercase "
                                 "letters, digits and underscores (up to 40), e.g. orders_total")
            if not _READ_ONLY.match(sql) or ";" in sql.strip().rstrip(";"):
                raise ValueError(f"data.dr.drill.queries.{name} must be one read-only statement starting with SELECT "
                                 "or WITH (it runs in a READ ONLY transaction)")
        return value

    def entries(self) -> int:
        return len(self.tables) + len(self.queries)

    @model_validator(mode="after")
    def _size(self) -> "DrillSettings":
        if self.entries() > MAX_ENTRIES:
            raise ValueError(f"data.dr.drill names {self.entries()} tables and queries; at most {MAX_ENTRIES} fit in "
                             "the snapshot tags that carry the manifest")
        return self
