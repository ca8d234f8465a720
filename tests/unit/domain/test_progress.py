"""What a step's output may show (server/domain/progress.py): redacted, cut, bounded."""

from __future__ import annotations

from server.domain import progress as rules


def test_every_secret_is_redacted_longest_first_so_no_part_of_one_survives() -> None:
    line = "user=admin password=admin-hunter2 token=t0k"
    assert rules.redact(line, ["admin", "admin-hunter2", "t0k", ""]) == (
        "user=[redacted] password=[redacted] token=[redacted]"
    )


def test_a_long_line_is_cut_to_the_bound_and_says_so() -> None:
    cut = rules.clip("x" * 5000)
    assert len(cut) == rules.MAX_LINE and cut.endswith("…")
    assert rules.clip("short\r\n") == "short"
    assert rules.clip("y" * rules.MAX_LINE) == "y" * rules.MAX_LINE


def test_a_secret_across_the_cut_is_redacted_before_the_cut_so_no_prefix_of_it_shows() -> None:
    secret = "s" * 40 + "CRET"
    line = "a" * (rules.MAX_LINE - 20) + secret
    shown = rules.shown(line, [secret])
    assert "s" * 19 not in shown and shown.endswith("[redacted]")


def test_the_lines_past_the_bound_are_counted_in_one_last_line() -> None:
    assert rules.elided(500) == "… 500 more lines not shown"
