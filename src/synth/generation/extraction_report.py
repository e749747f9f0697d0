"""Step 1 of the pipeline reported on its own: what template extraction made of a benchmark's
training SQL (``synth templates``; the manifest's ``parse_failure_reasons`` use the same reasons)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def failure_reason(failure: Mapping) -> str:
    """A template extraction failure's reason, without its detail (``"unknown_table"``)."""
    reason = str(failure.get("reason", "unknown"))
    return reason.split(":")[0].strip()[:60] or "unknown"


def failure_reasons(failures: Iterable[Mapping]) -> Counter[str]:
    return Counter(failure_reason(f) for f in failures)


@dataclass(frozen=True)
class TemplatesReport:
    """Extraction of one benchmark's training SQL: counts, failure reasons, the most frequent templates."""

    benchmark: str
    train_file: Path
    total: int
    """Training queries read."""
    templates: tuple[Any, ...]
    """Every extracted :class:`synth.templates.model.Template`, most frequent first."""
    parse_failures: int
    reasons: Counter[str]
    top: int
    """Templates listed."""

    def to_dict(self) -> dict[str, Any]:
        """The ``synth templates --json`` document."""
        return {
            "benchmark": self.benchmark,
            "train_file": str(self.train_file),
            "total": self.total,
            "templates": len(self.templates),
            "parse_failures": self.parse_failures,
            "failure_reasons": dict(self.reasons.most_common()),
            "top": [t.to_dict() for t in self.templates[: self.top]],
        }

    def lines(self) -> list[str]:
        """The report as text, one line per item (the 8 most common failure reasons)."""
        out = [
            f"{self.train_file}: {self.total} training SQL -> {len(self.templates)} templates",
            f"parse failures: {self.parse_failures} (skipped)",
        ]
        out += [f"  {count:6d}  {reason}" for reason, count in self.reasons.most_common(8)]
        out.append(f"top {min(self.top, len(self.templates))} templates (frequency, share, id, text):")
        total_freq = sum(t.frequency for t in self.templates)
        for t in self.templates[: self.top]:
            share = t.frequency / total_freq if total_freq else 0.0
            out.append(f"  {t.frequency:6d}  {share:6.1%}  {t.id}  {t.text}")
        return out


def templates_report(db: str, data_root: Path | None = None, top: int = 20) -> TemplatesReport:
    """Extract the templates of benchmark ``db`` (as ``GenerateConfig.db``) and report on them."""
    from synth.sources import resolve_benchmark
    from synth.templates import extract_templates

    bench = resolve_benchmark(db, data_root)
    report = extract_templates(bench.train_examples(), bench.schemas)
    return TemplatesReport(
        benchmark=bench.name,
        train_file=bench.train_path,
        total=report.total,
        templates=tuple(report.templates),
        parse_failures=len(report.failures),
        reasons=failure_reasons(report.failures),
        top=top,
    )
