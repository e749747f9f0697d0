"""The few-shot SQL-to-Text₀ writer (``--writer0 few-shot``): an instruction model shown real (SQL ->
question) pairs instead of being fine-tuned on them (SPFT-SQL §3.1.1's alternative)."""

from __future__ import annotations

import json

import pytest

from evaluation.errors import DataNotFoundError, InputError


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
    w = FewShotQuestionWriter(tmp_path / "instruct", generator=gen, examples=_pool(schema), shots=2,
                              cache_dir=tmp_path / "cache")
    assert w.name == f"few-shot:{tmp_path / 'instruct'}"
    assert w.write_batch([(sql, schema)]) == ["Which values are set, in order?"]
    prompt = gen.prompts[0]
    schema_prompt = PromptBuilder(schema, cache_dir=tmp_path / "cache").build(None, sql).schema_prompt
    expected = sql2text_fewshot_input(schema_prompt, sql, [
        (f"SELECT {c} FROM {t.name} ORDER BY {c}", "List them in order."),  # same db, most similar
        (f"SELECT count(*) FROM {t.name}", "How many rows are there?"),
    ])
    assert prompt == expected.rstrip() + "\n"  # no tokenizer: no chat template
    assert prompt.startswith(FEWSHOT_INSTRUCTION) and "another database" not in prompt
    assert prompt.rstrip().endswith(f"SQL: {sql}\nquestion:")


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
        FewShotQuestionWriter(tmp_path, generator=FakeGenerator(["q"]), examples=[{"db_id": "d", "sql": "s", "question": "q"}], shots=0)
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
    w = get_writer("few-shot", path=str(tiny_model), examples_file=str(ex), shots=2, max_new_tokens=8,
                   cache_dir=str(tmp_path / "c"))
    items = [(f"SELECT count(*) FROM {t.name}", schema) for t in schema.tables[:2]]
    first = w.write_batch(items)
    assert len(first) == 2 and all(q.strip() and "\n" not in q for q in first)
    assert w.write_batch(items) == first
    with pytest.raises(DataNotFoundError):
        get_writer("few-shot", path=str(tiny_model), examples_file=str(tmp_path / "none.jsonl"))
