"""CharNGram against established n-gram toolkits: KenLM (modified Kneser-Ney), IRSTLM (Witten-Bell).

Usage::

    python benchmarks/ngram_reference.py [--orders 2 3 4 5 6 7] [--kenlm-bin DIR]

Runs when the toolkits are installed and skips cleanly (a message, exit 0) otherwise:

- KenLM: ``lmplz`` and ``query`` on ``PATH``, in ``--kenlm-bin`` or in ``$KENLM_BIN``. Built
  from the source package of the ``kenlm`` Python module (``pip download --no-deps
  --no-binary :all: kenlm``; ``cmake`` and ``make lmplz query`` beside the project, with the
  Debian packages ``libboost-program-options-dev libboost-system-dev libboost-thread-dev
  libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev``). ``query`` reads orders up to 6
  unless built with ``cmake -DKENLM_MAX_ORDER=10``; the recorded run used kenlm 0.3.0 built
  that way.
- IRSTLM: ``tlm`` on ``PATH`` or in ``/usr/lib/irstlm/bin`` (Debian package ``irstlm``;
  the recorded run used 6.00.05-3+b1).

Data: the names split (``train_val_test_split(load_names(), random_state=42)``), one name per
line with space-separated characters. Both toolkits see ``<s> c1 .. cL </s>`` per name and
predict the characters and ``</s>`` but not ``<s>`` (KenLM adds the markers itself, IRSTLM is
given them), the same L + 1 predictions per name as charzoo's document mode. Settings for
an apples-to-apples comparison:

- ``lmplz -o N --discount_fallback``: the unigrams of a 26-letter alphabet have no count of
  count 1, so lmplz needs its fallback discounts (0.5, 1, 1.5), which charzoo also uses
  when the counts of counts cannot give discounts. No pruning (lmplz's default).
- ``CharNGram(prune=1)`` beside ``lmplz --prune 0 0 1`` (singletons of order 3 and above
  dropped, their mass moved to the back-off weights).
- ``tlm -lm=wb -ps=no``: interpolated Witten-Bell without IRSTLM's default pruning of
  singletons.
- KenLM reserves a share of the uniform floor for ``<unk>`` (uniform over the characters,
  ``</s>`` and ``<unk>``); charzoo has no unknown token (uniform over the characters and the
  boundary), so single probabilities that lean on the floor differ slightly (rare
  characters); the test names hold no unseen character (no OOV on either side).

Results: one JSON line per (smoothing, order) in ``benchmarks/results/ngram_reference.jsonl``
and a table in ``benchmarks/results/ngram_reference.md`` (relative difference of test
perplexity and the log10-probability of single names).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import markdown_table, names_split

from charzoo import CharNGram

HERE = Path(__file__).resolve().parent

RESULTS = HERE / "results"
NAME = "ngram_reference"
SINGLE = ("zzyzx", "emma", "xavier")  # single names scored by both sides
TOLERANCE = 0.001  # relative difference of test perplexity (the bar: within 0.1%)


def find_tool(name: str, *folders: str | None) -> str | None:
    for folder in folders:
        if folder and (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    return shutil.which(name)


def spaced(texts: list[str], markers: bool = False) -> str:
    lines = (" ".join(text) for text in texts)
    if markers:
        lines = (f"<s> {line} </s>" for line in lines)
    return "".join(f"{line}\n" for line in lines)


def kenlm_run(bin_dir: dict, order: int, work: Path, prune: int = 0) -> dict:
    """Test perplexity and single-name log10 probabilities of an lmplz model."""
    arpa = work / f"kenlm{order}.arpa"
    pruning = ["--prune", "0", "0", str(prune)] if prune and order >= 3 else []
    with open(work / "train.txt") as source, open(arpa, "w") as target:
        subprocess.run(
            [bin_dir["lmplz"], "-o", str(order), "--discount_fallback", *pruning, "-S", "10%",
             "-T", str(work)],
            stdin=source, stdout=target, stderr=subprocess.DEVNULL, check=True,
        )  # fmt: skip
    summary = _query(bin_dir["query"], arpa, (work / "test.txt").read_text(), "summary")
    perplexity = float(re.search(r"Perplexity including OOVs:\s*(\S+)", summary).group(1))
    sentences = _query(bin_dir["query"], arpa, spaced(list(SINGLE)), "sentence")
    totals = [float(t) for t in re.findall(r"Total:\s*(\S+)", sentences)]
    return {"perplexity": perplexity, "log10": dict(zip(SINGLE, totals))}


def _query(query: str, arpa: Path, text: str, verbosity: str) -> str:
    done = subprocess.run(
        [query, "-v", verbosity, str(arpa)],
        input=text, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def irstlm_run(tlm: str, order: int, work: Path) -> dict:
    """Test perplexity and single-name log10 probabilities of a tlm Witten-Bell model."""

    def evaluate(test: Path) -> tuple[float, float, int]:
        done = subprocess.run(
            [tlm, f"-tr={work / 'train.se.txt'}", f"-n={order}", "-lm=wb", "-ps=no",
             f"-te={test}"],
            capture_output=True, text=True, check=True, cwd=work,
        )  # fmt: skip
        found = re.search(r"n=(\d+) LP=(\S+) PP=(\S+)", done.stdout + done.stderr)
        return float(found.group(3)), float(found.group(2)), int(found.group(1))

    perplexity, _, _ = evaluate(work / "test.se.txt")
    log10 = {}
    for name in SINGLE:
        path = work / f"single_{name}.se.txt"
        path.write_text(spaced([name], markers=True))
        _, lp, _ = evaluate(path)
        log10[name] = -lp / math.log(10)  # LP: minus the natural-log probability
    return {"perplexity": perplexity, "log10": log10}


def charzoo_run(
    train: list[str], test: list[str], order: int, smoothing: str, prune: int = 0
) -> dict:
    model = CharNGram(order=order, smoothing=smoothing, prune=prune).fit(train)
    log10 = model.score_samples(list(SINGLE)) / math.log(10)
    return {"perplexity": model.score(test), "log10": dict(zip(SINGLE, log10.tolist()))}


def compare(ours: dict, theirs: dict) -> dict:
    return {
        "perplexity": ours["perplexity"],
        "reference_perplexity": theirs["perplexity"],
        "relative_difference": ours["perplexity"] / theirs["perplexity"] - 1,
        "log10": ours["log10"],
        "reference_log10": theirs["log10"],
        "max_log10_difference": max(
            abs(ours["log10"][name] - theirs["log10"][name]) for name in SINGLE
        ),
    }


def write_markdown(records: list[dict], path: Path) -> None:
    lines = [
        "# CharNGram against KenLM and IRSTLM (benchmarks/ngram_reference.py)",
        "",
        "Names test split, `<s> c1 .. cL </s>` per name (L + 1 predictions). Relative "
        f"difference of test perplexity (bar: {TOLERANCE:.1%}); log10 P of "
        + ", ".join(f"`{name}`" for name in SINGLE)
        + " (charzoo / reference).",
        "",
    ]
    header = ["smoothing", "prune", "reference", "order", "charzoo perplexity"]
    header += ["reference perplexity", "relative difference", "within bar"]
    header += [f"log10 P({n})" for n in SINGLE]
    rows = []
    for r in records:
        within = "yes" if abs(r["relative_difference"]) <= TOLERANCE else "NO"
        rows.append(
            [r["smoothing"], r.get("prune", 0), r["reference"], r["order"],
             f"{r['perplexity']:.6f}", f"{r['reference_perplexity']:.6f}",
             f"{r['relative_difference']:+.5%}", within]
            + [f"{r['log10'][n]:.4f} / {r['reference_log10'][n]:.4f}" for n in SINGLE]
        )  # fmt: skip
    lines.append(markdown_table(header, rows))
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7])
    parser.add_argument("--kenlm-bin", default=os.environ.get("KENLM_BIN"))
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    kenlm = {t: find_tool(t, args.kenlm_bin) for t in ("lmplz", "query")}
    tlm = find_tool("tlm", "/usr/lib/irstlm/bin")
    have_kenlm = all(kenlm.values())
    if not have_kenlm:
        print("KenLM lmplz/query not found (PATH, --kenlm-bin, $KENLM_BIN): skipping KenLM")
    if tlm is None:
        print("IRSTLM tlm not found (PATH, /usr/lib/irstlm/bin): skipping IRSTLM")
    if not have_kenlm and tlm is None:
        print("no reference toolkit installed: nothing to compare (see the docstring)")
        return 0
    train, _, test = names_split()
    records = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "train.txt").write_text(spaced(train))
        (work / "test.txt").write_text(spaced(test))
        (work / "train.se.txt").write_text(spaced(train, markers=True))
        (work / "test.se.txt").write_text(spaced(test, markers=True))
        for order in args.orders:
            runs = []
            if have_kenlm:
                runs.append(("kneser_ney", 0, "KenLM lmplz", lambda o: kenlm_run(kenlm, o, work)))
                if order >= 3:  # pruning of singletons of order 3 and above
                    runs.append(
                        ("kneser_ney", 1, "KenLM lmplz --prune 0 0 1",
                         lambda o: kenlm_run(kenlm, o, work, prune=1))
                    )  # fmt: skip
            if tlm is not None:
                runs.append(("witten_bell", 0, "IRSTLM tlm", lambda o: irstlm_run(tlm, o, work)))
            for smoothing, prune, reference, run in runs:
                record = {
                    "smoothing": smoothing,
                    "prune": prune,
                    "reference": reference,
                    "order": order,
                    **compare(charzoo_run(train, test, order, smoothing, prune), run(order)),
                    "date": time.strftime("%Y-%m-%d"),
                }
                records.append(record)
                print(json.dumps(record), flush=True)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        with open(RESULTS / f"{NAME}.jsonl", "a") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
        write_markdown(records, RESULTS / f"{NAME}.md")
    bad = [r for r in records if abs(r["relative_difference"]) > TOLERANCE]
    for r in bad:
        print(f"outside the {TOLERANCE:.1%} bar: {r['smoothing']} order {r['order']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
