"""The inputs of a fit: texts or an encoded corpus, the tokenizer, the data mode."""

from __future__ import annotations

from dataclasses import dataclass

from charzoo.data import Corpus, check_texts, encode_corpus, fit_tokenizer, resolve_mode
from charzoo.tokenizer import CharTokenizer, fitted_copy, normalize

__all__ = ["FitInputs", "fit_inputs"]


@dataclass
class FitInputs:
    """What a fit starts from: the vocabulary, the data mode, the longest training text and
    the encoded training corpus. The estimator sets its own fitted attributes from it."""

    tokenizer: CharTokenizer
    mode: str
    max_text_length: int
    train: Corpus


def fit_inputs(model, texts, tokenizer, warm: bool) -> FitInputs:
    """Check the training input of ``model.fit`` (texts or an encoded corpus, an optional
    fitted ``tokenizer``) against the model's parameters and, for a warm start (``warm``),
    its fitted vocabulary; nothing on ``model`` is changed."""
    from charzoo.encoded import EncodedCorpus
    from charzoo.encoded import fit_inputs as encoded_inputs

    fitted = (model.tokenizer_, model.mode_) if warm else None
    if isinstance(texts, EncodedCorpus):
        if tokenizer is not None:
            raise ValueError(
                "tokenizer cannot be given with an EncodedCorpus: the file carries its "
                "own vocabulary; encode the corpus with that tokenizer's characters"
            )
        vocabulary, length, train = encoded_inputs(texts, model.mode, model.handle_unknown, fitted)
        if warm:
            length = max(model.max_text_length_, length)
        return FitInputs(vocabulary, "stream", length, train)
    texts = check_texts(texts, for_fit=True)
    if tokenizer is not None:
        tokenizer = fitted_copy(tokenizer, model.handle_unknown)
        missing = set().union(*map(normalize, texts)) - set(tokenizer.chars)
        if missing:
            raise ValueError(
                f"tokenizer lacks characters of texts: {''.join(sorted(missing))!r}"
                "; fit the tokenizer on these texts too"
            )
        if warm and tokenizer != model.tokenizer_:
            raise ValueError(
                "tokenizer differs from the vocabulary of this warm-started model; "
                "pass the model's own tokenizer_ or set warm_start=False"
            )
    longest = max(len(t) for t in texts)
    if warm:
        vocabulary, mode = model.tokenizer_, model.mode_
        longest = max(model.max_text_length_, longest)
    else:
        vocabulary = (
            fit_tokenizer(texts, model.handle_unknown, verbose=model.verbose)
            if tokenizer is None
            else tokenizer
        )
        mode = resolve_mode(model.mode, len(texts))
    train = _encode_training(vocabulary, mode, model, texts, warm)
    return FitInputs(vocabulary, mode, longest, train)


def _encode_training(tokenizer, mode: str, model, texts: list[str], warm: bool) -> Corpus:
    """The training texts as ids. A warm start keeps the first fit's vocabulary: unseen
    characters are dropped with ``handle_unknown="ignore"`` and refused with a message
    saying so otherwise."""
    if not warm:
        return encode_corpus(tokenizer, texts, mode, "error", verbose=model.verbose)
    try:
        return encode_corpus(tokenizer, texts, mode, model.handle_unknown, verbose=model.verbose)
    except ValueError as exc:
        raise ValueError(
            f"{exc.args[0].split('; use only')[0]}. A warm start (warm_start=True) keeps the "
            "vocabulary of the first fit: set warm_start=False to fit anew with a vocabulary "
            "of these texts, or handle_unknown='ignore' to drop the unseen characters"
        ) from None
