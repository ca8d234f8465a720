"""The plain-SQL page (server/store/paging.py keyset_sql): filters, the cursor, order and limit as arguments."""

from datetime import UTC, datetime

import pytest

from server.domain.listing import Cursor
from server.store.paging import keyset_sql


def test_filters_and_limit_are_arguments_in_order() -> None:
    statement, args = keyset_sql("SELECT * FROM t", [("a", "=", "x"), ("b", ">=", 3)], True, None, 6)
    assert statement == "SELECT * FROM t WHERE a = $1 AND b >= $2 ORDER BY create_time DESC, id DESC LIMIT $3"
    assert args == ["x", 3, 6]


def test_the_cursor_continues_after_the_last_row_in_the_page_order() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    newest_first, args = keyset_sql("SELECT * FROM t", [("a", "=", "x")], True, Cursor(at, "i-1"), 2)
    assert "(create_time, id) < ($2, $3::uuid)" in newest_first and args == ["x", at, "i-1", 2]
    oldest_first, _ = keyset_sql("SELECT * FROM t", [], False, Cursor(at, "i-1"), 2)
    assert oldest_first == "SELECT * FROM t WHERE (create_time, id) > ($1, $2::uuid) ORDER BY create_time ASC, id ASC LIMIT $3"


@pytest.mark.parametrize("column, op", [("a; DROP TABLE t", "="), ("a", "LIKE"), ("a", "= 1 OR 1")])
def test_anything_but_a_plain_column_and_comparison_is_refused(column: str, op: str) -> None:
    with pytest.raises(ValueError):
        keyset_sql("SELECT * FROM t", [(column, op, "x")], True, None, 1)
