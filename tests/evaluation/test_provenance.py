"""One provenance module (issue 12): synth's manifest, train's manifests, evaluate's report and the
suite manifest hash files and read versions through ``evaluation.provenance`` -- and agree."""

from __future__ import annotations

import hashlib
import inspect

import pytest

from evaluation import provenance


def test_file_hash_is_the_same_everywhere(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_bytes(b"a\n" * 100_000)
    want = hashlib.sha256(f.read_bytes()).hexdigest()
    from synth import emit
    from train import io

    assert provenance.sha256_file(f) == emit.sha256_file(f) == io.sha256_file(f) == want
    assert provenance.sha256_bytes(f.read_bytes()) == want
    assert provenance.file_info(f, size=True) == {"path": f.resolve().as_posix(), "sha256": want, "bytes": 200_000}
    assert provenance.file_info(f, relative_to=tmp_path)["path"] == "x.jsonl"
    assert provenance.file_info(tmp_path / "missing", resolve=False) == {
        "path": str(tmp_path / "missing"),
        "sha256": None,
    }
    assert provenance.file_info(None) is None


def test_versions_record_or_skip_missing_packages():
    v = provenance.package_versions(["sqlglot", "no-such-pkg-xyz"], sqlite=True)
    assert set(v) == {"python", "sqlite", "sqlglot", "no-such-pkg-xyz"} and v["no-such-pkg-xyz"] == "not installed"
    assert "no-such-pkg-xyz" not in provenance.package_versions(["no-such-pkg-xyz"], missing="skip")
    with pytest.raises(ValueError):
        provenance.package_versions([], missing="drop")


@pytest.mark.parametrize(
    "module",
    ["synth.emit", "train.manifest", "train.io", "evaluation.report", "evaluation.suite", "evaluation.suite_cache"],
)
def test_no_module_hashes_files_or_reads_versions_on_its_own(module):
    """The twins are gone: nobody else opens a file to sha256 it or asks importlib.metadata."""
    import importlib

    src = inspect.getsource(importlib.import_module(module))
    assert "metadata.version(" not in src and "read_bytes()).hexdigest()" not in src
    assert "for chunk in iter(lambda: f.read(" not in src and "while block := f.read(" not in src


def test_train_manifest_and_report_use_it(tmp_path):
    from evaluation.report import _file_info
    from train.manifest import file_inputs, versions

    f = tmp_path / "d.json"
    f.write_text("{}")
    assert file_inputs({"data": f}) == {"data": provenance.file_info(f)}
    assert _file_info(f) == provenance.file_info(f, resolve=False)
    assert versions()["python"] == provenance.package_versions([])["python"]
