"""Third-party plugins through real (fake) distributions: broken ones, switches, uninstalling."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

import charzoo
from charzoo import PluginWarning, list_models, list_plugins, model_info
from charzoo.models.bigram import CharBigram
from charzoo.persistence import ModelFileError
from charzoo.registry import BLOCK_ENV, DISABLE_AUTOLOAD_ENV, reload_plugins

GOOD = '''
from charzoo import hookimpl
from charzoo.models.bigram import CharBigram

class FakeGram(CharBigram):
    """A bigram shipped by a test plugin."""

@hookimpl
def charzoo_register_models(register):
    register(FakeGram, name="fakegram")
'''
BROKEN = {
    "czfake_boom": "raise ImportError('no module named tensorflow')\n",
    "czfake_notmodel": (
        "from charzoo import hookimpl\n"
        "@hookimpl\ndef charzoo_register_models(register):\n    register(dict, name='dicty')\n"
    ),
    "czfake_dup": (
        "from charzoo import hookimpl\nfrom charzoo.models.bigram import CharBigram\n"
        "class Dup(CharBigram):\n    pass\n"
        "@hookimpl\ndef charzoo_register_models(register):\n"
        "    register(Dup, name='bigram')\n    register(Dup, name='dup-ok')\n"
    ),
    "czfake_hookraise": (
        "from charzoo import hookimpl\n"
        "@hookimpl\ndef charzoo_register_models(register):\n    raise RuntimeError('kaput')\n"
    ),
}
ENTRY_POINTS = {
    "good": "czfake_good",
    "boom": "czfake_boom",
    "notmodel": "czfake_notmodel",
    "dup": "czfake_dup",
    "hookraise": "czfake_hookraise",
}


def make_distribution(root, name: str, version: str, entry_points: dict, modules: dict) -> None:
    """An installed distribution as pip leaves it: a ``.dist-info`` folder plus modules."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[charzoo]\n{lines}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh site directory on sys.path holding the fake distribution ``charzoo-fakes``."""
    make_distribution(
        tmp_path, "charzoo-fakes", "1.2.3", ENTRY_POINTS, {"czfake_good": GOOD, **BROKEN}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv(BLOCK_ENV, raising=False)
    importlib.invalidate_caches()
    reload_plugins()
    yield tmp_path
    for module in [*BROKEN, "czfake_good"]:
        sys.modules.pop(module, None)
    reload_plugins()


def _load_quietly() -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = list_models()
    return names, [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]


def test_broken_plugins_warn_by_name_and_the_rest_works(site):
    names, messages = _load_quietly()
    assert "fakegram" in names and "dup-ok" in names
    assert {"bigram", "mlp"} <= set(names)
    assert "dicty" not in names
    assert charzoo.get_model_class("bigram") is CharBigram  # the duplicate did not replace it
    assert len(messages) == 4, messages
    expected = {
        "'boom'": "failed to load: ImportError('no module named tensorflow')",
        "'notmodel'": "registered <class 'dict'>, which is not a CharLM subclass",
        "'dup'": "model name 'bigram' is already taken by plugin 'charzoo.models.bigram'",
        "'hookraise'": "hook raised RuntimeError('kaput')",
    }
    for plugin, reason in expected.items():
        (message,) = [m for m in messages if f"plugin {plugin}" in m]
        assert "package charzoo-fakes 1.2.3" in message and reason in message
    plugins = {p.name: p for p in list_plugins()}
    assert plugins["good"].models == ["fakegram"] and plugins["good"].error is None
    assert plugins["boom"].error and plugins["hookraise"].error
    assert plugins["charzoo.models.mlp"].builtin and plugins["charzoo.models.mlp"].models == ["mlp"]


def test_plugin_models_carry_package_and_version(site):
    _load_quietly()
    info = model_info("fakegram")
    assert (info.package, info.version, info.plugin) == ("charzoo-fakes", "1.2.3", "good")
    assert info.description == "A bigram shipped by a test plugin."
    assert model_info("mlp").package == "charzoo"
    assert charzoo.create_model("fakegram").fit(["ab", "ba"]).score(["ab"]) > 1


def test_disable_autoload(site, monkeypatch):
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    names, messages = _load_quietly()
    assert messages == []
    assert "fakegram" not in names and {"bigram", "mlp"} <= set(names)
    assert all(p.builtin for p in list_plugins())


@pytest.mark.parametrize(
    "blocked", ["boom,notmodel, dup ,hookraise", "charzoo-fakes", "Charzoo_Fakes"]
)
def test_block_plugins_by_entry_point_or_package(site, monkeypatch, blocked):
    monkeypatch.setenv(BLOCK_ENV, blocked)
    names, messages = _load_quietly()
    assert messages == []
    plugins = {p.name: p for p in list_plugins()}
    assert plugins["boom"].blocked and plugins["boom"].error is None
    assert ("fakegram" in names) == (blocked.startswith("boom"))


def test_uninstalled_plugin_removes_models_and_load_names_package(site, tmp_path_factory):
    _load_quietly()
    path = tmp_path_factory.mktemp("models") / "fake.cz"
    charzoo.create_model("fakegram").fit(["anna", "bob"]).save(path)
    assert charzoo.load(path).score(["anna"]) > 1
    sys.path.remove(str(site))  # pip uninstall charzoo-fakes
    reload_plugins()
    assert "fakegram" not in list_models()
    with pytest.raises(ModelFileError, match=r"'fakegram'.*package 'charzoo-fakes'.*pip install"):
        charzoo.load(path)


def test_same_entry_point_name_in_two_packages(site, tmp_path, monkeypatch):
    other = tmp_path / "other"
    source = GOOD.replace("FakeGram", "OtherGram").replace('"fakegram"', '"othergram"')
    make_distribution(
        other, "charzoo-other", "0.1", {"good": "czfake_other"}, {"czfake_other": source}
    )
    monkeypatch.syspath_prepend(str(other))
    importlib.invalidate_caches()
    reload_plugins()
    try:
        names, messages = _load_quietly()
    finally:
        sys.modules.pop("czfake_other", None)
    assert {"fakegram", "othergram"} <= set(names)
    assert model_info("othergram").package == "charzoo-other"
    assert model_info("fakegram").package == "charzoo-fakes"


def test_installed_but_broken_plugin_is_named_with_its_import_error(site, tmp_path_factory):
    _load_quietly()
    path = tmp_path_factory.mktemp("models") / "fake.cz"
    charzoo.create_model("fakegram").fit(["anna", "bob"]).save(path)
    # the package stays installed, but its module now fails to import
    (site / "czfake_good.py").write_text("import tensorflow_not_here\n" + GOOD)
    sys.modules.pop("czfake_good", None)
    reload_plugins()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        with pytest.raises(ModelFileError) as caught:
            charzoo.load(path)
        message = str(caught.value)
        assert "'fakegram' model from package 'charzoo-fakes'" in message
        assert "installed (1.2.3) but failed to load" in message
        assert "plugin 'good' it failed to load: ModuleNotFoundError(" in message
        assert "tensorflow_not_here" in message and "pip install" not in message
        # fitting by name points at the broken plugins as well
        with pytest.raises(ValueError, match=r"unknown model 'fakegram'.*failed to load.*good"):
            charzoo.create_model("fakegram")


TYPO = '''
from charzoo import hookimpl
from charzoo.models.bigram import CharBigram

class TypoGram(CharBigram):
    """Never registered: the hook's name is misspelled."""

@hookimpl
def charzoo_register_model(register):
    register(TypoGram, name="typogram")
'''
OPTIONAL = '''
from charzoo import hookimpl
from charzoo.models.bigram import CharBigram

class LaterGram(CharBigram):
    """Registered; its optional hook for a future charzoo is allowed."""

@hookimpl(optionalhook=True)
def charzoo_hook_of_a_later_version():
    pass

@hookimpl
def charzoo_register_models(register):
    register(LaterGram, name="latergram")
'''


def test_misspelled_hook_is_a_plugin_failure_naming_the_plugin(site, tmp_path, monkeypatch, capsys):
    from charzoo.cli import main
    from charzoo.registry import explain_missing_model

    other = tmp_path / "typo"
    make_distribution(
        other,
        "charzoo-typo",
        "0.4",
        {"typo": "czfake_typo", "later": "czfake_later"},
        {"czfake_typo": TYPO, "czfake_later": OPTIONAL},
    )
    monkeypatch.syspath_prepend(str(other))
    importlib.invalidate_caches()
    reload_plugins()
    try:
        names, messages = _load_quietly()
        assert "typogram" not in names
        assert {"fakegram", "latergram", "mlp"} <= set(names)  # the rest of the zoo works
        (message,) = [m for m in messages if "plugin 'typo'" in m]
        assert "package charzoo-typo 0.4" in message
        assert "hook 'charzoo_register_model' (did you mean 'charzoo_register_models'?)" in message
        assert not [m for m in messages if "plugin 'later'" in m]
        plugins = {p.name: p for p in list_plugins()}
        assert "charzoo does not define" in plugins["typo"].error
        assert plugins["typo"].models == [] and plugins["later"].error is None
        # the same failure explains a missing model, by name or from a saved file
        explained = explain_missing_model("typogram", "charzoo-typo")
        assert "failed to load" in explained and "plugin 'typo'" in explained
        assert "charzoo_register_model'" in explained and "pip install" not in explained
        with pytest.raises(ValueError, match=r"unknown model 'typogram'.*failed.*typo"):
            charzoo.create_model("typogram")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)
            assert main(["plugins"]) == 0
        out = capsys.readouterr().out
        assert "typo  [entry point, package charzoo-typo 0.4]  FAILED" in out
        assert "did you mean 'charzoo_register_models'?" in out
    finally:
        for module in ("czfake_typo", "czfake_later"):
            sys.modules.pop(module, None)
        reload_plugins()


def test_builtin_plugins_are_the_modules_that_register_models():
    # helper modules (``_``-prefixed, e.g. the n-gram table, the mixture's mathematics) are
    # not plugins: every built-in plugin listed registers at least one model
    builtins = [p for p in list_plugins() if p.builtin]
    assert builtins and all(p.models for p in builtins), [p.name for p in builtins if not p.models]
    assert not any(p.name.rsplit(".", 1)[-1].startswith("_") for p in builtins)
