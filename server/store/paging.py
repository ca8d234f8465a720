"""Keyset pagination on (create_time, id), shared by every list query."""

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
