"""Per-arm summaries and the paired delta: geometric mean of ratios with a 95% interval."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# Two-sided 95% quantiles of Student's t, by degrees of freedom (1..30); 1.96 beyond.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One timed generation: its energy, time, tokens generated (all sequences) and peak memory."""

    joules: float
    seconds: float
    tokens: int
    peak_memory_gib: float

    @property
    def joules_per_1k_tokens(self) -> float:
        return self.joules / self.tokens * 1000

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds

    @property
    def mean_watts(self) -> float:
        return self.joules / self.seconds


@dataclass(frozen=True)
class ArmSummary:
    joules_per_1k_tokens: float
    tokens_per_second: float
    mean_watts: float
    peak_memory_gib: float
    cv: float  # coefficient of variation of J per 1k tokens across runs


def coefficient_of_variation(values: Sequence[float]) -> float:
    """Sample standard deviation over the mean (0 for fewer than two values or a zero mean)."""
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if len(values) > 1 and mean else 0.0


def summarize(runs: Sequence[Run]) -> ArmSummary:
    energies = [r.joules_per_1k_tokens for r in runs]
    cv = coefficient_of_variation(energies)
    return ArmSummary(
        joules_per_1k_tokens=statistics.median(energies),
        tokens_per_second=statistics.median(r.tokens_per_second for r in runs),
        mean_watts=statistics.median(r.mean_watts for r in runs),
        peak_memory_gib=max(r.peak_memory_gib for r in runs),
        cv=cv,
    )


@dataclass(frozen=True)
class Delta:
    """Fixed against flagged: the change in J per 1k tokens, in percent, with a 95% interval."""

    percent: float
    ci95_low: float
    ci95_high: float

    @property
    def verdict(self) -> str:
        if self.ci95_high < 0:
            return "saves"
        if self.ci95_low > 0:
            return "costs"
        return "no detectable difference"


def paired_delta(flagged: Sequence[Run], fixed: Sequence[Run]) -> Delta:
    """Geometric mean of the per-pair ratios fixed/flagged, and its t interval on the log scale."""
    logs = [math.log(b.joules_per_1k_tokens / a.joules_per_1k_tokens) for a, b in zip(flagged, fixed)]
    if not logs:
        raise ValueError("no pairs")
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        low = high = mean
    else:
        t = _T975[len(logs) - 2] if len(logs) - 1 <= len(_T975) else 1.96
        half = t * statistics.stdev(logs) / math.sqrt(len(logs))
        low, high = mean - half, mean + half
    to_percent = lambda x: (math.exp(x) - 1) * 100  # noqa: E731
    return Delta(to_percent(mean), to_percent(low), to_percent(high))
