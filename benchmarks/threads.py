"""The newcomer's first commands, idle and beside two busy processes, by thread setting.

Runs the README's "Five lines" block and ``examples/quickstart.py`` as a newcomer does (a
fresh interpreter each, import included) with three thread settings of the model:

- ``auto``: the code verbatim (the default ``n_threads="auto"``, see :mod:`charzoo.threads`);
- ``torch``: ``n_threads=None``, torch's own one thread per core (the default before);
- ``1``: ``n_threads=1``.

Each setting runs with the machine as it is ("idle") and with two extra CPU-bound processes
spinning ("busy"), all interleaved in the same run, so every variant sees the same background
load. On a shared machine "idle" is not idle: compare the ratios. One JSON line per run, then
a table in ``benchmarks/results/threads.md``.

Usage::

    python benchmarks/threads.py [--reps 2] [--quickstart-reps 1] [--torch-timeout 90]
    python benchmarks/threads.py --table     # rewrite threads.md from threads.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = {"auto": None, "torch": "None", "1": "1"}
SPIN = "while True:\n    pass\n"


def five_lines() -> str:
    """The README's "Five lines" block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Five lines") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def quickstart() -> str:
    return (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8")


def with_threads(code: str, value: str | None) -> str:
    """``code`` with ``n_threads=value`` given to every CharMLP (unchanged for None)."""
    if value is None:
        return code
    changed = code.replace("CharMLP(", f"CharMLP(n_threads={value}, ")
    assert changed != code, "no CharMLP( to set n_threads on"
    return changed


def run_code(code: str, timeout: float, extra_env: dict | None = None) -> tuple[float, bool]:
    """Seconds a fresh interpreter takes to run ``code`` (and whether it finished)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    env.pop("OMP_NUM_THREADS", None)
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "newcomer.py"
        script.write_text(code, encoding="utf-8")
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(script)], cwd=folder, env=env, capture_output=True,
                text=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return time.perf_counter() - start, False
    if proc.returncode != 0:
        raise RuntimeError(f"the code failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start, True


def spinners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]


def measure(args: argparse.Namespace) -> list[dict]:
    workloads = {
        "five_lines": (five_lines(), args.reps),
        "quickstart": (quickstart(), args.quickstart_reps),
    }
    env = {"quickstart": {"CHARZOO_QUICK": "1"} if args.quick_quickstart else {}}
    name = {"quickstart": "quickstart --quick" if args.quick_quickstart else "quickstart"}
    records = []
    for rep in range(max(r for _, r in workloads.values())):
        for workload, (code, reps) in workloads.items():
            if rep >= reps:
                continue
            for condition, n_busy in (("idle", 0), ("busy", 2)):
                busy = spinners(n_busy)
                try:
                    for variant, value in VARIANTS.items():
                        limit = args.torch_timeout if variant == "torch" else args.timeout
                        seconds, done = run_code(
                            with_threads(code, value), limit, env.get(workload)
                        )
                        record = {
                            "workload": name.get(workload, workload),
                            "condition": condition, "variant": variant,
                            "rep": rep, "seconds": round(seconds, 2), "finished": done,
                            "load_average": round(os.getloadavg()[0], 2),
                            "cores": os.cpu_count(),
                        }  # fmt: skip
                        print(json.dumps(record), flush=True)
                        records.append(record)
                finally:
                    for proc in busy:
                        proc.kill()
                        proc.wait()
    return records


def table(records: list[dict]) -> str:
    """Markdown: median seconds per workload, variant and condition, and their ratios."""
    lines = [
        "# Newcomer commands by thread setting, idle and beside two busy processes",
        "",
        "Generated by `python benchmarks/threads.py --table` from `threads.jsonl` (measured by "
        "`python benchmarks/threads.py`). Each run is a fresh interpreter (import included). "
        '`auto` is the code as documented (the default `n_threads="auto"`), `torch` is '
        "`n_threads=None` (torch's one thread per core, the default before), `1` is "
        "`n_threads=1`. *busy*: two extra CPU-bound processes spin during the run. All runs "
        "are interleaved in one session on a 2-core machine shared with other work, so "
        "*idle* is not idle: read the ratios. `>` marks a run stopped at the timeout.",
        "",
        "| workload | threads | idle s | busy s | busy / idle | idle / auto idle "
        "| busy / auto busy |",
        "|---|---|---|---|---|---|---|",
    ]

    def median(workload, variant, condition):
        runs = [
            r for r in records
            if (r["workload"], r["variant"], r["condition"]) == (workload, variant, condition)
        ]  # fmt: skip
        if not runs:
            return None, True
        return statistics.median(r["seconds"] for r in runs), all(r["finished"] for r in runs)

    for workload in dict.fromkeys(r["workload"] for r in records):
        auto = {c: median(workload, "auto", c)[0] for c in ("idle", "busy")}
        for variant in VARIANTS:
            (idle, idle_done), (busy, busy_done) = (
                median(workload, variant, c) for c in ("idle", "busy")
            )
            if idle is None and busy is None:
                continue

            def shown(x, done):
                return "-" if x is None else ("" if done else ">") + f"{x:.1f}"

            def ratio(a, b):
                return "-" if a is None or not b else f"{a / b:.2f}"

            lines.append(
                f"| {workload} | {variant} | {shown(idle, idle_done)} | "
                f"{shown(busy, busy_done)} | {ratio(busy, idle)} | {ratio(idle, auto['idle'])} "
                f"| {ratio(busy, auto['busy'])} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2, help="runs of the five lines")
    parser.add_argument("--quickstart-reps", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run at most")
    parser.add_argument(
        "--torch-timeout", type=float, default=90, help="seconds per run of the torch variant"
    )
    parser.add_argument(
        "--quick-quickstart", action="store_true",
        help="run the quickstart in its quick mode (CHARZOO_QUICK=1: 2,000 steps)",
    )  # fmt: skip
    parser.add_argument("--append", action="store_true", help="add to threads.jsonl")
    parser.add_argument("--table", action="store_true", help="only rewrite the table")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    jsonl = args.out / "threads.jsonl"
    if args.table:
        records = [json.loads(line) for line in jsonl.read_text().splitlines() if line]
    else:
        old = jsonl.read_text().splitlines() if args.append and jsonl.exists() else []
        records = [json.loads(line) for line in old if line] + measure(args)
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    (args.out / "threads.md").write_text(table(records), encoding="utf-8")
    print(table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
