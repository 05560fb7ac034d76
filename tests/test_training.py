"""The Trainer: schedules, best weights, divergence, early stopping, callbacks, subclassing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from charzoo.callbacks import Callback, EarlyStopping, WeightAverage
from charzoo.training import (
    Trainer,
    TrainingDivergedWarning,
    TrainSettings,
    default_eval_interval,
    lr_factor,
)


class Quadratic:
    """Loss (w - 3)^2 of a one-weight module; validation losses are scripted per evaluation."""

    def __init__(self, val_losses=None, blow_up_at=None):
        self.val_losses = list(val_losses) if val_losses is not None else None
        self.blow_up_at = blow_up_at
        self.calls = 0

    def train_loss(self, module):
        self.calls += 1
        loss = ((module.weight - 3.0) ** 2).sum()
        if self.blow_up_at is not None and self.calls >= self.blow_up_at:
            loss = loss * float("nan")
        return loss

    def eval_loss(self, module):
        if self.val_losses is None:
            return None
        return self.val_losses.pop(0)


def _module():
    module = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        module.weight.fill_(0.0)
    return module


def _settings(**kw):
    base = {
        "learning_rate": 0.1,
        "max_steps": 40,
        "lr_schedule": "constant",
        "warmup_steps": 0,
        "weight_decay": 0.01,
        "grad_clip": 1.0,
        "grad_accumulation_steps": 1,
        "eval_interval": 10,
        "precision": "fp32",
        "compile": False,
    }
    return TrainSettings(**{**base, **kw})


@pytest.mark.parametrize(
    ("schedule", "warmup", "expected"),
    [
        ("constant", 0, {0: 1.0, 50: 1.0, 99: 1.0}),
        ("step", 0, {0: 1.0, 74: 1.0, 75: 0.1, 99: 0.1}),
        ("cosine", 0, {0: 1.0, 50: 0.55, 100: 0.1}),
        ("cosine", 10, {0: 0.1, 4: 0.5, 9: 1.0, 10: 1.0, 55: 0.55, 100: 0.1}),
        ("constant", 4, {0: 0.25, 1: 0.5, 3: 1.0, 4: 1.0}),
    ],
)
def test_lr_schedule_values(schedule, warmup, expected):
    settings = _settings(max_steps=100, lr_schedule=schedule, warmup_steps=warmup)
    for step, factor in expected.items():
        assert lr_factor(step, settings) == pytest.approx(factor), (schedule, step)


def test_the_optimizer_follows_the_schedule():
    lrs = []

    class Watch(Callback):
        def on_step_end(self, trainer, step, loss):
            lrs.append(trainer.optimizer.param_groups[0]["lr"])

    settings = _settings(max_steps=8, lr_schedule="step", warmup_steps=2)
    Trainer(_module(), Quadratic(), settings, callbacks=[Watch()]).fit()
    # the rate in force after step s is the factor of step s (0-based: the next step's)
    assert lrs == pytest.approx([0.1 * lr_factor(s, settings) for s in range(1, 9)])


def test_eval_interval_rule_and_history_format():
    assert default_eval_interval(10) == 10
    assert default_eval_interval(1000) == 50
    assert default_eval_interval(100_000) == 500
    result = Trainer(_module(), Quadratic(), _settings(max_steps=25, eval_interval=10)).fit()
    assert result.history["step"] == [10, 20, 25]  # the last step is always evaluated
    assert set(result.history) == {"step", "train_loss", "val_loss", "lr"}
    assert result.history["val_loss"] == [None, None, None]
    assert result.history["train_loss"][0] > result.history["train_loss"][-1]
    assert result.stop_reason == "max_steps" and result.n_steps == 25


class Remember(Callback):
    def __init__(self):
        self.weights = []

    def on_evaluation(self, trainer, record):
        self.weights.append(trainer.module.weight.item())


def test_best_weights_are_restored():
    module = _module()
    remember = Remember()
    weights = remember.weights

    task = Quadratic(val_losses=[5.0, 1.0, 2.0, 3.0])
    result = Trainer(module, task, _settings(), callbacks=[remember]).fit()
    assert result.best_step == 20
    assert module.weight.item() == pytest.approx(weights[1])  # not the last weights
    assert module.weight.item() != pytest.approx(weights[-1])


def test_without_validation_the_last_weights_stay():
    module, remember = _module(), Remember()
    result = Trainer(module, Quadratic(), _settings(), callbacks=[remember]).fit()
    assert result.best_step is not None  # tracked on the training loss, but not restored
    assert module.weight.item() == remember.weights[-1]


def test_divergence_restores_the_last_sane_weights():
    module = _module()
    task = Quadratic(blow_up_at=15)  # step 15 onwards: NaN losses (and NaN weights)
    with pytest.warns(TrainingDivergedWarning, match=r"restored the last sane weights \(step 10\)"):
        result = Trainer(module, task, _settings()).fit()
    assert result.stop_reason == "diverged"
    assert result.n_steps < 40  # caught between evaluations, not at the end
    assert math.isfinite(module.weight.item())


def test_divergence_before_any_evaluation_restores_the_initial_weights():
    module = _module()
    with pytest.warns(TrainingDivergedWarning, match="initial weights"):
        Trainer(module, Quadratic(blow_up_at=1), _settings()).fit()
    assert module.weight.item() == 0.0


def test_early_stopping_callback():
    task = Quadratic(val_losses=[1.0, 2.0, 3.0, 0.5])
    callbacks = [EarlyStopping(patience=2)]
    result = Trainer(_module(), task, _settings(), callbacks=callbacks).fit()
    assert result.stop_reason == "early_stopping" and result.n_steps == 30
    assert result.best_step == 10


def test_custom_callback_sees_every_step_and_can_stop():
    events = []

    class StopAtSeven(Callback):
        def on_train_begin(self, trainer):
            events.append("begin")

        def on_step_end(self, trainer, step, loss):
            assert loss.requires_grad is False and loss.dim() == 0
            events.append(step)
            if step == 7:
                trainer.request_stop("enough")

        def on_train_end(self, trainer):
            events.append("end")

    result = Trainer(_module(), Quadratic(), _settings(), callbacks=[StopAtSeven()]).fit()
    assert events == ["begin", 1, 2, 3, 4, 5, 6, 7, "end"]
    assert result.stop_reason == "enough" and result.n_steps == 7


class RawWeights(Callback):
    """Every step's training weight (callbacks before WeightAverage see the raw weights)."""

    def __init__(self):
        self.steps = []

    def on_step_end(self, trainer, step, loss):
        self.steps.append(trainer.module.weight.item())


def _expected_average(raw, decay):
    average = 0.0  # the initial weight
    for t, w in enumerate(raw, start=1):
        average += (1 - min(decay, (1 + t) / (10 + t))) * (w - average)
    return average


def test_weight_average_is_returned_without_validation_and_training_goes_on_raw():
    plain, raw = RawWeights(), RawWeights()
    Trainer(_module(), Quadratic(), _settings(), callbacks=[plain]).fit()
    module = _module()
    Trainer(module, Quadratic(), _settings(), callbacks=[raw, WeightAverage(0.9)]).fit()
    assert raw.steps == plain.steps  # evaluations swap the average in and back out
    assert module.weight.item() == pytest.approx(_expected_average(raw.steps, 0.9), rel=1e-6)
    assert module.weight.item() < raw.steps[-1]  # the average lags behind the weights (-> 3)


def test_evaluations_and_best_weights_are_the_averages():
    raw, seen = RawWeights(), Remember()
    module = _module()
    task = Quadratic(val_losses=[5.0, 1.0, 2.0, 3.0])
    callbacks = [raw, seen, WeightAverage(0.9)]
    result = Trainer(module, task, _settings(), callbacks=callbacks).fit()
    averages = [_expected_average(raw.steps[:step], 0.9) for step in (10, 20, 30, 40)]
    assert seen.weights == pytest.approx(averages, rel=1e-6)
    assert result.best_step == 20 and module.weight.item() == pytest.approx(averages[1])


def test_weight_average_after_divergence_restores_a_sane_average():
    module = _module()
    callbacks = [WeightAverage(0.9)]
    with pytest.warns(TrainingDivergedWarning, match=r"last sane weights \(step 10\)"):
        Trainer(module, Quadratic(blow_up_at=15), _settings(), callbacks=callbacks).fit()
    assert math.isfinite(module.weight.item()) and 0.0 < module.weight.item() < 3.0


def test_a_subclass_can_replace_a_step():
    class SignSGD(Trainer):
        """Plain sign-SGD instead of AdamW with the schedule: a different optimiser step."""

        def optimizer_step(self):
            with torch.no_grad():
                for p in self.module.parameters():
                    p -= 0.25 * p.grad.sign()

    module = _module()
    SignSGD(module, Quadratic(), _settings(max_steps=4)).fit()
    assert module.weight.item() == pytest.approx(1.0)  # 4 steps of 0.25 towards 3


def test_ctrl_c_semantics():
    class Interrupt(Quadratic):
        def __init__(self, at):
            super().__init__()
            self.at = at

        def train_loss(self, module):
            if self.calls + 1 >= self.at:
                raise KeyboardInterrupt
            return super().train_loss(module)

    with pytest.raises(KeyboardInterrupt, match="before the first training step"):
        Trainer(_module(), Interrupt(at=1), _settings()).fit()
    with pytest.warns(RuntimeWarning, match="interrupted at step 12"):
        result = Trainer(_module(), Interrupt(at=12), _settings()).fit()
    assert result.stop_reason == "interrupted" and result.n_steps == 12
    # a warm start has something to keep even before its first step
    with pytest.warns(RuntimeWarning, match="interrupted at step 41"):
        Trainer(_module(), Interrupt(at=1), _settings(), start_step=40).fit()


@pytest.mark.parametrize(
    ("name", "params", "stream"),
    [
        ("mlp", {}, False),
        ("gru", {"n_embd": 8, "n_hidden": 16}, False),
        ("transformer", {"n_layers": 1, "n_heads": 2, "n_embd": 16, "block_size": 16}, False),
        ("gru", {"n_embd": 8, "n_hidden": 16, "seq_length": 16}, True),
    ],
)
def test_host_reads_scale_with_evaluations_not_steps(
    count_tensor_reads, name, params, stream, small_names, shakespeare_text
):
    import charzoo

    texts = [shakespeare_text] if stream else small_names[0][:500]

    def reads(steps, interval):
        model = charzoo.create_model(
            name, max_steps=steps, eval_interval=interval, batch_size=8, random_state=0, **params
        )
        # host-side bookkeeping of the CPU generator's draws is numpy, so on the CPU these are
        # exactly the reads a GPU run would synchronise on
        return count_tensor_reads(lambda: model.fit(texts))[0]

    one_eval_short, one_eval_long = reads(40, 40), reads(200, 200)
    # the same single evaluation: 5x the steps, the same reads (setup, evaluation, 3 checks)
    assert one_eval_long == one_eval_short
    assert one_eval_long < 200 // 4
    # more evaluations: more reads, a bounded number for each
    assert one_eval_short < reads(200, 40) <= 5 * one_eval_short


# ------------------------------------------------------------------------------ small data
def _russian_names():
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "data" / "russian_names.txt"
    names = path.read_text(encoding="utf-8").split()
    train = [n for i, n in enumerate(names) if i % 5]
    known = set("".join(train))
    return [n for n in names[::5] if set(n) <= known], train  # test, train


def test_small_data_evaluates_every_epoch_and_stops_early():
    """155 names are memorised within a few hundred steps: the default schedule evaluates
    about once an epoch (at least every 10 steps) and stops 20 evaluations after the best
    validation loss, so the kept weights generalise instead of being the memorising
    weights of step 250 (held-out NLL 3.94 nats, worse than uniform, before this rule)."""
    from charzoo import CharTransformer

    test, train = _russian_names()
    model = CharTransformer(n_layers=1, n_embd=32, n_heads=2, random_state=0, verbose=False)
    model.fit(train)
    steps = model.history_["step"]
    assert steps[:3] == [10, 20, 30]  # one epoch is ~1 step of 128 texts: every 10 steps
    assert model.stop_reason_ == "early_stopping" and model.n_steps_ < 1000
    assert model.n_steps_ - model.best_step_ == 200  # 20 evaluations without improvement
    held_out_nll = math.log(model.score(test))
    assert held_out_nll < 2.9, held_out_nll  # uniform over the alphabet: ln(63) = 4.1


def test_small_data_rule_leaves_explicit_settings_and_large_data_alone(small_names):
    from charzoo import CharMLP

    test, train = _russian_names()
    explicit = CharMLP(max_steps=60, eval_interval=30, n_iter_no_change=None, random_state=0)
    assert explicit.fit(train).history_["step"] == [30, 60]
    large = CharMLP(max_steps=120, batch_size=32, random_state=0).fit(small_names[0])
    assert large.history_["step"] == [50, 100, 120]  # 2,000 names: ~470 steps an epoch


def test_ema_decay_of_an_estimator(small_names):
    from charzoo import CharMLP

    train, test = small_names
    kw = dict(n_embd=8, n_hidden=32, max_steps=60, random_state=0, verbose=False)
    plain = CharMLP(**kw).fit(train)
    zero = CharMLP(ema_decay=0.0, **kw).fit(train)  # the average is the weights
    averaged = CharMLP(ema_decay=0.9, **kw).fit(train)
    assert zero.score(test) == pytest.approx(plain.score(test), rel=1e-6)
    assert averaged.score(test) != pytest.approx(plain.score(test), rel=1e-4)
    with pytest.raises(ValueError, match="'ema_decay' parameter"):
        CharMLP(ema_decay=1.0, **kw).fit(train)


def test_gradient_accumulation_equals_the_large_batch(small_names):
    """An option added through the one settings mapping reaches fit and lr_find alike: two
    accumulated batches of 32 make the update of one batch of 64 (the same draws)."""
    from charzoo import CharMLP, lr_find

    kw = dict(max_steps=40, dropout=0.0, random_state=0, verbose=False, validation_fraction=0)
    large = CharMLP(batch_size=64, **kw).fit(small_names[0])
    accumulated = CharMLP(batch_size=32, grad_accumulation_steps=2, **kw).fit(small_names[0])
    for a, b in zip(large.module_.parameters(), accumulated.module_.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    single = CharMLP(batch_size=32, **kw).fit(small_names[0])
    assert not torch.allclose(single.module_.output.weight, large.module_.output.weight)
    sweep = dict(n_steps=30, stop_factor=None)
    got = lr_find(CharMLP(batch_size=32, grad_accumulation_steps=2, **kw), small_names[0], **sweep)
    want = lr_find(CharMLP(batch_size=64, **kw), small_names[0], **sweep)
    np.testing.assert_allclose(got.losses, want.losses, rtol=1e-4)
