"""Click options generated from a config dataclass, so an option's help and default live in one place.

Every field whose ``metadata`` has ``"help"`` becomes one ``--option`` (in field order) whose value
arrives under the field's name; fields without it are library-only. Optional metadata:

* ``"option"``: the option's name when it is not the field's (``timeout_s`` -> ``"timeout"``);
* ``"choices"``: the allowed values (a :class:`click.Choice`);
* ``"flag"``: for a bool field, the one flag that sets the non-default value (``"no-prompts"``)
  instead of the ``--x/--no-x`` pair.

Types follow the annotation (``X | None`` as ``X``); a ``tuple`` field is one comma-separated value;
a field without a default, or ``""`` as a default, makes the option required. What only one command
line needs (a :class:`click.Path` type, ``multiple=True``) is passed in ``overrides`` (keyword
arguments of :func:`click.option`, ``param_decls`` replacing the declarations).

A field of a nested config is named with a dot: ``field_option(EvalConfig, "limits.timeout_s")`` is the
option of ``Limits.timeout_s`` (its help and name), with the default that ``EvalConfig.limits`` gives
it; its value arrives under the inner field's name.

Used by ``synth generate`` / ``synth templates``, by ``evaluate`` / ``evaluate build-suite`` and by the
``train`` commands; it lives in the bottom package so all can import it. Imports nothing but click.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import click

__all__ = ["config_options", "field_option", "option_fields"]


def option_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are command-line options (those with ``metadata["help"]``)."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def _split_commas(_ctx: Any, _param: Any, value: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (value or "").split(",") if s.strip())


def _option_kwargs(
    f: dataclasses.Field, tp: Any, renames: Mapping[str, str], default: Any
) -> tuple[list[str], dict[str, Any]]:
    name = str(f.metadata.get("option") or renames.get(f.name, f.name)).replace("_", "-")
    help_text = f.metadata.get("help", "")
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        tp = next(a for a in args if a is not type(None))
    if tp is bool:
        flag = f.metadata.get("flag")
        if flag:
            return [f"--{flag}", f.name], {
                "is_flag": True,
                "flag_value": not default,
                "default": default,
                "help": help_text,
            }
        return [f"--{name}/--no-{name}", f.name], {"default": default, "show_default": True, "help": help_text}
    if typing.get_origin(tp) is tuple:
        if "comma-separated" not in help_text.lower():
            help_text += " Comma-separated."
        return [f"--{name}", f.name], {
            "default": ",".join(default),
            "show_default": True,
            "help": help_text,
            "callback": _split_commas,
        }
    required = default is dataclasses.MISSING or default == ""
    if "choices" in f.metadata:
        tp = click.Choice(list(f.metadata["choices"]))
    kwargs = {"type": tp, "required": required, "show_default": not required, "help": help_text}
    if default is not dataclasses.MISSING:  # no default given: click itself stops when the option is missing
        kwargs["default"] = None if required else default
    return [f"--{name}", f.name], kwargs


def field_option(
    cls: type, name: str, *, renames: Mapping[str, str] | None = None, **overrides: Any
) -> Callable[[Callable], Callable]:
    """The click option of the field ``name`` of ``cls`` (``overrides`` as in :func:`config_options`).

    ``"outer.inner"`` (``"limits.timeout_s"``) is the field ``inner`` of the config that ``cls.outer``
    holds, with the default ``cls.outer``'s default gives it."""
    outer, _, inner = name.partition(".")
    if not inner:
        return _field_option(cls, name, typing.get_type_hints(cls), renames or {}, overrides)
    nested = _default(_field(cls, outer))
    if not dataclasses.is_dataclass(nested):
        raise TypeError(f"{cls.__name__}.{outer} has no config default to take {inner!r} from")
    hints = typing.get_type_hints(type(nested))
    return _field_option(type(nested), inner, hints, renames or {}, overrides, default=getattr(nested, inner))


def _field(cls: type, name: str) -> dataclasses.Field:
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return f


def _default(f: dataclasses.Field) -> Any:
    """The field's default (``default_factory()`` when it has one); ``MISSING`` when it has none."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _field_option(
    cls: type,
    name: str,
    hints: Mapping[str, Any],
    renames: Mapping[str, str],
    overrides: Mapping[str, Any],
    default: Any = dataclasses.MISSING,
) -> Callable[[Callable], Callable]:
    f = _field(cls, name)
    decls, kwargs = _option_kwargs(f, hints[name], renames, _default(f) if default is dataclasses.MISSING else default)
    overrides = dict(overrides)
    decls = list(overrides.pop("param_decls", decls))
    return click.option(*decls, **{**kwargs, **overrides})


def config_options(
    cls: type,
    *,
    fields: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    renames: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[Callable], Callable]:
    """Decorator adding one click option per option field of ``cls`` (in field order).

    ``fields``: only these (in this order); ``exclude``: not these; ``renames``: field name -> option
    name; ``overrides``: field name -> keyword arguments for :func:`click.option` that replace the
    generated ones (e.g. ``{"data_root": {"type": click.Path(file_okay=False, path_type=Path)}}``).
    """
    names = [f.name for f in option_fields(cls)] if fields is None else list(fields)
    skip = set(exclude)
    overrides = overrides or {}
    hints = typing.get_type_hints(cls)
    options = [_field_option(cls, n, hints, renames or {}, overrides.get(n, {})) for n in names if n not in skip]

    def deco(fn: Callable) -> Callable:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return deco
