"""Turn a training set into a template pool with frequencies (the sampling distribution)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from evaluation.hardness import LEVELS, hardness
from evaluation.schema import Schema
from synth.templates.model import ExtractionReport, Slot, Template, TemplateError, template_id
from synth.templates.pipeline import normalize_tree, parse_sql

MAX_EXAMPLES = 3


def extract_templates(examples: Iterable[dict], schemas: Mapping[str, Schema]) -> ExtractionReport:
    """Normalize every example's ``query``; identical texts merge, ``frequency`` counts them.

    Failures are kept (``index``: the example's ``_index`` if present, else its 1-based position;
    ``db_id``, ``sql``, ``reason``) rather than raised: a few odd training queries must not stop
    a run. Templates are sorted by frequency (desc) then id. ``hardness`` counts the Spider
    hardness of every training query (``unknown`` when it does not parse), read off the same parse.
    """
    counts: dict[str, int] = {}
    slots: dict[str, tuple[Slot, ...]] = {}
    sources: dict[str, list[str]] = {}
    failures: list[dict] = []
    levels: Counter[str] = Counter()
    total = 0
    for position, ex in enumerate(examples, start=1):
        total += 1
        sql = ex.get("query") or ex.get("sql") or ex.get("SQL") or ""
        db_id = ex.get("db_id", "")
        index = ex.get("_index", position)
        schema = schemas.get(db_id)
        level = "unknown"
        try:
            tree = parse_sql(sql)
            level = hardness(tree)  # reads the tree only; the rules change it next
            if schema is None:
                raise TemplateError("unknown_db", db_id)
            text, text_slots = normalize_tree(tree, schema)
        except TemplateError as e:
            failures.append({"index": index, "db_id": db_id, "sql": sql, "reason": e.reason, "detail": e.detail})
            continue
        finally:
            levels[level] += 1
        counts[text] = counts.get(text, 0) + 1
        slots.setdefault(text, text_slots)
        seen = sources.setdefault(text, [])
        if len(seen) < MAX_EXAMPLES and sql not in seen:
            seen.append(sql)
    templates = [Template(template_id(text), text, slots[text], n, tuple(sources[text])) for text, n in counts.items()]
    templates.sort(key=lambda t: (-t.frequency, t.id))
    dist = {k: levels[k] for k in (*LEVELS, "unknown") if levels[k] or k in LEVELS}
    return ExtractionReport(tuple(templates), total, tuple(failures), dist)
