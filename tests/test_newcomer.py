"""A newcomer's first hour: threads that never thrash, resume that continues, logs that read."""

from __future__ import annotations

import pytest
import torch

import charzoo
from charzoo import CharGRU, CharMLP
from charzoo import threads as threads_module
from charzoo.callbacks import Callback
from charzoo.cli import main
from charzoo.threads import AUTO_MIN_WORK, auto_threads, free_cores, model_step_work


class ThreadProbe(Callback):
    def __init__(self):
        self.seen = set()

    def on_step_end(self, trainer, step, loss):
        self.seen.add(torch.get_num_threads())


@pytest.fixture
def two_threads():
    """torch at two threads (conftest sets one), as on a 2-core machine by default."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_auto_is_the_default_and_a_small_model_trains_on_one_thread(small_names, two_threads):
    assert CharMLP().n_threads == "auto"
    probe = ThreadProbe()
    model = CharMLP(max_steps=20, random_state=0, callbacks=[probe]).fit(small_names[0])
    assert probe.seen == {1}
    assert model_step_work(model) < AUTO_MIN_WORK
    assert torch.get_num_threads() == 2  # restored after fit


def test_auto_uses_free_cores_for_a_large_step_and_none_when_the_machine_is_busy(
    small_names, two_threads, monkeypatch
):
    monkeypatch.setattr(threads_module, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads_module, "busy_cores", lambda: 0.0)
    assert auto_threads(10 * AUTO_MIN_WORK) == 2
    assert auto_threads(None) == auto_threads(AUTO_MIN_WORK / 2) == 1
    probe = ThreadProbe()
    model = CharGRU(n_embd=64, n_hidden=256, max_steps=3, random_state=0, callbacks=[probe])
    model.fit(small_names[0])
    assert model_step_work(model) > AUTO_MIN_WORK and probe.seen == {2}
    monkeypatch.setattr(threads_module, "busy_cores", lambda: 2.0)  # two other programs
    assert free_cores() == 1 and auto_threads(10 * AUTO_MIN_WORK) == 1
    probe.seen.clear()
    model.set_params(warm_start=True, max_steps=2).fit(small_names[0])
    assert probe.seen == {1}
    torch.set_num_threads(1)  # torch's own setting (OMP_NUM_THREADS) caps auto
    monkeypatch.setattr(threads_module, "busy_cores", lambda: 0.0)
    assert auto_threads(10 * AUTO_MIN_WORK) == 1


def test_busy_cores_reads_the_machine():
    assert threads_module.busy_cores() >= 0
    assert 1 <= free_cores() <= threads_module.usable_cores()


def test_n_threads_rejects_other_strings(small_names):
    with pytest.raises(ValueError, match="n_threads"):
        CharMLP(n_threads="many").fit(small_names[0][:50])


def _lrs(model, first_step):
    h = model.history_
    return [lr for step, lr in zip(h["step"], h["lr"]) if step > first_step]


def test_warm_start_continues_the_schedule_like_one_longer_fit(small_names):
    train, test = small_names
    settings = dict(eval_interval=10, random_state=0, validation_fraction=0.1)
    whole = CharMLP(max_steps=70, **settings).fit(train)
    resumed = CharMLP(max_steps=50, **settings).fit(train)
    resumed.set_params(warm_start=True, max_steps=20).fit(train)
    assert resumed.n_steps_ == whole.n_steps_ == 70
    assert resumed.history_["step"] == whole.history_["step"]
    assert _lrs(resumed, 50) == pytest.approx(_lrs(whole, 50), rel=1e-9)
    assert max(_lrs(resumed, 50)) < 0.5 * resumed.learning_rate  # no restart at the peak


def test_a_resumed_fit_ends_within_noise_of_one_fit(small_names):
    train, test = small_names
    settings = dict(eval_interval=50, random_state=0)
    whole = CharMLP(max_steps=400, **settings).fit(train)
    resumed = CharMLP(max_steps=300, **settings).fit(train)
    resumed.set_params(warm_start=True, max_steps=100).fit(train)
    assert resumed.score(test) == pytest.approx(whole.score(test), rel=0.04)  # 2.2% measured


def test_cli_resume_stores_the_model_as_reloaded_and_info_counts_every_step(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    fit = ["fit", "mlp", "dinos", "-o", "d.cz", "--seed", "0", "-q"]
    assert main([*fit, "--max-steps", "30"]) == 0
    assert main([*fit, "--resume", "d.cz", "--max-steps", "20"]) == 0
    model = charzoo.load("d.cz")
    assert (model.warm_start, model.max_steps, model.n_steps_) == (False, 50, 50)
    lrs = model.history_["lr"]
    assert lrs[-1] <= lrs[0]  # the resumed part continued the decay
    capsys.readouterr()
    assert main(["info", "d.cz"]) == 0
    assert "50 steps in all" in capsys.readouterr().out


def test_forced_progress_in_a_log_prints_lines_not_a_bar(small_names, capfd):
    CharMLP(max_steps=40, eval_interval=20, verbose=True, random_state=0).fit(small_names[0])
    err = capfd.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert len(lines) == 2 and "of 40" in lines[-1] and "steps/s" in lines[-1]


def test_compare_prints_one_table_and_plots_histories(small_names, tmp_path):
    from charzoo import CharNGram

    train, test = small_names
    models = {"mlp": CharMLP(max_steps=60, eval_interval=20, random_state=0),
              "3-gram": CharNGram(order=3)}  # fmt: skip
    result = charzoo.compare(models, test, train_texts=train)
    assert [r["name"] for r in result.rows] == sorted(models, key=lambda n: models[n].score(test))
    lines = str(result).splitlines()
    assert lines[0].split() == ["model", "perplexity", "bits/char", "parameters", "fit", "s"]
    assert all(r["fit_seconds"] > 0 for r in result.rows)
    mlp_row = next(r for r in result.rows if r["name"] == "mlp")
    assert 0 < models["mlp"].fit_seconds_ <= mlp_row["fit_seconds"]  # its training part
    fig = result.plot(path=tmp_path / "histories.png")
    assert (tmp_path / "histories.png").stat().st_size > 0
    assert [line.get_label() for line in fig.axes[0].lines] == ["mlp"]  # the n-gram has none
    with pytest.raises(ValueError, match="models is empty"):
        charzoo.compare({}, test)


def test_cli_compare_lowercase_presets_and_threads(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    fit = ["fit", "mlp", "names", "-o", "n.cz", "--max-steps", "20", "--seed", "0", "-q"]
    assert main(fit) == 0
    assert main(["fit", "ngram", "names", "-o", "g.cz", "-q"]) == 0
    capsys.readouterr()
    assert main(["score", "n.cz", "dinos"]) == 1
    assert "--lowercase folds dinos to lower case" in capsys.readouterr().err
    assert main(["score", "n.cz", "dinos", "--lowercase", "--threads", "auto"]) == 0
    capsys.readouterr()
    assert main(["compare", "n.cz", "g.cz", "--data", "dinos", "--lowercase"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("model") and {out[1].split()[0], out[2].split()[0]} == {"n", "g"}
    with pytest.raises(SystemExit):
        main(["score", "n.cz", "names", "--threads", "many"])
    assert "expected auto or a number" in capsys.readouterr().err
    from charzoo.cli.parser import build_parser

    help_text = build_parser()._subparsers._group_actions[0].choices["fit"].format_help()
    assert "'zoo'" not in help_text and "charzoo models --presets" in " ".join(help_text.split())
    assert main(["models", "--presets"]) == 0
    listed = capsys.readouterr().out
    for cls in (charzoo.CharMLP, charzoo.CharGRU, charzoo.CharTransformer):
        assert all(preset in listed for preset in cls.presets)


def test_thread_benchmark_runs_the_documented_code_and_tables_its_records(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "threads.py"
    spec = importlib.util.spec_from_file_location("threads_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    code = bench.five_lines()
    assert "CharMLP(block_size=3" in code and "n_threads" not in code  # the default, verbatim
    assert "CharMLP(n_threads=1, block_size=3" in bench.with_threads(code, "1")
    assert bench.with_threads(code, None) == code
    records = [
        {"workload": "w", "condition": c, "variant": v, "seconds": s, "finished": s < 60}
        for c, v, s in [("idle", "auto", 10.0), ("busy", "auto", 20.0), ("idle", "torch", 60.0),
                        ("busy", "torch", 60.0), ("idle", "1", 10.0), ("busy", "1", 15.0)]
    ]  # fmt: skip
    table = bench.table(records)
    assert "| w | auto | 10.0 | 20.0 | 2.00 | 1.00 | 1.00 |" in table
    assert "| w | torch | >60.0 | >60.0 |" in table
