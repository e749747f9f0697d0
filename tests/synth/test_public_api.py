"""The packages' public objects (issue 12): ``__all__`` names resolve, and each name means one thing."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def test_synth_exports_the_generate_function_and_its_config():
    from synth import GenerateConfig, generate
    from synth.generation import pipeline

    assert inspect.isfunction(generate) and generate is pipeline.generate
    assert inspect.isclass(GenerateConfig) and GenerateConfig().n == 3000


def test_synth_module_imports_still_work_next_to_the_function():
    import synth
    import synth.generation
    import synth.generation.sampling

    assert inspect.ismodule(synth.generation)
    assert inspect.isfunction(synth.generate)  # the name is the function, never a module


@pytest.mark.parametrize("package", ["synth", "train"])
def test_every_public_name_resolves(package):
    mod = __import__(package)
    for name in mod.__all__:
        if name.startswith("run_"):
            continue  # train's run_* modules are checked in a fresh process below
        assert getattr(mod, name) is not None, name
    with pytest.raises(AttributeError):
        mod.no_such_name  # noqa: B018


def test_import_train_does_not_import_torch():
    code = (
        "import sys, train\n"
        "from train import SFTConfig, SelfPlayConfig, VBIConfig, SpftConfig, ExperimentConfig\n"
        "from synth.questions import writer_names\n"
        "assert 'model' in writer_names(), writer_names()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("package", ["synth", "train"])
def test_packages_are_marked_typed(package):
    assert (SRC / package / "py.typed").is_file()


def test_fill_render_is_the_module():
    """``synth.fill.render`` is the FROM/JOIN rendering module, not a function of the same name."""
    import synth.fill
    import synth.fill.render

    assert inspect.ismodule(synth.fill.render)
    assert synth.fill.render.__name__ == "synth.fill.render"
    assert callable(synth.fill.render.build_from)
    assert inspect.isfunction(synth.fill.render_sql)


@pytest.mark.parametrize("package", ["synth", "synth.generation", "synth.fill", "synth.prompt", "synth.templates"])
def test_no_public_name_shadows_a_submodule(package):
    """After every submodule is imported, ``package.<submodule>`` is that module and no ``__all__``
    name is a module: a function named like its package's module (``synth.fill.render`` once) would
    make one of the two unreachable, depending on import order."""
    import importlib
    import pkgutil

    pkg = importlib.import_module(package)
    subs = [m.name for m in pkgutil.iter_modules(pkg.__path__)]
    for name in subs:
        importlib.import_module(f"{package}.{name}")
    for name in subs:
        assert inspect.ismodule(getattr(pkg, name)), f"{package}.{name} is not the module"
    for name in getattr(pkg, "__all__", ()):
        assert not inspect.ismodule(getattr(pkg, name)), f"{package}.{name} (in __all__) is a module"
