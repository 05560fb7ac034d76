"""The inputs of a fit: texts or an encoded corpus, the tokenizer, the data mode."""

from __future__ import annotations

from charzoo.data import check_texts, encode_corpus, fit_tokenizer, resolve_mode
from charzoo.tokenizer import fitted_copy, normalize

__all__ = ["setup_fit"]


def setup_fit(model, texts, validation_texts, tokenizer, warm: bool) -> tuple:
    """Everything ``fit`` does before training: check inputs, set the tokenizer and mode
    (unless ``warm``); returns the encoded training and validation corpora."""
    from charzoo.encoded import EncodedCorpus, fit_setup

    if isinstance(texts, EncodedCorpus):
        if tokenizer is not None:
            raise ValueError(
                "tokenizer cannot be given with an EncodedCorpus: the file carries its "
                "own vocabulary; encode the corpus with that tokenizer's characters"
            )
        train = fit_setup(model, texts, warm)
    else:
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
        if not warm:
            model.tokenizer_ = (
                fit_tokenizer(texts, model.handle_unknown, verbose=model.verbose)
                if tokenizer is None
                else tokenizer
            )
            model.mode_ = resolve_mode(model.mode, len(texts))
            model.max_text_length_ = 0
        model.max_text_length_ = max(model.max_text_length_, max(len(t) for t in texts))
        train = _encode_training(model, texts, warm)
    val = None
    if validation_texts is not None:
        val = model._encode_checked(validation_texts, "validation_texts")
    return train, val


def _encode_training(model, texts: list[str], warm: bool):
    """The training texts as ids. A warm start keeps the first fit's vocabulary: unseen
    characters are dropped with ``handle_unknown="ignore"`` and refused with a message
    saying so otherwise."""
    if not warm:
        return encode_corpus(model.tokenizer_, texts, model.mode_, "error", verbose=model.verbose)
    try:
        return encode_corpus(
            model.tokenizer_, texts, model.mode_, model.handle_unknown, verbose=model.verbose
        )
    except ValueError as exc:
        raise ValueError(
            f"{exc.args[0].split('; use only')[0]}. A warm start (warm_start=True) keeps the "
            "vocabulary of the first fit: set warm_start=False to fit anew with a vocabulary "
            "of these texts, or handle_unknown='ignore' to drop the unseen characters"
        ) from None
