"""The one schema model (evaluation.schema): tables.json parsing, SQLite introspection (light, and full for
test suites), the mapping form, FK distances and join paths."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from evaluation.errors import InputError, UnknownNameError
from evaluation.schema import (
    Column,
    ForeignKey,
    Schema,
    Table,
    natural_name,
    schema_from_sqlite,
    schemas_from_tables_json,
    sqlite_type_to_column_type,
)


def _chain_schema() -> Schema:
    """a -> b -> c, plus an isolated table d."""

    def t(name, *cols):
        return Table(
            name, name, tuple(Column(name, c, c, "number", is_primary_key=(i == 0)) for i, c in enumerate(cols))
        )

    return Schema(
        "chain",
        (t("a", "id", "b_id"), t("b", "id", "c_id"), t("c", "id"), t("d", "id")),
        (ForeignKey("a", "b_id", "b", "id"), ForeignKey("b", "c_id", "c", "id")),
    )


def test_distances_are_fk_hops_and_inf_when_disconnected():
    s = _chain_schema()
    assert s.distance("a", "a") == 0
    assert s.distance("A", "b") == 1
    assert s.distance("a", "c") == 2
    assert s.distance("c", "a") == 2
    assert math.isinf(s.distance("a", "d"))


def test_join_path_includes_intermediate_table():
    s = _chain_schema()
    path = s.join_path(["a", "c"])
    assert path == [ForeignKey("a", "b_id", "b", "id"), ForeignKey("b", "c_id", "c", "id")]
    assert s.join_path(["a"]) == []
    assert s.join_path(["a", "d"]) is None


def test_unknown_names_suggest_close_matches():
    s = _chain_schema()
    with pytest.raises(UnknownNameError, match="did you mean 'a'"):
        s.table("aa")
    with pytest.raises(UnknownNameError, match="b_id"):
        s.column("a", "bid")


def test_spider_tables_json_loads_all_databases(spider_root):
    schemas = schemas_from_tables_json(spider_root / "tables.json")
    assert len(schemas) == 166
    cs = schemas["concert_singer"]
    assert {t.name for t in cs.tables} == {"stadium", "singer", "concert", "singer_in_concert"}
    assert cs.table("Singer").column("singer_id").is_primary_key
    assert cs.distance("singer", "concert") == 2  # via singer_in_concert
    assert cs.column("singer", "Name").natural == "name"


def test_sqlite_introspection_matches_tables_json_keys(spider_root):
    path = spider_root / "database" / "concert_singer" / "concert_singer.sqlite"
    s = schema_from_sqlite(path)
    assert s.db_id == "concert_singer"
    fk_pairs = {(f.table.lower(), f.ref_table.lower()) for f in s.foreign_keys}
    assert ("singer_in_concert", "singer") in fk_pairs
    assert s.table("concert").column("concert_ID").is_primary_key


def test_sqlite_schema_with_fk_to_implicit_primary_key(tmp_path):
    db = tmp_path / "x.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, born DATE, name TEXT);"
        "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p, ok BOOLEAN);"
    )
    con.close()
    s = schema_from_sqlite(db)
    assert s.foreign_keys == (ForeignKey("c", "p_id", "p", "id"),)
    assert [c.type for c in s.table("p").columns] == ["number", "time", "text"]
    assert s.column("c", "ok").type == "boolean"


def test_bad_tables_json_names_file_and_entry(tmp_path):
    bad = tmp_path / "tables.json"
    bad.write_text('[{"db_id": "x"}]')
    with pytest.raises(InputError, match=r"tables.json.*entry 1.*table_names_original"):
        schemas_from_tables_json(bad)
    bad.write_text("[{\n")
    with pytest.raises(InputError, match=r"tables.json:2"):
        schemas_from_tables_json(bad)


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("INTEGER", "number"),
        ("varchar(20)", "text"),
        ("", "text"),
        ("DATETIME", "time"),
        ("REAL", "number"),
        ("bool", "boolean"),
        ("BLOB", "others"),
    ],
)
def test_type_mapping(declared, expected):
    assert sqlite_type_to_column_type(declared) == expected


def test_natural_name():
    assert natural_name("Customer_ID") == "customer id"
    assert natural_name("customerId") == "customer id"


def test_description_csv_encodings_header_and_cap(tmp_path):
    from evaluation.schema import MAX_COMMENT_CHARS, read_description_csv

    p = tmp_path / "t.csv"
    header = "Original_Column_Name,column_name,column_description,data_format,value_description\n"
    p.write_bytes(("\ufeff" + header + "a,a,caf\u00e9 \u00fcber,text,nan\nb,b,,text,only values\n").encode("utf-8"))
    assert read_description_csv(p) == {"a": "caf\u00e9 \u00fcber", "b": "only values"}
    p.write_bytes((header + "c,c," + "x" * 500 + ",text,\n").encode("utf-8"))
    (comment,) = read_description_csv(p).values()
    assert len(comment) == MAX_COMMENT_CHARS and comment.endswith("\u2026")
    p.write_text("name,description\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.csv:1, field 'original_column_name'"):
        read_description_csv(p)


def test_tables_json_comments_win_over_description_csv(tmp_path):
    from evaluation.schema import read_description_dir, with_column_comments

    entry = {
        "db_id": "d",
        "table_names_original": ["t"],
        "column_names_original": [[-1, "*"], [0, "id"], [0, "name"]],
        "column_types": ["text", "number", "text"],
        "column_descriptions": [None, "from tables.json", None],
    }
    (tmp_path / "tables.json").write_text(json.dumps([entry]))
    schema = schemas_from_tables_json(tmp_path / "tables.json")["d"]
    (tmp_path / "desc").mkdir()
    (tmp_path / "desc" / "T.csv").write_text(
        "original_column_name,column_name,column_description,data_format,value_description\n"
        "ID,id,from csv,integer,\nNAME,name,the name,text,\n"
    )
    merged = with_column_comments(schema, read_description_dir(tmp_path / "desc"))
    assert merged.column("t", "id").comment == "from tables.json"
    assert merged.column("t", "name").comment == "the name"
    assert read_description_dir(tmp_path / "absent") == {}


# ---- the full reader for test suites, the mapping form -------------------------------------------

FULL_SQL = """
CREATE TABLE Parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, code, note INT);
CREATE TABLE child (
    pid INTEGER NOT NULL REFERENCES PARENT, tag TEXT NOT NULL, n INT,
    x INTEGER REFERENCES ghost(id), y INTEGER REFERENCES parent(nope), z INTEGER REFERENCES pair,
    PRIMARY KEY (tag, pid), FOREIGN KEY (pid) REFERENCES parent(id)
);
CREATE TABLE pair (a INT, b INT, PRIMARY KEY (a, b));
CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES emp(id));
CREATE VIEW v AS SELECT name FROM Parent;
CREATE INDEX i ON child (n);
INSERT INTO Parent VALUES (1, 'ann', 1, 7, 'x'), (2, 'bob', 2.5, 8, NULL);
"""


@pytest.fixture()
def full_db(tmp_path):
    path = tmp_path / "full.sqlite"
    con = sqlite3.connect(path)
    con.executescript(FULL_SQL)
    con.close()
    return path


def test_schema_from_database_reads_what_rebuilding_needs(full_db):
    from evaluation.executor import ReadOnlyDatabase
    from evaluation.schema import schema_from_database
    from evaluation.suite import view_and_index_sql

    with ReadOnlyDatabase(full_db) as db:
        s = schema_from_database(db)
        extra = view_and_index_sql(db)
    assert s.db_id == "full" and s.db_path == full_db
    assert [t.name for t in s.tables] == ["Parent", "child", "pair", "emp"]  # creation order
    assert s.table("child").sql.startswith("CREATE TABLE child (")
    assert extra == ["CREATE VIEW v AS SELECT name FROM Parent", "CREATE INDEX i ON child (n)"]
    # declared type, NOT NULL, key position (key order, not column order)
    pid = s.column("child", "pid")
    assert (pid.declared_type, pid.not_null, pid.primary_key_position, pid.is_primary_key) == ("INTEGER", True, 2, True)
    assert s.table("child").primary_key == ("tag", "pid")
    assert s.column("child", "n").primary_key_position == 0 and not s.column("child", "n").not_null
    # value kinds: observed when every value is int/float/str, else from the declared type
    kinds = {c.name: c.value_kind for c in s.table("Parent").columns}
    assert kinds == {"id": "int", "name": "str", "score": "float", "code": "int", "note": "str"}
    assert s.column("child", "tag").value_kind == "str" and s.column("child", "n").value_kind == "int"
    # foreign keys resolved: the parent's one-column key when none is named, names as the tables spell
    # them, duplicates merged, keys to a missing table or column (or to a two-column key) left out
    assert s.foreign_keys_from("CHILD") == (ForeignKey("child", "pid", "Parent", "id"),)
    assert s.foreign_keys_from("emp") == (ForeignKey("emp", "boss", "emp", "id"),)
    assert s.foreign_keys_from("Parent") == ()
    assert s.foreign_keys == (ForeignKey("child", "pid", "Parent", "id"), ForeignKey("emp", "boss", "emp", "id"))


def test_schema_from_sqlite_keeps_declared_keys_and_fills_the_declared_fields(full_db):
    s = schema_from_sqlite(full_db)
    assert ForeignKey("child", "x", "ghost", "id") in s.foreign_keys  # as declared, unresolved
    tag = s.column("child", "tag")
    assert (tag.declared_type, tag.not_null, tag.primary_key_position, tag.value_kind) == ("TEXT", True, 1, "")
    assert s.table("child").sql == ""


def test_from_mapping_and_doctests():
    import doctest

    import evaluation.schema

    assert doctest.testmod(evaluation.schema).failed == 0
    s = Schema.from_mapping({"singer": ["Singer_ID", "Name"], "concert": []})
    assert [t.name for t in s.tables] == ["singer", "concert"] and s.foreign_keys == ()
    assert s.column("Singer", "singer_id") == Column("singer", "Singer_ID", "singer id", "others")
    assert s.table("concert").columns == () and not s.has_table("stadium")
