"""A coder's own suggestion model: softmax regression on segment vectors, with the codebook as its prior.

Zero-shot suggestions score a segment against each code's prototype (cosine / temperature, softmax). Once a coder
has coded segments, :class:`CoderModel` learns from them: a multinomial logistic regression whose weights start at
the zero-shot prototypes and are pulled back towards them by an L2 penalty, so that with a handful of codings it
still answers like the codebook, and with hundreds it answers like the coder::

    loss(W, b) = sum_i CE(softmax(W x_i + b), y_i) + alpha / 2 * ||W - W0||^2,     W0 = prototypes / temperature

Fitting is L-BFGS (SciPy), warm-started from the previous fit when the coder codes one more segment, so a refit
after each coding costs a few passes over that coder's coded segments (float32; see ``bench/cluster_bench.py``
for the time at 10,000 segments). Pure NumPy/SciPy: no database here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Strength of the pull towards the codebook prototypes (in units of one coded segment's loss).
ALPHA = 0.2
MAX_ITER_COLD = 60
MAX_ITER_WARM = 6


@dataclass
class CoderModel:
    """Weights (codes x dim), biases (codes) and the number of coded examples per code."""

    weights: np.ndarray
    bias: np.ndarray
    counts: np.ndarray
    prior: np.ndarray

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Softmax over codes; one row per segment, rows sum to 1."""
        logits = np.asarray(vectors, dtype=np.float32) @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def prior_weights(prototypes: np.ndarray, temperature: float) -> np.ndarray:
    return (np.asarray(prototypes, dtype=np.float32) / temperature).astype(np.float32)


def fit(
    vectors: np.ndarray,
    labels: Sequence[int],
    prototypes: np.ndarray,
    temperature: float,
    *,
    alpha: float = ALPHA,
    warm: CoderModel | None = None,
) -> CoderModel:
    """Fit the coder's model on ``vectors`` (one row per coded segment/code pair) with code indices ``labels``."""
    from scipy.optimize import minimize

    W0 = prior_weights(prototypes, temperature)
    c, d = W0.shape
    X = np.asarray(vectors, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(y, minlength=c) if len(y) else np.zeros(c, dtype=np.int64)
    if len(y) == 0:
        return CoderModel(W0.copy(), np.zeros(c, dtype=np.float32), counts, W0)
    onehot = np.zeros((len(y), c), dtype=np.float32)
    onehot[np.arange(len(y)), y] = 1.0
    use_warm = warm is not None and warm.weights.shape == W0.shape and np.array_equal(warm.prior, W0)
    if use_warm:
        assert warm is not None
        start = np.concatenate([warm.weights.ravel(), warm.bias]).astype(np.float64)
    else:
        start = np.concatenate([W0.ravel(), np.zeros(c, dtype=np.float32)]).astype(np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta[: c * d].reshape(c, d).astype(np.float32)
        b = theta[c * d :].astype(np.float32)
        logits = X @ W.T + b
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        z = e.sum(axis=1, keepdims=True)
        p = e / z
        nll = float(-(np.log(p[np.arange(len(y)), y] + 1e-12)).sum())
        diff = W - W0
        value = nll + 0.5 * alpha * float((diff * diff).sum())
        g = p - onehot
        gW = g.T @ X + alpha * diff
        gb = g.sum(axis=0)
        return value, np.concatenate([gW.ravel(), gb]).astype(np.float64)

    from threadpoolctl import threadpool_limits

    # small matrices: one BLAS thread is several times faster than many fighting over the cores
    with threadpool_limits(1):
        res = minimize(loss, start, jac=True, method="L-BFGS-B",
                       options={"maxiter": MAX_ITER_WARM if use_warm else MAX_ITER_COLD})
    theta = res.x
    W = theta[: c * d].reshape(c, d).astype(np.float32)
    b = theta[c * d :].astype(np.float32)
    return CoderModel(W, b, counts, W0)
