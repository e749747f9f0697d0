"""The one helper for config dataclass fields: every option carries its help text (TRL style).

``train.cli`` turns each field into a ``--option`` whose help is ``metadata["help"]``.
"""

from __future__ import annotations

from dataclasses import field


def help_field(text: str, default=None, **kw):
    """A dataclass field with ``default`` and the help text the CLI shows for it."""
    return field(default=default, metadata={"help": text}, **kw)
