"""Where generation runs: in-process Hugging Face (``hf``) or an OpenAI-compatible server (``openai``).

Imports no torch and no ``openai``: ``train --help`` stays fast. :class:`GenerationBackendConfig` is
the one definition of the backend options; ``train predict`` turns its fields into ``--options``, and
the loop configs (``VBIConfig``, ``SelfPlayConfig``) embed the same fields, flat, through
:func:`backend_field` (so their help text and defaults live here only) and get them back as one
object with :func:`backend_config_of`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from evaluation.errors import ConfigError, UnknownNameError
from train.fields import help_field as _h

BACKENDS = ("hf", "openai")


@dataclass(frozen=True)
class GenerationBackendConfig:
    """Which backend generates, and how to reach and pace a server."""

    backend: str = _h(
        "Where generation runs: hf (the model in this process) or openai (an OpenAI-compatible server such as "
        "`vllm serve`, SGLang or `transformers serve`, at --base-url; it must serve the same checkpoint).",
        "hf",
    )
    base_url: str | None = _h("Server URL for --backend openai, e.g. http://127.0.0.1:8000/v1.", None)
    api_key_env: str = _h(
        "Environment variable holding the server's API key (unset: the placeholder 'EMPTY', which local servers accept).",
        "OPENAI_API_KEY",
    )
    served_model: str | None = _h(
        "Model name to request from the server (default: the listed model whose id is the model's path or "
        "contains its checkpoint fingerprint). It must name the same checkpoint either way.",
        None,
    )
    concurrency: int = _h("Requests in flight at once (--backend openai).", 8)
    request_timeout: float = _h("Seconds to wait for one server answer before retrying.", 120.0)
    retries: int = _h(
        "Retries per request, with exponential backoff, after a refused connection, a timeout, 429 or 5xx.", 3
    )

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UnknownNameError("generation backend (--backend)", self.backend, BACKENDS)
        if self.backend == "openai" and not self.base_url:
            raise ConfigError("--backend openai needs --base-url (the server's URL, e.g. http://127.0.0.1:8000/v1)")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency (--concurrency) must be >= 1, got {self.concurrency}")
        if not self.request_timeout > 0:
            raise ConfigError(f"request_timeout (--request-timeout) must be > 0, got {self.request_timeout}")
        if self.retries < 0:
            raise ConfigError(f"retries (--retries) must be >= 0, got {self.retries}")

    @property
    def served(self) -> bool:
        return self.backend == "openai"


_FIELDS = {f.name: f for f in dataclasses.fields(GenerationBackendConfig)}
BACKEND_FIELDS = tuple(_FIELDS)


def backend_field(name: str) -> Any:
    """A dataclass field with the help text and default of :class:`GenerationBackendConfig`'s ``name``,
    for configs that carry the backend options flat (``backend: str = backend_field("backend")``)."""
    f = _FIELDS[name]
    return _h(f.metadata["help"], f.default)


def backend_config_of(cfg: Any) -> GenerationBackendConfig:
    """The backend options of any config holding them as flat fields (absent ones keep their default)."""
    return GenerationBackendConfig(**{k: getattr(cfg, k) for k in BACKEND_FIELDS if hasattr(cfg, k)})


def backend_config_from(options: dict[str, Any]) -> GenerationBackendConfig:
    """From loose ``KEY=VALUE`` options (e.g. ``synth generate --writer-option base_url=...``), values cast
    to the field types (``"8"`` -> 8); an unknown key is an error naming the known ones."""
    hints = {"int": int, "float": float}
    kw = {}
    for k, v in options.items():
        if k not in _FIELDS:
            raise UnknownNameError("generation backend option", k, BACKEND_FIELDS)
        cast = hints.get(str(_FIELDS[k].type))
        try:
            kw[k] = cast(v) if cast and v is not None else (None if v is None else str(v))
        except (TypeError, ValueError):
            raise ConfigError(f"generation backend option {k}={v!r}: expected {_FIELDS[k].type}") from None
    return GenerationBackendConfig(**kw)
