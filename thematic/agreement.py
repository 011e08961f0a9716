"""Inter-coder agreement statistics: pure functions over arrays (numpy only, no store).

Data is a *reliability matrix* as the ``krippendorff`` package takes it: one row per coder, one column per unit
(segment or form), values are category labels (for one code: 1 = applied, 0 = not applied) and ``NaN`` where a
coder gave no value for that unit.

* :func:`percent_agreement` - the share of agreeing coder pairs, averaged over units with two or more values.
* :func:`cohen_kappa` - two coders, units where both gave a value (equal to ``sklearn.metrics.cohen_kappa_score``).
* :func:`krippendorff_alpha` - nominal alpha, two or more coders, missing values allowed (equal to
  ``krippendorff.alpha(reliability_data=..., level_of_measurement="nominal")``).
* :func:`estimate` - all three with seeded bootstrap 95% confidence intervals (units resampled with replacement).
* :func:`pooled_estimate` - the same pooled over several codes that share their units (each unit's decisions for
  every code count; the bootstrap resamples whole units, so the codes' dependence within a unit is respected).

Each statistic is a function of a sum over units of a per-unit *feature vector* (a confusion-matrix cell for kappa,
the unit's coincidences for alpha, the unit's agreeing-pair share for percent agreement). So a bootstrap replicate
is a weighted sum over the distinct unit patterns, with multinomial weights: exact resampling, and fast.

Undefined values are ``NaN`` with a reason (no variation, a coder with no values, too few units), never a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

DEFAULT_BOOT = 1000
DEFAULT_SEED = 20240601


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap 95% interval; ``value`` is NaN when undefined, and ``reason`` says why."""

    value: float
    low: float = float("nan")
    high: float = float("nan")
    reason: str = ""

    @property
    def defined(self) -> bool:
        return not np.isnan(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in asdict(self).items()}

    def format(self, digits: int = 3) -> str:
        if not self.defined:
            return "n/a"
        text = f"{self.value:.{digits}f}"
        if not (np.isnan(self.low) or np.isnan(self.high)):
            text += f" [{self.low:.{digits}f}, {self.high:.{digits}f}]"
        return text


@dataclass(frozen=True)
class Stats:
    """Agreement on one set of units: how many units, and each statistic with its interval."""

    n_units: int
    n_coders: int
    percent: Estimate
    kappa: Estimate
    alpha: Estimate
    positives: tuple[int, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_units": self.n_units,
            "n_coders": self.n_coders,
            "positives": list(self.positives),
            "percent": self.percent.to_dict(),
            "kappa": self.kappa.to_dict(),
            "alpha": self.alpha.to_dict(),
        }


# ---------------------------------------------------------------------- input handling


def as_reliability(data: Any) -> Array:
    """A float (coders x units) matrix; raises ValueError on a wrong shape."""
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"reliability data must be coders x units (2-D), not {arr.ndim}-D")
    return arr


def _categories(data: Array) -> Array:
    vals = data[~np.isnan(data)]
    return np.unique(vals)


def _index(data: Array, cats: Array) -> npt.NDArray[np.int64]:
    """Category index per cell, -1 where missing."""
    idx = np.full(data.shape, -1, dtype=np.int64)
    ok = ~np.isnan(data)
    idx[ok] = np.searchsorted(cats, data[ok])
    return idx


# ---------------------------------------------------------------------- per-unit features


def _kappa_features(idx: npt.NDArray[np.int64], k: int) -> Array:
    """One-hot (K*K) of the pair of categories per unit; zero where either coder is missing."""
    a, b = idx[0], idx[1]
    ok = (a >= 0) & (b >= 0)
    f = np.zeros((idx.shape[1], k * k))
    f[np.nonzero(ok)[0], (a * k + b)[ok]] = 1.0
    return f


def _value_counts(idx: npt.NDArray[np.int64], k: int) -> Array:
    """Per unit, how many coders gave each of the K values (missing values, coded -1, are skipped)."""
    counts = np.zeros((idx.shape[1], k))
    for row in idx:
        ok = row >= 0
        np.add.at(counts, (np.nonzero(ok)[0], row[ok]), 1.0)
    return counts


def _alpha_features(idx: npt.NDArray[np.int64], k: int) -> Array:
    """The unit's coincidence contributions (K*K), as Krippendorff defines them."""
    n_units = idx.shape[1]
    counts = _value_counts(idx, k)
    m = counts.sum(axis=1)
    pairable = np.maximum(m, 2.0)
    o = counts[:, :, None] * counts[:, None, :]
    diag = np.arange(k)
    o[:, diag, diag] -= counts
    o /= (pairable - 1.0)[:, None, None]
    return o.reshape(n_units, k * k)


def _percent_features(idx: npt.NDArray[np.int64], k: int) -> Array:
    """(agreeing-pair share, 1) for units with two or more values, (0, 0) otherwise."""
    n_units = idx.shape[1]
    counts = _value_counts(idx, k)
    m = counts.sum(axis=1)
    pairs = m * (m - 1) / 2
    agree = (counts * (counts - 1) / 2).sum(axis=1)
    usable = pairs > 0
    f = np.zeros((n_units, 2))
    f[usable, 0] = agree[usable] / pairs[usable]
    f[usable, 1] = 1.0
    return f


# ---------------------------------------------------------------------- statistics from summed features


def _kappa_from(s: Array, k: int) -> Array:
    """Cohen's kappa from summed confusion cells, vectorised over rows of ``s`` (B x K*K)."""
    c = s.reshape(-1, k, k)
    total = c.sum(axis=(1, 2))
    rows, cols = c.sum(axis=2), c.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = (rows[:, :, None] * cols[:, None, :]) / total[:, None, None]
        off = ~np.eye(k, dtype=bool)
        observed_dis = (c * off).sum(axis=(1, 2))
        expected_dis = (expected * off).sum(axis=(1, 2))
        value = 1.0 - observed_dis / expected_dis
    value[(total == 0) | (expected_dis == 0)] = np.nan
    return value


def _alpha_from(s: Array, k: int) -> Array:
    o = s.reshape(-1, k, k)
    n_v = o.sum(axis=1)
    n = n_v.sum(axis=1)
    off = ~np.eye(k, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (n_v[:, :, None] * n_v[:, None, :] - n_v[:, :, None] * np.eye(k)[None]) / (n - 1.0)[:, None, None]
        do = (o * off).sum(axis=(1, 2))
        de = (e * off).sum(axis=(1, 2))
        value = 1.0 - do / de
    value[(n <= 1) | (de == 0)] = np.nan
    return value


def _percent_from(s: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        value = s[:, 0] / s[:, 1]
    value[s[:, 1] == 0] = np.nan
    return value


# ---------------------------------------------------------------------- public point estimates


def percent_agreement(data: Any) -> float:
    """Share of agreeing coder pairs, averaged over units that at least two coders gave a value (NaN if none)."""
    arr = as_reliability(data)
    cats = _categories(arr)
    if arr.shape[1] == 0 or len(cats) == 0:
        return float("nan")
    f = _percent_features(_index(arr, cats), len(cats))
    return float(_percent_from(f.sum(axis=0, keepdims=True))[0])


def cohen_kappa(a: Any, b: Any) -> float:
    """Cohen's kappa of two coders over the units both gave a value; NaN when undefined (see :func:`kappa_reason`)."""
    arr = as_reliability(np.vstack([np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)]))
    cats = _categories(arr)
    if len(cats) == 0:
        return float("nan")
    k = len(cats)
    f = _kappa_features(_index(arr, cats), k)
    return float(_kappa_from(f.sum(axis=0, keepdims=True), k)[0])


def krippendorff_alpha(data: Any) -> float:
    """Krippendorff's alpha, nominal level, any number of coders, NaN for missing values; NaN when undefined."""
    arr = as_reliability(data)
    cats = _categories(arr)
    if len(cats) < 2:
        return float("nan")
    k = len(cats)
    f = _alpha_features(_index(arr, cats), k)
    return float(_alpha_from(f.sum(axis=0, keepdims=True), k)[0])


def kappa_reason(a: Any, b: Any) -> str:
    """Why kappa is undefined for these two coders ('' when it is defined)."""
    return _reasons(as_reliability(np.vstack([np.asarray(a, float), np.asarray(b, float)])), kappa=True)


def alpha_reason(data: Any) -> str:
    """Why alpha is undefined for this data ('' when it is defined)."""
    return _reasons(as_reliability(data), kappa=False)


def _reasons(arr: Array, *, kappa: bool) -> str:
    present = ~np.isnan(arr)
    empty = [i for i in range(arr.shape[0]) if not present[i].any()]
    if arr.shape[1] == 0:
        return "no units to compare"
    if empty:
        which = ", ".join(f"#{i + 1}" for i in empty)
        return f"coder {which} gave no values (missing)"
    if kappa:
        both = present[0] & present[1]
        if not both.any():
            return "no unit was coded by both coders"
        a, b = arr[0, both], arr[1, both]
        if len(np.unique(a)) == 1 and len(np.unique(b)) == 1 and a[0] == b[0]:
            return f"no variation: both coders gave every unit the same value ({_label(a[0])}), kappa is 0/0"
        return ""
    pairable = present.sum(axis=0) >= 2
    if not pairable.any():
        return "no unit has values from two or more coders"
    vals = np.unique(arr[:, pairable][present[:, pairable]])
    if len(vals) < 2:
        return f"no variation: every value is the same ({_label(vals[0])}), alpha is 0/0"
    return ""


def _label(v: float) -> str:
    return {1.0: "applied", 0.0: "not applied"}.get(float(v), repr(float(v)))


# ---------------------------------------------------------------------- bootstrap


def _patterns(features: Sequence[Array]) -> tuple[list[Array], Array]:
    """Distinct per-unit feature rows (across all statistics) and how many units show each."""
    stacked = np.ascontiguousarray(np.hstack(features))
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    out, start = [], 0
    for f in features:
        out.append(uniq[:, start : start + f.shape[1]])
        start += f.shape[1]
    return out, counts.astype(np.float64)


def _column_patterns(idx: npt.NDArray[np.int64], k: int) -> tuple[npt.NDArray[np.int64], Array]:
    """Distinct columns (units' value patterns) of an index matrix and how many units show each."""
    n_coders = idx.shape[0]
    if n_coders * np.log2(k + 1) < 62:
        key = np.zeros(idx.shape[1], dtype=np.int64)
        for row in idx:
            key = key * (k + 1) + (row + 1)
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        return idx[:, first], counts.astype(np.float64)
    uniq, counts = np.unique(idx.T, axis=0, return_counts=True)
    return np.ascontiguousarray(uniq.T), counts.astype(np.float64)


def _interval(reps: Array) -> tuple[float, float]:
    ok = reps[~np.isnan(reps)]
    # Too many undefined replicates make the interval meaningless.
    if len(ok) < max(10, 0.5 * len(reps)):
        return float("nan"), float("nan")
    lo, hi = np.percentile(ok, [2.5, 97.5])
    return float(lo), float(hi)


def _estimates(
    features: list[Array], counts: Array, k: int, reasons: tuple[str, str, str], n_boot: int, seed: int, two: bool
) -> tuple[Estimate, Estimate, Estimate]:
    """Point estimates and intervals for (percent, kappa, alpha) from the features of distinct unit patterns and
    how many units show each pattern."""
    fp, fk, fa = features
    sums = [counts[None, :] @ f for f in features]
    point = (
        float(_percent_from(sums[0])[0]),
        float(_kappa_from(sums[1], k)[0]) if two else float("nan"),
        float(_alpha_from(sums[2], k)[0]),
    )
    n_units = int(counts.sum())
    ci = [(float("nan"), float("nan"))] * 3
    if n_boot > 0 and n_units > 1:
        rng = np.random.default_rng(seed)
        w = rng.multinomial(n_units, counts / counts.sum(), size=n_boot).astype(np.float64)
        reps = (_percent_from(w @ fp), _kappa_from(w @ fk, k) if two else np.full(n_boot, np.nan), _alpha_from(w @ fa, k))
        ci = [_interval(r) if not np.isnan(p) else (float("nan"), float("nan")) for r, p in zip(reps, point)]
    out = []
    for (lo, hi), p, why in zip(ci, point, reasons):
        out.append(Estimate(p, lo, hi, "" if not np.isnan(p) else (why or "undefined")))
    return out[0], out[1], out[2]


def estimate(data: Any, *, n_boot: int = DEFAULT_BOOT, seed: int = DEFAULT_SEED) -> Stats:
    """Percent agreement, Cohen's kappa (when there are exactly two coders) and alpha, with bootstrap 95% CIs."""
    return pooled_estimate([data], n_boot=n_boot, seed=seed)


def pooled_estimate(blocks: Sequence[Any], *, n_boot: int = DEFAULT_BOOT, seed: int = DEFAULT_SEED) -> Stats:
    """Agreement pooled over several matrices with the same coders and units (one per code).

    Every (unit, code) decision counts; the bootstrap resamples units, keeping each unit's decisions together.
    """
    arrs = [as_reliability(b) for b in blocks]
    if not arrs:
        raise ValueError("no data")
    shape = arrs[0].shape
    if any(a.shape != shape for a in arrs):
        raise ValueError("pooled blocks must all have the same coders x units shape")
    n_coders, n_units = shape
    two = n_coders == 2
    allvals = np.hstack(arrs)
    cats = _categories(allvals)
    k = max(len(cats), 1)
    positives = tuple(int(np.nansum(allvals[i] == 1.0)) for i in range(n_coders))
    pr = _reasons(allvals, kappa=False)
    kr = _reasons(allvals, kappa=True) if two else f"kappa needs exactly two coders ({n_coders} given)"
    ar = _reasons(allvals, kappa=False)
    if n_units == 0 or len(cats) == 0:
        nan = Estimate(float("nan"), reason=pr or "no values")
        return Stats(n_units, n_coders, nan, Estimate(float("nan"), reason=kr or "no values"), nan, positives)
    if len(arrs) == 1:
        # One code: the statistics only depend on how many units show each pattern of values.
        idx, counts = _column_patterns(_index(arrs[0], cats), k)
        feats = [_percent_features(idx, k), _kappa_features(idx, k) if two else np.zeros((idx.shape[1], k * k)),
                 _alpha_features(idx, k)]
    else:
        fp = np.zeros((n_units, 2))
        fk = np.zeros((n_units, k * k))
        fa = np.zeros((n_units, k * k))
        for a in arrs:
            idx = _index(a, cats)
            fp += _percent_features(idx, k)
            if two:
                fk += _kappa_features(idx, k)
            fa += _alpha_features(idx, k)
        feats, counts = _patterns([fp, fk, fa])
    p, kap, alp = _estimates(feats, counts, k, (pr, kr, ar), n_boot, seed, two)
    return Stats(n_units, n_coders, p, kap, alp, positives)
