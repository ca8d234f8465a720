"""Keyset pagination on (create_time, id), shared by every list query: as a SQLAlchemy select, or as
plain SQL for the lists on the hot path (server/store/sql.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.domain.listing import Cursor


def keyset(query: sa.Select[Any], table: sa.Table, desc: bool, after: Cursor | None, limit: int) -> sa.Select[Any]:
    key = sa.tuple_(table.c.create_time, table.c.id)
    if after is not None:
        query = query.where(key < (after.create_time, after.id) if desc else key > (after.create_time, after.id))
    order = [table.c.create_time.desc(), table.c.id.desc()] if desc else [table.c.create_time, table.c.id]
    return query.order_by(*order).limit(limit)


_OPS = frozenset({"=", "<", "<=", ">", ">="})


def keyset_sql(
    select: str, where: list[tuple[str, str, object]], desc: bool, after: Cursor | None, limit: int
) -> tuple[str, list[object]]:
    """(statement, arguments) of the same page in plain SQL. `select` is `SELECT … FROM <table>`; `where`
    is (column, operator, value), the columns named by the caller's table and listing rules."""
    args: list[object] = []
    clauses = []
    for column, op, value in where:
        if op not in _OPS or not column.isidentifier():
            raise ValueError(f"not a filter: {column} {op}")
        args.append(value)
        clauses.append(f"{column} {op} ${len(args)}")
    if after is not None:
        args += [after.create_time, after.id]
        clauses.append(f"(create_time, id) {'<' if desc else '>'} (${len(args) - 1}, ${len(args)}::uuid)")
    direction = "DESC" if desc else "ASC"
    args.append(limit)
    condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"{select}{condition} ORDER BY create_time {direction}, id {direction} LIMIT ${len(args)}", args
