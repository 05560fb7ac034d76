"""The mathematics of a linear mixture of character models: the container module holding the
members' modules and weights, the incremental decoder of the mixed distribution, and the EM
estimate of the weights. :class:`~charzoo.models.mixture.CharMixture` uses them."""

from __future__ import annotations

import math

import torch

__all__ = ["CompactMixtureDecoder", "MixtureDecoder", "MixtureModule", "em_weights"]

_EM_MAX_ITER = 500
_EM_TOL = 1e-9  # stop when the held-out mean log-likelihood improves by less (nats)


class MixtureModule(torch.nn.Module):
    """Container of the members' modules and the mixture weights (one state dict to save).

    Parameters
    ----------
    members : dict of str to nn.Module
        The fitted members' modules, by member name.
    weights : torch.Tensor of shape (n_members,)
        Mixture weights (non-negative, summing to 1), in the order of ``members``.
    """

    def __init__(self, members: dict[str, torch.nn.Module], weights: torch.Tensor) -> None:
        super().__init__()
        self.members = torch.nn.ModuleDict(members)
        self.register_buffer("weights", weights.double())

    def table_problem(self) -> str | None:
        """What is wrong with stored weights (for a loaded file), or None."""
        w = self.weights
        if w.dim() != 1 or len(w) != len(self.members):
            return f"the mixture has {len(self.members)} members but {tuple(w.shape)} weights"
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
            return f"mixture weights {w.tolist()} are negative or not finite"
        if abs(float(w.sum()) - 1.0) > 1e-6:
            return f"mixture weights {w.tolist()} sum to {float(w.sum()):.6g}, not 1"
        return None


class MixtureDecoder:
    """Incremental decoder of the mixed distribution: each step advances every member's
    decoder and returns ``log(sum_m w_m softmax(logits_m))`` as the logits."""

    def __init__(self, decoders: list, weights: torch.Tensor) -> None:
        self.decoders = decoders
        self.log_weights = weights.double().log()
        self.devices: list[torch.device | None] = [None] * len(decoders)

    def _mix(self, logits: list[torch.Tensor]) -> torch.Tensor:
        for i, x in enumerate(logits):
            self.devices[i] = x.device
        log_probs = torch.stack([torch.log_softmax(x.double().cpu(), dim=-1) for x in logits])
        return torch.logsumexp(log_probs + self.log_weights[:, None, None], dim=0).float()

    def start(self, prefix: torch.Tensor, n: int) -> torch.Tensor:
        return self._mix([d.start(prefix, n) for d in self.decoders])

    def advance(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._mix([d.advance(tokens.to(dev)) for d, dev in zip(self.decoders, self.devices)])


class CompactMixtureDecoder(MixtureDecoder):
    """A :class:`MixtureDecoder` whose members can all drop finished rows (``select``)."""

    def select(self, index: torch.Tensor) -> None:
        for decoder, device in zip(self.decoders, self.devices):
            decoder.select(index.to(device))


def em_weights(
    log_probs: torch.Tensor, max_iter: int = _EM_MAX_ITER, tol: float = _EM_TOL
) -> tuple[torch.Tensor, int]:
    """Maximum-likelihood weights of a linear mixture by expectation-maximisation.

    Parameters
    ----------
    log_probs : torch.Tensor of shape (n_members, n_targets)
        Natural-log probability that each member gives each held-out target.
    max_iter : int
        Maximum number of EM iterations.
    tol : float
        Stop when the mean log-likelihood improves by less than ``tol`` nats.

    Returns
    -------
    weights : torch.Tensor of shape (n_members,), float64
    n_iter : int
        Iterations run. Each EM step never lowers the held-out likelihood.
    """
    log_probs = log_probs.double()
    n_members = log_probs.shape[0]
    # targets that every member gives probability 0 carry no information about the weights
    usable = torch.isfinite(torch.logsumexp(log_probs, dim=0))
    log_probs = log_probs[:, usable]
    log_w = torch.full((n_members, 1), -math.log(n_members), dtype=torch.float64)
    previous = -math.inf
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        joint = log_probs + log_w
        total = torch.logsumexp(joint, dim=0)
        mean = float(total.mean()) if total.numel() else 0.0
        log_w = (joint - total).exp().mean(dim=1, keepdim=True).log()
        if mean - previous < tol:
            break
        previous = mean
    weights = log_w.squeeze(1).exp()
    return weights / weights.sum(), n_iter
