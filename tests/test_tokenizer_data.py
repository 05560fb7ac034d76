import numpy as np
import pytest
import torch

from charzoo.data import WindowData, check_texts, encode_corpus, split_corpus
from charzoo.datasets import load_dinos, load_names, load_shakespeare, train_val_test_split
from charzoo.tokenizer import BOUNDARY_ID, CharTokenizer


def test_bundled_datasets():
    names = load_names()
    assert len(names) == 32033 and names[0] == "emma" and all(names)
    assert len(load_dinos()) == 1543  # lines as shipped (a few genera repeat)
    text = load_shakespeare()
    assert len(text) == 1115394 and text.startswith("First Citizen:")


def test_train_val_test_split_matches_sklearn_recipe():
    from sklearn.model_selection import train_test_split

    names = load_names()
    train, val, test = train_val_test_split(names, random_state=42)
    ref_train, tmp = train_test_split(names, test_size=0.2, random_state=42)
    ref_test, ref_val = train_test_split(tmp, test_size=0.5, random_state=42)
    assert (train, val, test) == (ref_train, ref_val, ref_test)
    assert len(train) + len(val) + len(test) == len(names)


def test_tokenizer_unicode_sorted_nfc_and_json_roundtrip():
    texts = ["床前明月光", "café", "cafe\u0301", "🙂x"]
    tok = CharTokenizer().fit(texts)
    assert tok.chars == sorted(set("".join(texts[:2]) + "🙂x"))  # NFC merges e + U+0301
    ids = tok.encode("明月café🙂")
    assert BOUNDARY_ID not in ids
    assert tok.decode(ids) == "明月café🙂"
    assert tok.decode([BOUNDARY_ID, *ids, BOUNDARY_ID]) == "明月café🙂"
    again = CharTokenizer.from_json(tok.to_json())
    assert again == tok and again.vocab_size == tok.vocab_size == len(tok.chars) + 1


def test_tokenizer_unknown_character_named():
    tok = CharTokenizer().fit(["abc"])
    with pytest.raises(ValueError, match=r"'z'.*index 3"):
        tok.encode("abz", position=3)
    assert list(tok.encode("abz", handle_unknown="ignore")) == [1, 2]
    with pytest.raises(ValueError, match="handle_unknown"):
        CharTokenizer(handle_unknown="skip")


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ("emma", TypeError, "single str"),
        (b"emma", TypeError, "single bytes"),
        (None, TypeError, "NoneType"),
        (42, TypeError, "int"),
        ([], ValueError, "empty"),
        (["a", None], TypeError, r"texts\[1\] is NoneType"),
        (["a", 3], TypeError, r"texts\[1\] is int"),
    ],
)
def test_check_texts_rejects_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        check_texts(bad)


def test_check_texts_accepts_generators_and_arrays():
    assert check_texts(t for t in ["a", "b"]) == ["a", "b"]
    assert check_texts(np.array(["ab", "c"])) == ["ab", "c"]
    with pytest.raises(ValueError, match="every text"):
        check_texts(["", ""], for_fit=True)


def test_window_data_document_mode_contexts():
    tok = CharTokenizer().fit(["ab", "c"])
    corpus = encode_corpus(tok, ["ab", "c"], "document")
    assert corpus.targets.tolist() == [1, 2, 0, 3, 0]
    assert corpus.lengths.tolist() == [3, 2]
    x, y = WindowData(corpus, 3).batch(torch.arange(5))
    assert y.tolist() == [1, 2, 0, 3, 0]
    assert x.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [0, 0, 0], [0, 0, 3]]


def test_window_data_stream_mode_has_no_end_marker():
    tok = CharTokenizer().fit(["abc"])
    corpus = encode_corpus(tok, ["abcab"], "stream")
    assert corpus.targets.tolist() == [1, 2, 3, 1, 2]
    x, y = WindowData(corpus, 2).batch(torch.arange(5))
    assert x.tolist() == [[0, 0], [0, 1], [1, 2], [2, 3], [3, 1]]
    train, val = split_corpus(corpus, 0.4, torch.Generator().manual_seed(0))
    assert train.targets.tolist() == [1, 2, 3] and val.targets.tolist() == [1, 2]


def test_tokenizer_equality_compares_the_characters_not_the_size():
    ab, ac = CharTokenizer().fit(["ab"]), CharTokenizer().fit(["ac"])
    assert ab.vocab_size == ac.vocab_size and ab != ac and not ab == ac
    assert ab == CharTokenizer().fit(["ba", "b"]) and ab != "ab"
    assert CharTokenizer().fit(["ab"]) != CharTokenizer().fit(["abc"])


def test_warm_start_refuses_a_same_size_tokenizer_with_other_characters():
    from charzoo import CharMLP

    tok_x, tok_y = CharTokenizer().fit(["abx"]), CharTokenizer().fit(["aby"])
    model = CharMLP(warm_start=True, max_steps=2, n_hidden=8, random_state=0, verbose=False)
    model.fit(["ab", "ba"], tokenizer=tok_x)
    model.fit(["ab", "ba"], tokenizer=tok_x)  # the same vocabulary continues
    with pytest.raises(ValueError, match="tokenizer differs from the vocabulary"):
        model.fit(["ab", "ba"], tokenizer=tok_y)
