"""Scale-out: data-parallel training with torchrun/gloo, grid search on a dask cluster."""

import json
import re
import subprocess
import sys
import textwrap

import pytest
import torch

from charzoo import CharMLP, load
from charzoo.datasets import load_names, load_shakespeare

CASES = {
    "mlp": ("CharMLP", dict(max_steps=30, batch_size=64, validation_fraction=0.0, random_state=0)),
    "gru-stream": (
        "CharGRU",
        dict(
            n_embd=16,
            n_hidden=32,
            n_layers=1,
            dropout=0.0,
            seq_length=16,
            max_steps=10,
            batch_size=8,
            validation_fraction=0.0,
            random_state=0,
        ),
    ),
}

DDP_SCRIPT = textwrap.dedent(
    """
    import sys, json
    import torch.distributed as dist
    import charzoo
    from charzoo.distributed import is_main_process

    cls = getattr(charzoo, sys.argv[1])
    params, texts = json.loads(sys.argv[2]), json.loads(sys.argv[3])
    dist.init_process_group("gloo")
    model = cls(**params).fit(texts)
    if is_main_process():
        model.save(sys.argv[4])
    dist.barrier()  # no rank tears the group down while another still uses it
    dist.destroy_process_group()
    """
)


def _texts(case):
    return load_names()[:2000] if case == "mlp" else [load_shakespeare()[:8000]]


def _launch(command):
    """Run torchrun; once more if a worker was killed by a signal (not a Python error).

    A CI run saw one worker of this test abort (SIGABRT, no Python traceback) under load,
    once in many passing runs on this and other machines; the launch is retried then, with
    the first failure's output kept in the message if the retry fails too."""
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    killed = re.search(r"exitcode\s*:\s*-\d+", proc.stderr)  # a negative exit code: a signal
    worker_error = re.search(r"\]:Traceback", proc.stdout + proc.stderr)  # --tee prefixes
    if proc.returncode != 0 and killed and not worker_error:
        first = proc.stderr[-1500:]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
        proc.stderr = f"(after a first launch that failed with:\n{first})\n{proc.stderr}"
    return proc


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_process_training_equals_single_process(case, tmp_path):
    import charzoo

    name, params = CASES[case]
    script = tmp_path / "ddp_fit.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "ddp.cz"
    texts = _texts(case)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd.append("--tee=3")  # the workers' own output (a traceback, gloo's abort message) too
    args = [str(script), name, json.dumps(params), json.dumps(texts), str(out)]
    proc = _launch([*cmd, *args])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    parallel = load(out)
    single = getattr(charzoo, name)(**params).fit(texts)
    for key, value in single.module_.state_dict().items():
        torch.testing.assert_close(parallel.module_.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    probe = load_names()[-300:] if case == "mlp" else [texts[0][-2000:]]
    assert parallel.score(probe) == pytest.approx(single.score(probe), rel=1e-4)


def test_grid_search_on_dask_cluster_matches_serial():
    distributed = pytest.importorskip("distributed")
    import joblib
    from sklearn.model_selection import GridSearchCV

    from charzoo.metrics import perplexity_scorer

    train = load_names()[:1500]
    grid = {"block_size": [1, 3]}

    def search(n_jobs):
        return GridSearchCV(
            CharMLP(max_steps=100, random_state=0),
            grid,
            scoring=perplexity_scorer,
            cv=2,
            n_jobs=n_jobs,
        ).fit(train)

    serial = search(n_jobs=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # the nanny starts workers with OMP_NUM_THREADS=1: 2 workers use 2 cores, not 4
        assert set(client.run(torch.get_num_threads).values()) == {1}
        with joblib.parallel_backend("dask"):
            parallel = search(n_jobs=-1)
    assert parallel.best_params_ == serial.best_params_ == {"block_size": 3}
    assert parallel.cv_results_["mean_test_score"] == pytest.approx(
        serial.cv_results_["mean_test_score"]
    )
