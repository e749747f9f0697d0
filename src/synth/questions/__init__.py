"""Question writers: turn verified SQL into a natural-language question.

The SPFT-SQL paper writes its questions with a trained SQL-to-Text *model*. This package defines the
interface every writer follows (:class:`QuestionWriter`), the offline default
(:class:`~synth.questions.rule_based.RuleBasedWriter`, name ``"rule-based"``: deterministic
templates over the parsed SQL — **not** the paper's model and never to be reported as such), and a
small registry so that ``train`` can plug in a model-backed writer without ``synth`` importing it::

    from synth.questions import get_writer, register_writer
    register_writer("sql2text", lambda **kw: MyModelWriter(**kw))   # done by train, once
    writer = get_writer("rule-based")
    writer.write("SELECT count(*) FROM singer", schema)   # -> "How many singers are there?"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from evaluation.errors import ConfigError, UnknownNameError
from evaluation.schema import Schema
from synth.questions.rule_based import RuleBasedWriter

__all__ = [
    "QuestionWriter",
    "RuleBasedWriter",
    "get_writer",
    "register_writer",
    "writer_names",
]


@runtime_checkable
class QuestionWriter(Protocol):
    """Anything that writes one question per (SQL, schema). ``name`` is recorded in every example."""

    name: str

    def write(self, sql: str, schema: Schema) -> str: ...

    def write_batch(self, items: Sequence[tuple[str, Schema]]) -> list[str]: ...


WriterFactory = Callable[..., QuestionWriter]

# The one deliberate piece of module state: a plugin table, filled at import time by the packages
# that provide writers (``train`` registers its SQL-to-Text model here). Lookups never mutate it.
_FACTORIES: dict[str, WriterFactory] = {"rule-based": RuleBasedWriter}


def register_writer(name: str, factory: WriterFactory, *, replace: bool = False) -> None:
    """Make ``get_writer(name, **kwargs)`` return ``factory(**kwargs)``.

    Registering a taken name is a :class:`ConfigError` unless ``replace=True`` (so two plugins
    cannot silently shadow each other).
    """
    if not name or not isinstance(name, str):
        raise ConfigError(f"question writer name must be a non-empty string, got {name!r}")
    if name in _FACTORIES and not replace:
        raise ConfigError(f"question writer '{name}' is already registered (pass replace=True to override)")
    _FACTORIES[name] = factory


#: Installed packages advertise writers under this entry-point group (``train`` advertises
#: ``model``), so ``synth generate --writer model`` works without synth importing train.
ENTRY_POINT_GROUP = "spft_sql.question_writers"


def _plugin_factories() -> dict[str, WriterFactory]:
    """Writers advertised by installed packages that are not registered yet (loaded lazily)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in _FACTORIES}


def writer_names() -> list[str]:
    """Names accepted by :func:`get_writer` (registered and advertised by plugins), sorted."""
    return sorted(set(_FACTORIES) | set(_plugin_factories()))


def get_writer(name: str, **kwargs) -> QuestionWriter:
    """The writer registered as ``name``, built with ``kwargs``; unknown names suggest close ones.

    A name not registered yet is looked up among the installed plugins' entry points
    (:data:`ENTRY_POINT_GROUP`); loading one registers it.
    """
    factory = _FACTORIES.get(name)
    if factory is None:
        plugins = _plugin_factories()
        if name not in plugins:
            raise UnknownNameError("question writer", name, set(_FACTORIES) | set(plugins))
        factory = plugins[name].load()
        _FACTORIES.setdefault(name, factory)
    _check_options(name, factory, kwargs)
    return factory(**kwargs)


def _check_options(name: str, factory: WriterFactory, kwargs: dict) -> None:
    """An option the writer does not take is a clear error naming the ones it does (``--writer-option``),
    not a TypeError from deep inside its factory."""
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable: let it judge its own arguments
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    takes = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(kwargs) - set(takes))
    if unknown:
        raise ConfigError(
            f"question writer '{name}' takes no option {', '.join(map(repr, unknown))} "
            f"(--writer-option); it takes: {', '.join(takes) or 'none'}"
        )
