"""Generation on an OpenAI-compatible server (vLLM, SGLang, ``transformers serve``) via ``/v1/completions``.

The server gets the exact text the in-process backend would feed the model (the caller renders it
with :func:`train.models.formatting.render_prompt`), so only where decoding runs changes. Greedy requests
use ``temperature=0``; sampled ones pass temperature, top-p and a per-request seed (``seed + i`` for
the i-th prompt, so the k copies of one prompt that self-play sends give k different samples).
Requests run ``concurrency`` at a time; the ``openai`` client retries refused connections, timeouts,
429 and 5xx with exponential backoff (``retries`` times), and what still fails ends in one clear
:class:`GenerationServerError`.

Identity: a served model is used only when it is the same checkpoint -- its id is the model's path
(or hub id), or contains the first 16 hex digits of its :func:`train.io.checkpoint_fingerprint`
(``vllm serve CKPT --served-model-name ckpt-<fingerprint>``). Log-probs for training are never
asked of the server: the trainer computes them locally.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from evaluation.errors import SpftError
from train.models.backend_config import GenerationBackendConfig
from train.models.formatting import cut_at_stop

#: hex digits of the checkpoint fingerprint a served model name may carry instead of the path
FINGERPRINT_CHARS = 16


class GenerationServerError(SpftError):
    """The generation server is unreachable, too slow, failing, or serves another model."""


class ModelNotServedError(GenerationServerError):
    """The server answers but serves another checkpoint than the one asked for."""


def _same_path(a: str, b: str) -> bool:
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def names_model(served_id: str, model: str, fingerprint: str) -> bool:
    """Whether a served model id names ``model``: the same hub id or path, or its fingerprint.

    >>> names_model("Qwen/Qwen2.5-Coder-1.5B", "Qwen/Qwen2.5-Coder-1.5B", "ab" * 32)
    True
    >>> names_model("ckpt-" + "ab" * 8, "/runs/m0", "ab" * 32)
    True
    >>> names_model("other", "/runs/m0", "ab" * 32)
    False
    """
    return served_id == model or _same_path(served_id, model) or fingerprint[:FINGERPRINT_CHARS] in served_id


def pick_served_name(
    served_ids: Sequence[str], model: str, fingerprint: Callable[[], str], served_model: str | None, url: str
) -> str:
    """The served id to request for ``model``; :class:`ModelNotServedError` when the server has no such model.

    ``fingerprint`` is called only when no id names the model by its path (it reads every weight byte).
    """
    if served_model is None:
        for sid in served_ids:
            if sid == model or _same_path(sid, model):
                return sid
    full = fingerprint()
    fp = full[:FINGERPRINT_CHARS]
    how = (
        f"serve it as its path, or name it by its fingerprint (e.g. `vllm serve {model} --served-model-name ckpt-{fp}`)"
    )
    if served_model is not None:
        if served_model not in served_ids:
            raise ModelNotServedError(
                f"{url} does not serve --served-model '{served_model}' (it serves: {', '.join(served_ids) or 'nothing'})"
            )
        if not names_model(served_model, model, full):
            raise ModelNotServedError(
                f"--served-model '{served_model}' at {url} is not the checkpoint {model} (fingerprint {fp}); {how}"
            )
        return served_model
    for sid in served_ids:
        if names_model(sid, model, full):
            return sid
    raise ModelNotServedError(
        f"{url} serves {', '.join(repr(s) for s in served_ids) or 'no model'}, not {model} (fingerprint {fp}); {how}"
    )


def _client(cfg: GenerationBackendConfig) -> Any:
    try:
        import openai
    except ImportError:  # pragma: no cover - the train extra installs it
        raise GenerationServerError(
            "--backend openai needs the openai package: pip install 'spft-sql[train]'"
        ) from None
    return openai.OpenAI(
        base_url=cfg.base_url,
        api_key=os.environ.get(cfg.api_key_env) or "EMPTY",
        timeout=cfg.request_timeout,
        max_retries=cfg.retries,
    )


def server_error(e: Exception, cfg: GenerationBackendConfig, what: str) -> GenerationServerError:
    """One clear message per failure kind (after the client's retries were spent)."""
    import openai

    url, tries = cfg.base_url, f"after {cfg.retries} retries (--retries)"
    if isinstance(e, openai.APITimeoutError):
        return GenerationServerError(
            f"{what}: no answer from {url} within {cfg.request_timeout:g} s {tries}; "
            "raise --request-timeout or lower --concurrency"
        )
    if isinstance(e, openai.APIConnectionError):
        return GenerationServerError(
            f"{what}: cannot reach the generation server at {url} (--base-url) {tries}: "
            f"{e.__cause__ or e}; is it running?"
        )
    if isinstance(e, openai.APIStatusError):
        detail = e.response.text[:300] if e.response is not None else str(e)
        retried = f" {tries}" if e.status_code == 429 or e.status_code >= 500 else ""
        return GenerationServerError(f"{what}: {url} answered HTTP {e.status_code}{retried}: {detail}")
    return GenerationServerError(f"{what}: {url}: {e}")


def served_model_ids(cfg: GenerationBackendConfig, client: Any = None) -> list[str]:
    """Ids the server lists at ``GET /v1/models``."""
    import openai

    client = client or _client(cfg)
    try:
        return [m.id for m in client.models.list()]
    except openai.OpenAIError as e:
        raise server_error(e, cfg, "listing the served models") from None


class OpenAIGenerator:
    """:class:`train.models.decoding.Generator` over ``/v1/completions`` of an OpenAI-compatible server."""

    backend = "openai"

    def __init__(
        self,
        cfg: GenerationBackendConfig,
        options: Any,
        model: str,
        *,
        tokenizer: Any = None,
        fingerprint: str | None = None,
        progress: bool = True,
    ) -> None:
        from train.io import checkpoint_fingerprint

        self.cfg, self.options, self.model, self.tokenizer, self.progress = (
            cfg,
            options,
            str(model),
            tokenizer,
            progress,
        )
        self.client = _client(cfg)
        fp = (lambda: fingerprint) if fingerprint else (lambda: checkpoint_fingerprint(self.model))
        self.served_name = pick_served_name(
            served_model_ids(cfg, self.client), self.model, fp, cfg.served_model, str(cfg.base_url)
        )

    def _request(self, i: int, prompt: str) -> str:
        import openai

        o = self.options
        kw: dict[str, Any] = {"model": self.served_name, "prompt": prompt, "max_tokens": o.max_new_tokens}
        if o.do_sample:
            kw.update(temperature=o.temperature, top_p=o.top_p, seed=o.seed + i)
        else:
            kw.update(temperature=0.0)
        if o.stop:
            kw["stop"] = list(o.stop)
        try:
            resp = self.client.completions.create(**kw)
        except openai.OpenAIError as e:
            raise server_error(e, self.cfg, f"generating with '{self.served_name}'") from None
        return cut_at_stop(resp.choices[0].text or "", o.stop)

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """Completions in prompt order; the first failing request cancels the rest and is raised."""
        from evaluation.console import progress_bar

        outs: list[str | None] = [None] * len(prompts)
        bar = progress_bar(
            total=len(prompts),
            desc=f"generate ({self.cfg.base_url})",
            unit="prompt",
            show=None if self.progress else False,
            leave=False,
        )
        pool = ThreadPoolExecutor(max_workers=self.cfg.concurrency)
        try:
            futures = {pool.submit(self._request, i, p): i for i, p in enumerate(prompts)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    outs[futures[f]] = f.result()  # raises the request's error
                    bar.update(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        return [o if o is not None else "" for o in outs]

    def close(self) -> None:
        self.client.close()
