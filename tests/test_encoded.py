"""Compact corpora: id dtypes, chunked encoding, .czb files, bounded evaluation."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

import charzoo.data as data_module
import charzoo.encoded as encoded_module
from charzoo import CharGRU, CharMLP, CharNGram, CharTransformer, load
from charzoo.cli import main
from charzoo.data import WindowData, encode_corpus, fit_tokenizer, id_dtype
from charzoo.datasets import load_names, load_python_source, load_shakespeare
from charzoo.encoded import EncodedCorpus, encode_file, write_encoded
from charzoo.tokenizer import CharTokenizer, normalize

MIXED = "def café():\n    return 'cafe\u0301 🙂'\n\nx = 1\n" * 40 + "tail without newline é"


@pytest.fixture(scope="module")
def source_text():
    return "\n".join(load_python_source(max_bytes=60_000))


def test_id_dtype_is_the_smallest_that_fits():
    assert id_dtype(2) == np.uint8 and id_dtype(256) == np.uint8
    assert id_dtype(257) == np.int16 and id_dtype(32768) == np.int16
    assert id_dtype(32769) == np.int32


def test_encoded_targets_are_compact_never_int64():
    names = load_names()[:500]
    tok = CharTokenizer().fit(names)
    corpus = encode_corpus(tok, names, "document")
    assert corpus.targets.dtype == torch.uint8
    wide = [chr(0x4E00 + i) for i in range(300)]  # 300 CJK characters: two bytes per id
    corpus = encode_corpus(CharTokenizer().fit(wide), wide, "stream")
    assert corpus.targets.dtype == torch.int16 and corpus.targets.max() == 300
    x, y = WindowData(corpus, 3).batch(torch.arange(4))  # batches are int64
    assert x.dtype == y.dtype == torch.int64


@pytest.mark.parametrize("mode", ["document", "stream"])
def test_chunked_encoding_equals_one_pass(monkeypatch, mode):
    texts = [MIXED, "ab", "", "e\u0301" * 30 + "\nz", MIXED[:500]]
    tok = CharTokenizer().fit(texts)
    whole = encode_corpus(tok, texts, mode)
    ref = [np.asarray(tok.encode(t)) for t in texts]
    if mode == "document":
        ref = [np.append(r, 0) for r in ref]
    assert whole.targets.tolist() == np.concatenate(ref).tolist()
    assert whole.lengths.tolist() == [len(r) for r in ref]
    monkeypatch.setattr(data_module, "_ENCODE_CHUNK", 37)  # many pieces, cut after newlines
    chunked = encode_corpus(tok, texts, mode)
    assert torch.equal(chunked.targets, whole.targets)
    assert torch.equal(chunked.lengths, whole.lengths)
    assert fit_tokenizer(texts).chars == tok.chars


def test_progress_bar_on_long_preprocessing(monkeypatch, capsys):
    monkeypatch.setattr(data_module, "_ENCODE_CHUNK", 1000)
    text = load_shakespeare()[:20_000]
    CharNGram(order=2, verbose=True).fit([text])
    err = capsys.readouterr().err
    assert "vocabulary" in err and "encoding" in err and "char" in err
    CharNGram(order=2).fit([text])
    assert capsys.readouterr().err == ""


def test_encode_file_roundtrip_matches_in_memory_encoding(tmp_path, monkeypatch):
    path = tmp_path / "mixed.txt"
    path.write_text(MIXED, encoding="utf-8")
    monkeypatch.setattr(encoded_module, "_READ_CHARS", 50)  # pieces of 50 characters
    enc = encode_file(path, tmp_path / "mixed.czb")
    tok = CharTokenizer().fit([MIXED])
    assert enc.chars == tok.chars and enc.ids.dtype == np.uint8
    assert enc.ids.tolist() == tok.encode(MIXED).tolist()
    assert enc.decode() == normalize(MIXED) and len(enc) == len(normalize(MIXED))
    again = write_encoded(MIXED, tmp_path / "again.czb")
    assert again.chars == enc.chars and np.array_equal(again.ids, enc.ids)
    raw = (tmp_path / "mixed.czb").read_bytes()
    assert raw[:8] == b"CHARZOO\x1a" and struct.unpack("<I", raw[8:12]) == (1,)


def test_fit_on_encoded_corpus_equals_fit_on_text(tmp_path, source_text):
    enc = write_encoded(source_text, tmp_path / "src.czb")
    params = dict(max_steps=12, batch_size=8, eval_interval=4, random_state=0)
    for cls, extra in [
        (CharMLP, dict(block_size=4, n_embd=8, n_hidden=32)),
        (CharGRU, dict(n_embd=8, n_hidden=16, seq_length=16)),
        (CharTransformer, dict(n_embd=16, n_layers=1, n_heads=2, block_size=16)),
    ]:
        from_file = cls(**params, **extra).fit(enc)
        from_text = cls(**params, **extra).fit([source_text])
        assert from_file.mode_ == "stream"
        assert from_file.tokenizer_.chars == from_text.tokenizer_.chars
        assert from_file.history_ == from_text.history_, cls.__name__
        held_out = source_text[-3000:]
        assert from_file.score([held_out]) == pytest.approx(from_text.score([held_out]))
    small = write_encoded(source_text[-3000:], tmp_path / "held.czb")
    assert from_file.score(small) == pytest.approx(from_file.score([normalize(held_out)]))
    ngram = CharNGram(order=3).fit(enc)
    assert ngram.score(small) == pytest.approx(CharNGram(order=3).fit([source_text]).score(small))


def test_fit_on_encoded_corpus_reads_the_file_in_place(tmp_path, source_text):
    enc = write_encoded(source_text, tmp_path / "src.czb")
    model = CharMLP(max_steps=2, validation_fraction=0.1, random_state=0)
    _, _, corpus = encoded_module.fit_inputs(enc, model.mode, model.handle_unknown)
    assert np.shares_memory(corpus.targets.numpy(), enc.ids)  # a view of the mapping
    train, val = data_module.split_corpus(corpus, 0.1, torch.Generator())
    assert np.shares_memory(train.targets.numpy(), enc.ids)
    assert np.shares_memory(val.targets.numpy(), enc.ids)


def test_encoded_corpus_errors(tmp_path, source_text):
    enc = write_encoded(source_text, tmp_path / "src.czb")
    with pytest.raises(ValueError, match="mode='document'.*one stream"):
        CharMLP(mode="document", max_steps=1).fit(enc)
    (tmp_path / "text.czb").write_text("hello", encoding="utf-8")
    with pytest.raises(ValueError, match="not an encoded corpus"):
        EncodedCorpus(tmp_path / "text.czb")
    (tmp_path / "cut.czb").write_bytes((tmp_path / "src.czb").read_bytes()[:-5])
    with pytest.raises(ValueError, match="truncated"):
        EncodedCorpus(tmp_path / "cut.czb")
    raw = bytearray((tmp_path / "src.czb").read_bytes())
    raw[8:12] = struct.pack("<I", 99)
    (tmp_path / "v99.czb").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="version 99"):
        EncodedCorpus(tmp_path / "v99.czb")
    model = CharMLP(max_steps=2, block_size=2, random_state=0).fit(["abcabc"])
    with pytest.raises(ValueError, match="never saw"):
        model.score(enc)
    assert model.set_params(handle_unknown="ignore").score(enc) > 1  # unknown ones dropped


def test_validation_cost_is_bounded(source_text):
    from charzoo.sequence.batching import _SEQUENCE_EVAL_TARGETS as SEQ_BUDGET
    from charzoo.window import _WINDOW_EVAL_TARGETS as WINDOW_BUDGET

    big = source_text * (1 + 2 * WINDOW_BUDGET // len(source_text))
    model = CharMLP(block_size=3, max_steps=1, random_state=0).fit([source_text])
    corpus = model._encode([big])
    task = model._training_task(corpus, corpus, torch.Generator().manual_seed(0))
    assert len(task.val) == WINDOW_BUDGET < len(corpus.targets)
    gru = CharGRU(max_steps=1, n_hidden=8, n_embd=8, random_state=0).fit([source_text])
    task = gru._training_task(corpus, corpus, torch.Generator().manual_seed(0))
    assert len(task.val.targets) == SEQ_BUDGET < len(corpus.targets)


def test_cli_encode_fit_score(tmp_path, capsys, source_text):
    text = tmp_path / "src.txt"
    text.write_text(source_text, encoding="utf-8")
    czb, model_file = tmp_path / "src.czb", tmp_path / "m.cz"
    assert main(["encode", str(text), "-o", str(czb), "-q"]) == 0
    assert EncodedCorpus(czb).decode() == normalize(source_text)
    argv = ["fit", "mlp", str(czb), "-o", str(model_file), "--max-steps", "5", "-q"]
    assert main([*argv, "--param", "block_size=2", "--seed", "0"]) == 0
    assert load(model_file).mode_ == "stream"
    capsys.readouterr()
    assert main(["score", str(model_file), str(czb)]) == 0
    out = capsys.readouterr().out
    assert f"predictions     {len(EncodedCorpus(czb))}" in out
    assert main(["encode", str(tmp_path / "missing.txt"), "-o", str(czb)]) == 1
    assert main([*argv, "--mode", "document"]) == 1
    assert "one stream" in capsys.readouterr().err
