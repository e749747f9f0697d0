"""Template records: slots, templates and the extraction report.

Template text syntax (documented in ``docs/templates.md``) is the normalized SQL with three kinds of
placeholders and no table names:

* ``{tables}`` — where a ``FROM``/``JOIN`` clause stood; filling rebuilds it along foreign keys;
* ``{c0:number}`` — a column slot of a column type (``text|number|time|boolean|others``);
  ``{c0:number:fk}`` marks a column that took part in a foreign-key join condition and
  ``{c0:number:fk=c3}`` also records its partner slot, so the pair is filled with a real FK pair;
* ``{v0:text}`` — a value slot, typed by the column it is compared with.

The same source column always maps to the same column slot (``{c1:number}`` may appear twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from evaluation.errors import SpftError
from evaluation.provenance import digest

SLOT_KINDS = ("column", "value")

#: ``{c0:number}``, ``{c0:number:fk}``, ``{c0:number:fk=c3}``, ``{v0:text}``, ``{tables}``
PLACEHOLDER = re.compile(r"\{(?:(?P<name>[cv]\d+):(?P<type>[a-z]+)(?::fk(?:=(?P<partner>c\d+))?)?|tables)\}")
_FK = re.compile(r"\{(c\d+):[a-z]+:fk")


class TemplateError(SpftError):
    """A training SQL that cannot become a template; ``reason`` is a short counted category."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Slot:
    """One column or value slot in a template; ``type`` is what a filler must match."""

    name: str
    kind: str
    type: str
    fk: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "type": self.type, "fk": self.fk}

    @classmethod
    def from_dict(cls, d: dict) -> Slot:
        return cls(name=d["name"], kind=d["kind"], type=d["type"], fk=bool(d.get("fk", False)))


@dataclass(frozen=True)
class Template:
    """A table-independent SQL shape; ``frequency`` (training count) is its sampling weight."""

    id: str
    text: str
    slots: tuple[Slot, ...]
    frequency: int
    examples: tuple[str, ...] = ()

    @property
    def fk_pairs(self) -> tuple[tuple[str, str], ...]:
        """Column-slot pairs recorded with ``fk=`` (each pair once, in slot order)."""
        pairs = set()
        for m in PLACEHOLDER.finditer(self.text):
            if m.group("partner"):
                pairs.add(tuple(sorted((m.group("name"), m.group("partner")), key=_slot_order)))
        return tuple(sorted(pairs, key=lambda p: (_slot_order(p[0]), _slot_order(p[1]))))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "slots": [s.to_dict() for s in self.slots],
            "frequency": self.frequency,
            "examples": list(self.examples),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Template:
        return cls(
            id=d["id"],
            text=d["text"],
            slots=tuple(Slot.from_dict(s) for s in d["slots"]),
            frequency=int(d["frequency"]),
            examples=tuple(d.get("examples", ())),
        )

    @classmethod
    def from_text(cls, text: str, frequency: int = 1, examples: tuple[str, ...] = ()) -> Template:
        """Build a template (id and slots derived) from its text — handy in tests and by hand."""
        return cls(template_id(text), text, slots_of(text), frequency, examples)


@dataclass(frozen=True)
class ExtractionReport:
    """All templates of a training set plus what could not be normalized (and why)."""

    templates: tuple[Template, ...]
    total: int
    failures: tuple[dict, ...] = field(default=())
    hardness: dict[str, int] = field(default_factory=dict)
    """Spider hardness level -> training queries (``evaluation.hardness``; ``unknown``: unparsable)."""

    @property
    def failure_reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.failures:
            out[f["reason"]] = out.get(f["reason"], 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def template_id(text: str) -> str:
    """Stable id: ``t`` + the first 10 hex digits of the text's SHA-1."""
    return "t" + digest(text, algorithm="sha1", length=10)


def _slot_order(name: str) -> tuple[int, int]:
    return (0 if name[0] == "c" else 1, int(name[1:]))


def slots_of(text: str) -> tuple[Slot, ...]:
    """The slots named in a template text, columns first, each in number order."""
    fk = set(_FK.findall(text))
    seen: dict[str, Slot] = {}
    for m in PLACEHOLDER.finditer(text):
        name = m.group("name")
        if name is None or name in seen:
            continue
        kind = "column" if name[0] == "c" else "value"
        seen[name] = Slot(name, kind, m.group("type"), fk=name in fk)
    return tuple(seen[n] for n in sorted(seen, key=_slot_order))
