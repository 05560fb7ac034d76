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
