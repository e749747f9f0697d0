"""The few-shot SQL-to-Text₀ writer (``--writer0 few-shot``): an instruction model shown real (SQL ->
question) pairs instead of being fine-tuned on them (SPFT-SQL §3.1.1's alternative)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.errors import ConfigError, DataNotFoundError, InputError


class FakeGenerator:
    def __init__(self, outputs):
        self.outputs, self.prompts = outputs, []

    def generate(self, prompts):
        self.prompts.extend(prompts)
        return [self.outputs[i % len(self.outputs)] for i in range(len(prompts))]


def _pool(schema, other="other_db"):
    t = schema.tables[0]
    c = t.columns[0].name
    return [
        {"db_id": other, "sql": f"SELECT {c} FROM {t.name}", "question": "From another database?"},
        {"db_id": schema.db_id, "sql": f"SELECT count(*) FROM {t.name}", "question": "How many rows are there?"},
        {"db_id": schema.db_id, "sql": f"SELECT {c} FROM {t.name} ORDER BY {c}", "question": "List them in order."},
    ]


def test_prompt_shows_same_database_shots_most_similar_first_and_ends_with_the_sql(demo, tmp_path):
    from synth.prompt import PromptBuilder
    from synth.prompt.format import FEWSHOT_INSTRUCTION, sql2text_fewshot_input
    from train.writer import FewShotQuestionWriter

    schema = next(iter(demo.schemas.values()))
    t = schema.tables[0]
    c = t.columns[0].name
    sql = f"SELECT {c} FROM {t.name} WHERE {c} IS NOT NULL ORDER BY {c}"
    gen = FakeGenerator(["  Which values are set, in order?\nSQL: SELECT junk"])
    w = FewShotQuestionWriter(
        tmp_path / "instruct", generator=gen, examples=_pool(schema), shots=2, cache_dir=tmp_path / "cache"
    )
    assert w.name == f"few-shot:{tmp_path / 'instruct'}"
    assert w.write_batch([(sql, schema)]) == ["Which values are set, in order?"]
    prompt = gen.prompts[0]
    schema_prompt = PromptBuilder(schema, cache_dir=tmp_path / "cache").build(None, sql).schema_prompt
    expected = sql2text_fewshot_input(
        schema_prompt,
        sql,
        [
            (f"SELECT {c} FROM {t.name} ORDER BY {c}", "List them in order."),  # same db, most similar
            (f"SELECT count(*) FROM {t.name}", "How many rows are there?"),
        ],
    )
    assert prompt == expected.rstrip() + "\n"  # no tokenizer: no chat template
    assert prompt.startswith(FEWSHOT_INSTRUCTION) and "another database" not in prompt
    assert prompt.rstrip().endswith(f"SQL: {sql}\nquestion:")


class ChatTokenizer:
    """A tokenizer with a chat template: renders the turns as ``<role>content`` lines, records them."""

    chat_template = "fake"

    def __init__(self):
        self.calls = []

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        self.calls.append(messages)
        return "".join(f"<{m['role']}>{m['content']}\n" for m in messages) + "<assistant>"


def test_with_a_chat_template_the_shots_are_chat_turns(demo, tmp_path):
    """Each shown example is a user turn (its SQL) answered by an assistant turn (its question); the SQL to
    write for is the last user turn, the model's turn comes next. SmolLM2 wrote questions only this way."""
    from synth.prompt.format import FEWSHOT_INSTRUCTION

    schema = next(iter(demo.schemas.values()))
    t = schema.tables[0]
    c = t.columns[0].name
    sql = f"SELECT {c} FROM {t.name} WHERE {c} IS NOT NULL ORDER BY {c}"
    gen, tok = FakeGenerator(["Which values are set?"]), ChatTokenizer()
    from train.writer import FewShotQuestionWriter

    w = FewShotQuestionWriter(
        tmp_path / "m", generator=gen, tokenizer=tok, examples=_pool(schema), shots=2, cache_dir=tmp_path / "c"
    )
    assert w.write_batch([(sql, schema)]) == ["Which values are set?"]
    (turns,) = tok.calls
    assert [m["role"] for m in turns] == ["user", "assistant", "user", "assistant", "user"]
    assert turns[0]["content"].startswith(FEWSHOT_INSTRUCTION) and schema.db_id in turns[0]["content"]
    assert turns[0]["content"].endswith(f"SQL: SELECT {c} FROM {t.name} ORDER BY {c}")  # most similar first
    assert turns[1]["content"] == "List them in order." and turns[3]["content"] == "How many rows are there?"
    assert turns[2]["content"] == f"SQL: SELECT count(*) FROM {t.name}" and turns[4]["content"] == f"SQL: {sql}"
    assert gen.prompts == [tok.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)]


def test_other_databases_fill_in_when_the_database_has_too_few_examples_and_empty_output_falls_back(demo, tmp_path):
    from synth.questions import get_writer
    from train.writer import FewShotQuestionWriter

    schema = next(iter(demo.schemas.values()))
    gen = FakeGenerator(["\n  \n"])
    w = FewShotQuestionWriter(tmp_path / "m", generator=gen, examples=_pool(schema), shots=3)
    sql = f"SELECT count(*) FROM {schema.tables[0].name}"
    assert w.write_batch([(sql, schema)]) == [get_writer("rule-based").write(sql, schema)]
    assert w.fallbacks == 1
    assert "From another database?" in gen.prompts[0]  # 2 same-db shots + 1 from elsewhere


def test_bad_settings_and_bad_example_files_are_clear_errors(tmp_path):
    from train.writer import FewShotQuestionWriter, read_shot_examples

    with pytest.raises(ValueError, match="shots must be >= 1"):
        FewShotQuestionWriter(
            tmp_path, generator=FakeGenerator(["q"]), examples=[{"db_id": "d", "sql": "s", "question": "q"}], shots=0
        )
    with pytest.raises(ValueError, match="no .* examples"):
        FewShotQuestionWriter(tmp_path, generator=FakeGenerator(["q"]), examples=[])
    with pytest.raises(DataNotFoundError, match="not found"):
        read_shot_examples(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"db_id": "d", "sql": "SELECT 1", "question": "q"}) + "\n{oops\n")
    with pytest.raises(InputError) as e:
        read_shot_examples(bad)
    assert "bad.jsonl" in str(e.value) and "2" in str(e.value)
    bad.write_text(json.dumps({"db_id": "d", "sql": "SELECT 1", "question": " "}) + "\n")
    with pytest.raises(InputError, match="question"):
        read_shot_examples(bad)


def test_registered_as_few_shot_and_writes_with_a_real_model(tiny_model, demo, tmp_path):
    """The factory reads the examples file and a (tiny, untrained) checkpoint really generates: every
    item gets a non-empty one-line question, the same on a second call (greedy)."""
    import train  # noqa: F401  - importing train registers the writers
    from synth.questions import get_writer, writer_names

    assert "few-shot" in writer_names()
    schema = next(iter(demo.schemas.values()))
    ex = tmp_path / "sql2text.jsonl"
    ex.write_text("".join(json.dumps(r) + "\n" for r in _pool(schema)))
    w = get_writer(
        "few-shot",
        path=str(tiny_model),
        examples_file=str(ex),
        shots=2,
        max_new_tokens=8,
        cache_dir=str(tmp_path / "c"),
    )
    items = [(f"SELECT count(*) FROM {t.name}", schema) for t in schema.tables[:2]]
    first = w.write_batch(items)
    assert len(first) == 2 and all(q.strip() and "\n" not in q for q in first)
    assert w.write_batch(items) == first
    with pytest.raises(DataNotFoundError):
        get_writer("few-shot", path=str(tiny_model), examples_file=str(tmp_path / "none.jsonl"))


@pytest.mark.slow
def test_vbi_writer0_few_shot_prompts_the_model_then_fine_tunes_it(tmp_path):
    """`train vbi --writer0 few-shot`: no SQL-to-Text₀ fine-tuning; iteration 0's questions come from the
    SQL-to-Text model prompted with the real pairs (OUT/real/sql2text.jsonl: no selection question);
    after iteration 0 it is fine-tuned on real + y+ (starting from that same model) and writes as usual."""
    import train.vbi as vbi
    from synth.generation import GenerateConfig, generate, write_outputs
    from train.models.tiny import TinyConfig, init_tiny
    from train.vbi_config import VBIConfig

    write_outputs(generate(GenerateConfig(db="demo", n=40, val_size=4, seed=5)), tmp_path / "tokdata")
    tiny = init_tiny(tmp_path / "tokdata", tmp_path / "tiny", TinyConfig(vocab_size=600, seed=0))
    out = tmp_path / "run"
    cfg = VBIConfig(
        db="demo",
        model=str(tiny),
        out=str(out),
        iterations=2,
        writer0="few-shot",
        fewshot_shots=2,
        n=16,
        val_size=6,
        epochs=1,
        learning_rate=3e-3,
        sql2text_epochs=1,
        batch_size=8,
        max_length=320,
        max_new_tokens=8,
        question_max_new_tokens=8,
        gen_batch_size=8,
        eval_ex_limit=2,
        logging_steps=5,
    )
    real_verify = vbi.verify

    def half_right(examples, preds, data_root, *judge):  # the untrained model solves nothing: force some y+
        rows = real_verify(examples, preds, data_root, *judge)
        return [dict(r, verdict="y+") if i % 2 == 0 else r for i, r in enumerate(rows)]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vbi, "verify", half_right)
        res = vbi.run_vbi(cfg)
    assert not (out / "sql2text-0").exists()
    tiny_path = str(Path(tiny).resolve())
    assert res.rows[0]["writer"] == f"few-shot:{tiny_path}"
    assert {
        r["question_writer"]
        for r in map(json.loads, (out / "iter-0" / "data" / "train.jsonl").read_text().splitlines())
    } == {f"few-shot:{tiny_path}"}
    s2t = (out / "iter-0" / "sql2text").resolve()
    assert json.loads((s2t / "manifest.json").read_text())["inputs"]["model"] == tiny_path
    assert res.rows[1]["writer"] == f"model:{s2t}"
    state = json.loads((out / "state.json").read_text())
    assert state["sql2text_fewshot"] is False and state["sql2text_model"] == str(
        (out / "iter-1" / "sql2text").resolve()
    )
    # the few-shot examples are the real training pairs: the selection split is not among them
    shots = {r["question"] for r in map(json.loads, (out / "real" / "sql2text.jsonl").read_text().splitlines())}
    selection = {r["question"] for r in map(json.loads, (out / "real" / "selection.jsonl").read_text().splitlines())}
    assert shots and not shots & selection
    with pytest.raises(ConfigError, match="fewshot-shots"):
        VBIConfig(model="m", out="o", writer0="few-shot", fewshot_shots=0)
