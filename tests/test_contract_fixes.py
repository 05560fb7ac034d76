"""The situations of issue 26, point 7: each one fixed, each with a test."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import charzoo
from charzoo import CharBigram, CharMLP, CharNGram
from charzoo.callbacks import EarlyStopping
from charzoo.encoded import EncodedCorpus, encode_file, write_encoded
from charzoo.model_file import ModelFileError, checksum, write_atomic
from charzoo.models.mixture import CharMixture
from charzoo.sampler import MAX_DEFAULT_LENGTH, default_max_length

NAMES = charzoo.datasets.load_names()[:300]
TEXT = charzoo.datasets.load_shakespeare()[:3000]


# ------------------------------------------------------------------------ callbacks
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3", None])
def test_early_stopping_patience_is_validated(bad):
    error = ValueError if isinstance(bad, int) and not isinstance(bad, bool) else TypeError
    with pytest.raises(error, match=r"EarlyStopping\(patience\) must be an int >= 1"):
        EarlyStopping(bad)
    assert EarlyStopping(np.int64(3)).patience == 3


# ------------------------------------------------------------------------ warm start
def test_warm_start_with_handle_unknown_ignore_drops_unseen_characters():
    model = CharMLP(max_steps=3, batch_size=8, warm_start=True, n_threads=1).fit(["abc", "ab"])
    with pytest.raises(ValueError, match=r"'z'.*warm start .*keeps the vocabulary"):
        model.fit(["abz"])
    assert "handle_unknown='ignore' to drop unseen" not in str(_error(model.fit, ["abz"]))[:80]
    model.set_params(handle_unknown="ignore").fit(["abz", "zab"])
    assert model.n_steps_ == 6 and "z" not in model.tokenizer_.chars


def _error(function, *args) -> Exception:
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001 - the error is the result
        return exc
    raise AssertionError("no error")


# ------------------------------------------------------------------------ saving
def test_save_refuses_a_device_or_fifo_and_keeps_a_symlink(tmp_path):
    model = CharBigram().fit(NAMES)
    with pytest.raises(ValueError, match="cannot save to /dev/null: it is not a regular file"):
        model.save("/dev/null")
    assert Path("/dev/null").is_char_device()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        model.save(fifo)
    with pytest.raises(ValueError, match="it is a directory"):
        model.save(tmp_path)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "m.cz"
    link = tmp_path / "link.cz"
    link.symlink_to(target)  # dangling until the first save
    model.save(link)
    assert link.is_symlink() and target.is_file()
    model.save(link)
    assert link.is_symlink() and charzoo.load(link).score(NAMES[:5]) == model.score(NAMES[:5])
    assert sorted(os.listdir(tmp_path / "real")) == ["m.cz"]  # no temp file left


# ------------------------------------------------------------------------ generation
def test_default_max_length_is_bounded():
    assert default_max_length("document", 5) == 32
    assert default_max_length("document", 100) == 200
    assert default_max_length("document", 10**6) == MAX_DEFAULT_LENGTH == 4096
    assert default_max_length("stream", 10**6) == 256
    model = CharBigram().fit(["ab" * 5000, "ba" * 5000])  # 10,000-character documents
    assert max(map(len, model.generate(3, temperature=0, random_state=0))) <= 4096


# ------------------------------------------------------------------------ encoded corpora
def test_document_models_refuse_a_stream_and_the_mixture_fits_one(tmp_path):
    corpus = write_encoded(TEXT, tmp_path / "t.czb")
    documents = CharBigram().fit(TEXT.split("\n"))
    for call in (documents.score, documents.score_samples):
        with pytest.raises(ValueError, match="models documents .*cannot score EncodedCorpus"):
            call(corpus)
    with pytest.raises(ValueError, match="validation_texts: .*models documents"):
        CharMLP(max_steps=2, mode="document", n_threads=1).set_params(warm_start=True).fit(
            TEXT.split("\n")
        ).fit(TEXT.split("\n"), validation_texts=corpus)
    mixture = CharMixture([("a", CharNGram(order=2)), ("b", CharNGram(order=3))]).fit(corpus)
    assert mixture.mode_ == "stream"
    assert mixture.score(corpus) == pytest.approx(mixture.score([TEXT]), rel=1e-9)


def _czb(path: Path, chars: object, ids: list[int], n_ids: int | None = None) -> Path:
    header = json.dumps(
        {
            "chars": chars,
            "dtype": "uint8",
            "n_ids": len(ids) if n_ids is None else n_ids,
            "normalization": "NFC",
        }
    ).encode()
    with open(path, "wb") as handle:
        handle.write(b"CHARZOO\x1a" + struct.pack("<II", 1, len(header)) + header)
        handle.write(b"\0" * (-(-(16 + len(header)) // 64) * 64 - 16 - len(header)))
        handle.write(bytes(ids))
    return path


@pytest.mark.parametrize(
    ("chars", "ids", "message"),
    [
        (["a", "a"], [1, 2], "duplicate"),
        (["ab", "c"], [1, 2], "'ab' is not a single character"),
        (["a\u0301"[0], "e\u0301"], [1], "is not a single character"),
        (["A\u030a"[0], "\u212b"], [1], "is not in NFC"),  # the Angstrom sign decomposes
        (["a", 3], [1], "3 is not a single character"),
        (["a", "b"], [1, 3], "ids outside its vocabulary"),
        (["a", "b"], [1, 0], "ids outside its vocabulary"),
    ],
)
def test_czb_headers_and_ids_are_validated(tmp_path, chars, ids, message):
    path = _czb(tmp_path / "x.czb", chars, ids)
    with pytest.raises(ValueError, match=message):
        corpus = EncodedCorpus(path)
        CharBigram().fit(corpus)


def test_encode_file_uses_private_temp_names_and_refuses_a_directory(tmp_path):
    source = tmp_path / "s.txt"
    source.write_text(TEXT, encoding="utf-8")
    (tmp_path / "out.czb.tmp").write_text("another process's temp file")
    corpus = encode_file(source, tmp_path / "out.czb")
    assert corpus.decode() == TEXT
    assert (tmp_path / "out.czb.tmp").read_text() == "another process's temp file"
    (tmp_path / "dir.czb").mkdir()
    before = set(os.listdir(tmp_path))
    with pytest.raises(ValueError, match="it is a directory"):
        encode_file(source, tmp_path / "dir.czb")
    with pytest.raises(ValueError, match="it is a directory"):
        write_encoded(TEXT, tmp_path / "dir.czb")
    assert set(os.listdir(tmp_path)) == before  # no temp file left behind


# ------------------------------------------------------------------------ model files
def _rewrite(path: Path, change) -> None:
    payload = torch.load(path, weights_only=True)
    change(payload)
    payload["checksum"] = checksum(payload)
    write_atomic(payload, path)


def test_mixture_weights_are_validated_on_load(tmp_path):
    mixture = CharMixture([("a", CharNGram(order=2)), ("b", CharNGram(order=3))]).fit(NAMES)
    mixture.save(tmp_path / "m.cz")
    _rewrite(
        tmp_path / "m.cz",
        lambda p: p["state_dict"].update(weights=torch.tensor([0.9, 0.9], dtype=torch.float64)),
    )
    with pytest.raises(ModelFileError, match=r"sum to 1.8, not 1"):
        charzoo.load(tmp_path / "m.cz")


@pytest.mark.parametrize("damage", ["alpha", "keys", "offsets"])
def test_ngram_tables_are_validated_on_load(tmp_path, damage):
    CharNGram(order=3).fit(NAMES).save(tmp_path / "n.cz")

    def change(payload):
        state = payload["state_dict"]
        if damage == "alpha":
            state["alpha_2"] = state["alpha_2"] * 1.5
        elif damage == "keys":
            state["ngram_keys_2"] = state["ngram_keys_2"].flip(0)
        else:
            state["context_offsets_2"] = state["context_offsets_2"] + 1

    _rewrite(tmp_path / "n.cz", change)
    with pytest.raises(ModelFileError, match="order-2 table"):
        charzoo.load(tmp_path / "n.cz")


def test_deeply_nested_json_is_a_model_file_error(tmp_path):
    CharBigram().fit(NAMES).save(tmp_path / "b.cz")
    _rewrite(tmp_path / "b.cz", lambda p: p.update(fitted="[" * 100000 + "]" * 100000))
    with pytest.raises(ModelFileError, match="nested too deeply"):
        charzoo.load(tmp_path / "b.cz")


# ------------------------------------------------------------------------ command line
@pytest.fixture()
def cli_dir(tmp_path):
    from charzoo.encoded import write_encoded

    (tmp_path / "d.txt").write_text("abc\nabd\nbca\n", encoding="utf-8")
    write_encoded("abcabd\n", tmp_path / "D.CZB")
    (tmp_path / "dir.txt").mkdir()
    CharBigram().fit(["abc", "abd"]).save(tmp_path / "m.cz")
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["score", "{d}/m.cz", "{d}/D.CZB"], "encoded corpus (one stream), but the model in"),
        (["encode", "{d}/dir.txt", "-o", "{d}/e.czb"], "dir.txt is a directory"),
        (["encode", "{d}/d.txt", "-o", "{d}/e.czb", "--encoding", "nope"], "'nope' is not a"),
        (["encode", "{d}/d.txt", "-o", "{d}/dir.txt"], "it is a directory"),
    ],
)
def test_cli_messages_name_the_real_problem(cli_dir, capsys, argv, message):
    from charzoo.cli import main

    assert main([a.format(d=cli_dir) for a in argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("charzoo: error: ") and message in err
    assert "--mode" not in err and "internal error" not in err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--samples", "-3"], "--samples: must be an integer >= 0"),
        (["--sample-every", "0"], "--sample-every: must be an integer >= 1"),
    ],
)
def test_cli_sampling_options_are_checked_before_training(cli_dir, capsys, option, message):
    from charzoo.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["fit", "mlp", str(cli_dir / "d.txt"), "-o", str(cli_dir / "x.cz"), *option])
    assert caught.value.code == 2 and message in capsys.readouterr().err
    assert not (cli_dir / "x.cz").exists()


def test_cli_capital_czb_is_an_encoded_corpus_and_resume_may_change_dropout(cli_dir, capsys):
    from charzoo.cli import main

    out = str(cli_dir / "s.cz")
    assert main(["fit", "ngram", str(cli_dir / "D.CZB"), "-o", out, "-q"]) == 0
    assert charzoo.load(out).mode_ == "stream"  # read as ids, not as the file's bytes
    mlp = str(cli_dir / "r.cz")
    base = ["fit", "mlp", str(cli_dir / "d.txt"), "-o", mlp, "--max-steps", "3", "-q"]
    assert main(base) == 0
    assert main([*base, "--resume", mlp, "--param", "dropout=0.3"]) == 0
    assert charzoo.load(mlp).dropout == 0.3 and charzoo.load(mlp).n_steps_ == 6
    assert main([*base, "--resume", mlp, "--param", "n_embd=3"]) == 1
    assert "n_embd cannot change when resuming" in capsys.readouterr().err
