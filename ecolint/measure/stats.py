"""Windows, per-arm summaries, the paired delta and the rule that decides when to stop.

The delta is estimated from the log ratios of adjacent windows (fixed over flagged), one per
pair: the Hodges-Lehmann estimate (the median of the pairwise means of the log ratios) with the
distribution-free interval that inverts Wilcoxon's signed-rank test. On cloud GPU VMs the host
CPU slows down in episodes of seconds; a pair that straddles an episode's edge gives an outlying
ratio, which moves a mean and a t-interval a lot and this estimate little.

Pairs are added until the interval's half-width is at most `precision` percentage points, or
the time budget is spent. The rule looks only at the interval's width, never at where it lies,
so stopping does not favour an interval that excludes zero; `tests/test_measure_stats.py` runs it
on simulated episodic noise and checks the A/A rate and the coverage.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    """One measured window: its energy, time, tokens generated (all sequences) and diagnostics."""

    joules: float
    seconds: float
    tokens: int
    peak_memory_gib: float
    cpu_seconds: float | None = None  # the worker process's CPU time during the window
    sm_clock_mhz: int | None = None  # read at the window's end
    temperature_c: int | None = None
    at_seconds: float | None = None  # when the window started, from the start of the measurement
    core: int | None = None  # the CPU core the worker last ran on

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
    cv: float  # coefficient of variation of J per 1k tokens across windows
    robust_cv: float  # 1.4826 x median absolute deviation / median: what the bulk of windows vary by


def coefficient_of_variation(values: Sequence[float]) -> float:
    """Sample standard deviation over the mean (0 for fewer than two values or a zero mean)."""
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if len(values) > 1 and mean else 0.0


def robust_coefficient_of_variation(values: Sequence[float]) -> float:
    """1.4826 x MAD / median: the CV of the bulk, blind to a few outlying windows."""
    if len(values) < 2:
        return 0.0
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    return 1.4826 * mad / median if median else 0.0


def summarize(runs: Sequence[Run]) -> ArmSummary:
    energies = [r.joules_per_1k_tokens for r in runs]
    return ArmSummary(
        joules_per_1k_tokens=statistics.median(energies),
        tokens_per_second=statistics.median(r.tokens_per_second for r in runs),
        mean_watts=statistics.median(r.mean_watts for r in runs),
        peak_memory_gib=max(r.peak_memory_gib for r in runs),
        cv=coefficient_of_variation(energies),
        robust_cv=robust_coefficient_of_variation(energies),
    )


@functools.cache
def _signed_rank_depth(n: int, confidence: float) -> int:
    """How many Walsh averages to cut from each end for the signed-rank interval (at least 1).

    Exact for n <= 100 (the null distribution of the signed-rank statistic by counting),
    the normal approximation beyond. The interval covers with probability >= `confidence`.
    """
    tail = (1 - confidence) / 2
    total = n * (n + 1) // 2
    if n <= 100:
        counts = [1] + [0] * total
        for rank in range(1, n + 1):
            for t in range(total, rank - 1, -1):
                counts[t] += counts[t - rank]
        cumulative, depth, outcomes = 0, 0, 2**n
        for t in range(total + 1):
            cumulative += counts[t]
            if cumulative / outcomes > tail:
                break
            depth = t + 1
        return max(depth, 1)
    z = statistics.NormalDist().inv_cdf(1 - tail)
    spread = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    return max(1, math.floor(total / 2 - z * spread))


def hodges_lehmann(logs: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The Hodges-Lehmann estimate of `logs`' centre and its signed-rank interval (n >= 6 for 95%)."""
    n = len(logs)
    walsh = sorted((logs[i] + logs[j]) / 2 for i in range(n) for j in range(i, n))
    estimate = statistics.median(walsh)
    if n < 2:
        return estimate, estimate, estimate
    depth = _signed_rank_depth(n, confidence)
    return estimate, walsh[depth - 1], walsh[len(walsh) - depth]


def _percent(log_ratio: float) -> float:
    return (math.exp(log_ratio) - 1) * 100


@dataclass(frozen=True)
class Delta:
    """Fixed against flagged: the change in J per 1k tokens, in percent, with a 95% interval."""

    percent: float
    ci95_low: float
    ci95_high: float
    pairs: int = 0
    stopped: str = ""  # why no more pairs were measured: "precision", "time", "pairs"

    @property
    def half_width(self) -> float:
        """Half the interval's width, in percentage points."""
        return (self.ci95_high - self.ci95_low) / 2

    @property
    def verdict(self) -> str:
        if self.ci95_high < 0:
            return "saves"
        if self.ci95_low > 0:
            return "costs"
        return "no detectable difference"


ESTIMATOR = "Hodges-Lehmann median of per-pair log ratios, Wilcoxon signed-rank 95% interval"
MIN_INTERVAL_PAIRS = 6  # the fewest pairs for which a 95% signed-rank interval exists


def log_ratios(flagged: Sequence[Run], fixed: Sequence[Run]) -> list[float]:
    return [math.log(b.joules_per_1k_tokens / a.joules_per_1k_tokens) for a, b in zip(flagged, fixed)]


def paired_delta(flagged: Sequence[Run], fixed: Sequence[Run], stopped: str = "") -> Delta:
    """The delta from paired windows (one flagged and one fixed window per pair, adjacent in time)."""
    logs = log_ratios(flagged, fixed)
    if not logs:
        raise ValueError("no pairs")
    estimate, low, high = hodges_lehmann(logs)
    return Delta(_percent(estimate), _percent(low), _percent(high), len(logs), stopped)


@dataclass(frozen=True)
class StoppingRule:
    """Add pairs until the 95% interval is within ±`precision` points, or time runs out.

    `min_pairs` guard the interval against a lucky few; after those, the rule stops as soon as
    the half-width is at most `precision`, or when another pair would end past `max_seconds`
    (counted from the start of the measurement: loading, warm-up and pairs), or at `max_pairs`.
    """

    min_pairs: int = 10
    precision: float = 5.0
    max_seconds: float = 180.0
    max_pairs: int = 400

    def decide(self, logs: Sequence[float], elapsed: float, pair_seconds: float) -> str | None:
        """Why to stop after these pairs, or None to measure another."""
        n = len(logs)
        if n >= self.max_pairs:
            return "pairs"
        if n >= max(self.min_pairs, MIN_INTERVAL_PAIRS):
            _, low, high = hodges_lehmann(logs)
            if (_percent(high) - _percent(low)) / 2 <= self.precision:
                return "precision"
        if n >= MIN_INTERVAL_PAIRS and elapsed + pair_seconds > self.max_seconds:
            return "time"
        return None
