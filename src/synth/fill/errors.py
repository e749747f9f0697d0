"""The one rejection type of filling."""

from __future__ import annotations


class FillError(Exception):
    """A template could not be filled on this schema; ``reason`` is a short counted category
    (``no_column_of_type``, ``no_fk_pair``, ``no_fk_column``, ``no_join_path``,
    ``too_many_tables``, ``no_value``, ``no_column_of_role``, ``bad_template``, and the semantic
    ``semantic:self_comparison`` / ``semantic:aggregate_of_key`` of :mod:`synth.fill.checks`).
    Not a user error: callers count and move on."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)
