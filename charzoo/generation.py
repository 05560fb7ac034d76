"""``generate`` and ``most_likely``, the text-producing methods every model inherits
(through :class:`charzoo.base.CharLM`)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.utils.validation import check_is_fitted

from charzoo.constraints import Constraints
from charzoo.sampler import default_max_length, generate_texts
from charzoo.utils import make_generator, uses_threads

__all__ = ["GenerationMixin"]

_CONSTRAINTS_DOC = """
        pattern : str, optional
            A regular expression the whole text (prefix included) must match in full, e.g.
            ``"[aeiou].*[^aeiou]"``. Python syntax without backreferences or lookarounds;
            compiled to an automaton, so any pattern costs the same to sample under.
        length : int, (int, int or None) or str, optional
            Number of characters of the whole text: ``6``, ``(6, 8)``, ``(6, None)`` (at
            least 6) or ``"6-8"``. ``max_length`` still bounds the generated part.
        starts_with, ends_with : str, optional
            Required start and end of the whole text (``starts_with`` may extend ``prefix``).
        contains : str or list of str, optional
            Substrings the text must contain (each of them).
        not_contains : str or list of str, optional
            Substrings the text must not contain.
        chars : str, optional
            The only characters allowed in the text.
        exclude : iterable of str, optional
            Texts not to return, any number (e.g. the training texts, for novel names)."""


class GenerationMixin:
    """Sampling (optionally under constraints) and the most likely texts of a model."""

    @uses_threads
    def generate(
        self,
        n: int = 10,
        prefix: str = "",
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        max_length: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        *,
        pattern: str | None = None,
        length: int | tuple | str | None = None,
        starts_with: str | None = None,
        ends_with: str | None = None,
        contains: str | Iterable[str] | None = None,
        not_contains: str | Iterable[str] | None = None,
        chars: str | None = None,
        exclude: Iterable[str] | None = None,
    ) -> list[str]:
        """Sample ``n`` new texts, each starting with ``prefix``.

        With constraints (``pattern``, ``length``, ..., ``exclude``), the texts are drawn from
        the model's own distribution *conditioned* on satisfying them all, p(text | text
        satisfies the constraints), not by forbidding characters step by step (which favours
        texts cut short or bent into shape). Every returned text satisfies every constraint;
        an impossible combination raises a ``ValueError`` before sampling. The conditional
        is sampled exactly when the constrained texts have at most 20,000 prefixes (they are
        all scored) or the model has a finite context (n-gram, MLP, ...: dynamic
        programming over context and constraint state), else by sequential Monte Carlo (at
        least 512 particles, an approximation measured in ``benchmarks/steering.py``); see
        the user guide.
        Constraints need a document-mode model.

        Parameters
        ----------
        n : int, default=10
            Number of texts.
        prefix : str, default=""
            Start of every text (in document mode the texts continue from the start of a
            document; in stream mode from this context).
        temperature : float, default=1.0
            Divides the logits; below 1 is more conservative, above 1 more diverse, 0 greedy
            (with constraints: ``n`` copies of the most likely constrained text, the limit of
            the conditional distribution).
        top_k : int, optional
            Sample only among the ``top_k`` most likely characters.
        top_p : float in (0, 1], optional
            Nucleus sampling: only among the most likely characters holding ``top_p`` of the
            probability mass. ``temperature``, ``top_k`` and ``top_p`` shape each step's
            distribution first; constraints then condition the result.
        max_length : int, optional
            Maximum number of characters generated after the prefix. Default: twice the
            longest training text, at least 32 and at most 4096 (document mode), or 256
            (stream mode).
        random_state : int or numpy generator, optional
            Seed for this call; defaults to the estimator's ``random_state``, so a seeded
            model generates the same texts on every call, also after save/load, on the same
            kind of device (sampling runs on the model's device with a generator there: CPU
            and CUDA random streams differ).
        """
        check_is_fitted(self, "module_")
        spec = Constraints.from_args(
            pattern=pattern,
            length=length,
            starts_with=starts_with,
            ends_with=ends_with,
            contains=contains,
            not_contains=not_contains,
            chars=chars,
            exclude=exclude,
        )
        if not spec.any:
            if max_length is None:
                max_length = default_max_length(self.mode_, self.max_text_length_)
            if random_state is None:
                seed, name = self.random_state, "random_state"
            else:
                seed, name = random_state, "random_state (generate)"
            return generate_texts(
                self._decoder,
                self.module_,
                self.tokenizer_,
                document=self.mode_ == "document",
                handle_unknown=self.handle_unknown,
                n=n,
                prefix=prefix,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                max_length=max_length,
                generator=make_generator(seed, name=name, device=self.device_),
            )
        from charzoo.steered import constrained_sample

        return constrained_sample(
            self, n, prefix, temperature, top_k, top_p, max_length, random_state, spec
        )

    @uses_threads
    def most_likely(
        self,
        n: int = 5,
        prefix: str = "",
        *,
        pattern: str | None = None,
        length: int | tuple | str | None = None,
        starts_with: str | None = None,
        ends_with: str | None = None,
        contains: str | Iterable[str] | None = None,
        not_contains: str | Iterable[str] | None = None,
        chars: str | None = None,
        exclude: Iterable[str] | None = None,
        max_length: int | None = None,
        max_expansions: int = 200_000,
        return_scores: bool = False,
    ) -> list[str] | tuple[list[str], np.ndarray]:
        """The ``n`` most probable complete texts starting with ``prefix``, most likely first.

        Autocomplete: ``model.most_likely(5, prefix="ma")`` gives the five likeliest texts
        beginning with "ma". Found by best-first search over prefixes, which is exact for
        every model: a prefix's probability bounds every text that extends it, so a text is
        returned only when no open prefix can beat it. The search expands at most
        ``max_expansions`` prefixes (batched decoder calls); if that bound stops it, the
        texts proven so far are returned (fewer than ``n``) with a ``RuntimeWarning``.
        Needs a document-mode model (texts that end).

        Parameters
        ----------
        n : int, default=5
            Number of texts (fewer when the constraints allow fewer).
        prefix : str, default=""
            Start of every text; included in the returned texts and their scores.
        max_length : int, optional
            Most characters after the prefix; default as in :meth:`generate`.
        max_expansions : int, default=200000
            Prefixes the search may expand before it stops.
        return_scores : bool, default=False
            Also return the log-probability (natural log) of each text under the model, the
            value ``score_samples`` gives it (end marker included).

        Returns
        -------
        texts : list of str
        log_probs : ndarray of shape (len(texts),)
            Only with ``return_scores=True``; non-increasing.
        """
        check_is_fitted(self, "module_")
        spec = Constraints.from_args(
            pattern=pattern,
            length=length,
            starts_with=starts_with,
            ends_with=ends_with,
            contains=contains,
            not_contains=not_contains,
            chars=chars,
            exclude=exclude,
        )
        from charzoo.steered import most_likely_texts

        texts, scores = most_likely_texts(self, n, prefix, max_length, spec, max_expansions)
        return (texts, np.asarray(scores, dtype=np.float64)) if return_scores else texts


def _add_constraint_docs() -> None:
    """Both methods list the same constraint parameters (one text, written once)."""
    generate = GenerationMixin.generate
    generate.__doc__ = generate.__doc__.rstrip() + "\n" + _CONSTRAINTS_DOC + _RETURNS
    most = GenerationMixin.most_likely
    head, tail = most.__doc__.split("        max_length : int, optional", 1)
    most.__doc__ = head.rstrip() + _CONSTRAINTS_DOC + "\n        max_length : int, optional" + tail


_RETURNS = """

        Returns
        -------
        list of str
        """

_add_constraint_docs()
