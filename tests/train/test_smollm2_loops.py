"""The method's loops on a real pretrained model (SmolLM2-135M-Instruct, ``make smollm2``) at smoke size:
the few-shot question writer, ``train selfplay``, ``train vbi`` and ``train spft`` with LoRA and
``--dtype auto``. The tiny random model runs the same code paths, but cannot follow a prompt: here the
writer's questions, the opponent's SQL and the chat template are those of an instruction model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

#: Spider dev database whose real pairs the few-shot writer is shown
WRITER_DB = "concert_singer"
SQL_KEYWORDS = re.compile(r"\b(SELECT|FROM|WHERE|GROUP BY|ORDER BY|JOIN)\b")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _invoke(args) -> str:
    from train.cli import main

    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


#: how an English question or request starts (Spider's questions: "What ...?", "Show ...", "List ...", ...)
ASKS = re.compile(r"^(what|which|who|whom|whose|how|when|where|list|show|give|find|return|count|tell)\b", re.I)


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z]+", text.lower())}


def test_fewshot_writer_writes_questions_about_the_sql(smollm2: Path, spider, data_root: Path, tmp_path: Path) -> None:
    """SmolLM2 shown 4 real pairs of the same Spider database (as chat turns) writes, for 6 held-out queries,
    6 different one-line questions: most ask (a question mark or a Spider-style opening), hold no SQL and
    name a table or column of their query. Given the shots as one user message instead, it wrote "The
    answer is:" or "1. 1." for most (docs/train.md)."""
    from synth.questions import get_writer

    dev = [d for d in json.loads((data_root / "spider" / "dev.json").read_text()) if d["db_id"] == WRITER_DB]
    queries = list(dict.fromkeys(d["query"] for d in dev))
    targets = queries[1::3][:6]
    shots = tmp_path / "shots.jsonl"
    shots.write_text(
        "".join(
            json.dumps({"db_id": WRITER_DB, "sql": d["query"], "question": d["question"]}) + "\n"
            for d in dev
            if d["query"] not in targets
        )
    )
    w = get_writer(
        "few-shot", path=str(smollm2), examples_file=str(shots), max_new_tokens=32, dtype="auto", cache_dir=tmp_path
    )
    schema = spider.schemas[WRITER_DB]
    questions = w.write_batch([(sql, schema) for sql in targets])
    print(*zip(targets, questions), sep="\n")
    assert w.fallbacks == 0 and len(set(questions)) == len(questions)
    asking = [q for q in questions if q.endswith("?") or ASKS.match(q)]
    no_sql = [q for q in questions if not SQL_KEYWORDS.search(q)]
    names = {t.name for t in schema.tables} | {c.name for t in schema.tables for c in t.columns}
    about = [
        q
        for sql, q in zip(targets, questions)
        if _words(" ".join(n for n in names if re.search(rf"\b{re.escape(n)}\b", sql, re.I)).replace("_", " "))
        & _words(q)
    ]
    # measured (bf16 on a CPU with avx512_bf16): 6 asking, 5 without SQL, 6 naming their query's table or
    # column; the single-message prompt gave 0 of 9 asking. Margins for fp32 / other CPUs' rounding.
    assert min(len(asking), len(no_sql), len(about)) >= 4, questions


#: smoke sizes shared by `train vbi` and `train spft`: one demo database (14 real pairs), 1 iteration of
#: 6 synthetic + 3 D_val examples, LoRA, one epoch per SFT, short generations, short prompts
LOOP_ARGS = (
    "--db",
    "demo",
    "--db-ids",
    "clinic",
    "--iterations",
    "1",
    "--n",
    "6",
    "--val-size",
    "3",
    "--lora",
    "--dtype",
    "auto",
    "--epochs",
    "1",
    "--sql2text-epochs",
    "1",
    "--learning-rate",
    "1e-4",
    "--sql2text-learning-rate",
    "1e-4",
    "--batch-size",
    "4",
    "--max-length",
    "384",
    "--max-new-tokens",
    "24",
    "--question-max-new-tokens",
    "24",
    "--gen-batch-size",
    "8",
    "--k1",
    "3",
    "--k2",
    "4",
    "--sample-values",
    "0",
    "--logging-steps",
    "5",
)
FEWSHOT_WRITER0 = {"requested": "auto", "used": "few-shot", "reason": "the SQL-to-Text model has a chat template"}


def _check_writer0(vbi_out: Path, manifest: dict, smollm2: Path) -> None:
    """Iteration 0's questions come from the untuned instruction model, few-shot, and are not SQL."""
    assert manifest["results"]["writer0"] == FEWSHOT_WRITER0
    log = _lines(vbi_out / "vbi_log.jsonl")
    assert log[0]["writer"] == f"few-shot:{smollm2.resolve()}"
    synthetic = _lines(vbi_out / "iter-0" / "data" / "train.jsonl")
    assert synthetic and all(r["question"].strip() for r in synthetic)
    # measured: 9 of 9 asking (before the shots were chat turns: 0 of 9, "1. 1." and "The answer to the question is:")
    asking = [r for r in synthetic if r["question"].endswith("?") or ASKS.match(r["question"])]
    assert len(asking) * 2 > len(synthetic), [r["question"] for r in synthetic]
    assert {r["question_writer"] for r in synthetic} == {log[0]["writer"]}


def test_selfplay_one_round_lora(smollm2: Path, data_root: Path, tmp_path: Path) -> None:
    """Round 1 on 4 D_val questions: m0 (SmolLM2, zero-shot) is the opponent; its wrong SQL are the y- of
    the pairs, the gold SQL their y+; m1 is a LoRA adapter over SmolLM2, scored on D_val."""
    from .conftest import write_data

    data = write_data(tmp_path / "data", data_root, n_train=2, n_val=4)
    out = tmp_path / "sp"
    args = ["selfplay", "--data", data, "--model", smollm2, "--out", out, "--rounds", "1", "--lora", "--dtype", "auto"]
    _invoke([*args, "--max-new-tokens", "24", "--max-length", "384", "--batch-size", "2", "--gen-batch-size", "4"])
    (row,) = _lines(out / "rounds.jsonl")
    assert (row["opponent"], row["pairs"], row["new_model"]) == ("m0", 4, "m1"), row
    assert row["wrong_pairs"] > 0 and row["new_val_ex"] is not None
    gold = {r["sql"] for r in _lines(data / "val.jsonl")}
    m0 = [r for p in sorted((out / "cache").glob("preds-m0-*.jsonl")) for r in _lines(p)]
    assert m0 and all("<|im_end|>" not in r["raw"] for r in m0)
    for pair in _lines(out / "round-1" / "pairs.jsonl"):
        assert pair["chosen"] in gold and pair["rejected"] in {r["sql"] for r in m0}
    models = json.loads((out / "pool.json").read_text())["models"]
    assert models[0]["path"] == str(smollm2.resolve()) and models[0]["adapter"] is False
    assert models[1]["adapter"] is True and models[1]["base_model"] == str(smollm2.resolve())
    assert (Path(models[1]["path"]) / "adapter_config.json").is_file()


def test_spft_smoke_one_round(smollm2: Path, tmp_path: Path) -> None:
    """One round of SPFT-SQL's loop (1 VBI-FT iteration -> 1 self-play step) returns its last main; its
    VBI-FT stage writes iteration 0 few-shot and pools a LoRA adapter over SmolLM2 (what a separate
    `train vbi` smoke checked, a minute of CI for the same code path)."""
    out = tmp_path / "spft"
    sp = ("--rounds", "1", "--selfplay-batch-size", "2", "--selfplay-learning-rate", "1e-4")
    _invoke(["spft", "--model", smollm2, "--out", out, *LOOP_ARGS, *sp])
    manifest = json.loads((out / "manifest.json").read_text())
    _check_writer0(out / "vbi", manifest, smollm2)
    pool = json.loads((out / "vbi" / "pool.json").read_text())["models"]
    assert pool[-1]["adapter"] is True and pool[-1]["base_model"] == str(smollm2.resolve())
    assert (out / "vbi" / pool[-1]["path"] / "adapter_config.json").is_file()
    assert manifest["counts"]["rounds_completed"] == 1 and manifest["results"]["final_by"] == "last"
    rows = _lines(out / "rounds.jsonl")
    assert {r["stage"] for r in rows} == {"base", "vbi", "selfplay"}
    (last,) = [r for r in rows if r["main_next"]]
    assert json.loads((out / "final" / "scores.json").read_text())["model"] == last["model"]
    assert any((out / "final" / name).is_file() for name in ("adapter_config.json", "config.json"))
