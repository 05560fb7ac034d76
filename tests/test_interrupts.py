"""Ctrl-C (SIGINT) during fit leaves a usable model with the best weights so far."""

import signal
import subprocess
import sys
import textwrap

from charzoo import load

SCRIPT = textwrap.dedent(
    """
    import sys
    from charzoo import CharMLP
    from charzoo.datasets import load_names

    def announce(estimator, record):
        print("EVAL", record["step"], flush=True)

    model = CharMLP(max_steps=10**7, eval_interval=50, random_state=0, callbacks=[announce])
    model.fit(load_names()[:3000])
    print("STOPPED", model.stop_reason_, model.n_steps_, flush=True)
    model.save(sys.argv[1])
    print("PERPLEXITY", model.score(["emma", "anna"]), flush=True)
    """
)


def test_sigint_during_fit_keeps_best_model(tmp_path):
    path = tmp_path / "interrupted.cz"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    evals = 0
    for line in proc.stdout:
        if line.startswith("EVAL"):
            evals += 1
            if evals == 3:
                proc.send_signal(signal.SIGINT)
                break
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "STOPPED interrupted" in out
    assert "training interrupted" in err
    model = load(path)
    assert model.stop_reason_ == "interrupted"
    assert model.n_steps_ >= 150 and model.best_step_ >= 150
    assert 1 < model.score(["emma", "anna"]) < 27


def _interrupting(model, after_calls):
    """Make ``model``'s training task raise KeyboardInterrupt on call ``after_calls + 1``."""
    original = model._training_task
    calls = []

    class Task:
        def __init__(self, task):
            self.task = task

        def train_loss(self, module):
            calls.append(1)
            if len(calls) > after_calls:
                raise KeyboardInterrupt
            return self.task.train_loss(module)

        def eval_loss(self, module):
            return self.task.eval_loss(module)

    model._training_task = lambda *a, **k: Task(original(*a, **k))
    return model


def test_ctrl_c_before_the_first_step_leaves_the_model_unfitted():
    import pytest
    from sklearn.exceptions import NotFittedError

    from charzoo import CharMLP
    from charzoo.datasets import load_names

    names = load_names()[:200]
    model = _interrupting(CharMLP(max_steps=50, random_state=0), after_calls=0)
    with pytest.raises(KeyboardInterrupt, match="before the first training step"):
        model.fit(names)
    del model._training_task
    with pytest.raises(NotFittedError):
        model.score(["emma"])
    assert not [k for k in vars(model) if k.endswith("_")]  # no half-fitted attributes
    # after one step there is something to keep: a warning, and a usable model
    model = _interrupting(CharMLP(max_steps=50, random_state=0), after_calls=1)
    with pytest.warns(RuntimeWarning, match="training interrupted at step"):
        model.fit(names)
    assert model.stop_reason_ == "interrupted" and 1 < model.score(["emma"]) < 40
