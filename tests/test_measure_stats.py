"""`--measure`'s stopping rule and estimator on simulated episodic noise (seeded, a few seconds).

The simulated host runs at full speed with slow episodes (speed 0.55-0.85, lasting 2.5 s on
average, every 8 s on average), the way the H200 VM's CPU behaved (shared/evidence, part B): a
window's energy per token grows with how much of it fell in an episode, plus 2% noise from the
meter, times an offset that a worker process carries for its lifetime (3% SD: pairs of worker
processes on the H200 VM differed by -5 to +3 points, benchmarks/results/README.md). Windows
go through `runner.run_pairs` and `stats.StoppingRule` exactly as on the GPU; only the windows
and the clock are simulated.
"""

from __future__ import annotations

import math
import random

import pytest

from ecolint.measure.runner import plan_windows, run_pairs
from ecolint.measure.stats import Run, StoppingRule, hodges_lehmann, paired_delta


class Host:
    """The host CPU's speed over time: 1.0, with slow episodes of seconds."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.edges = [0.0]
        self.speeds: list[float] = []

    def _extend(self, until: float) -> None:
        while self.edges[-1] <= until:
            slow = len(self.speeds) % 2 == 1
            self.speeds.append(self.rng.uniform(0.55, 0.85) if slow else 1.0)
            self.edges.append(self.edges[-1] + self.rng.expovariate(1 / (2.5 if slow else 8.0)))

    def run(self, start: float, work: float) -> float:
        """When `work` seconds of full-speed work begun at `start` end."""
        t = start
        while True:
            self._extend(t + work * 2)
            i = next(k for k in range(len(self.speeds)) if self.edges[k] <= t < self.edges[k + 1])
            capacity = (self.edges[i + 1] - t) * self.speeds[i]
            if capacity >= work:
                return t + work / self.speeds[i]
            work -= capacity
            t = self.edges[i + 1]


PROCESS_OFFSET_SD = 0.03


def simulated_trial(rng: random.Random, energy: tuple[float, float], seconds: tuple[float, float], rule: StoppingRule, processes: int = 1):
    """One measurement; `processes=1`: both variants in one worker (ecolint's design), 2: one worker each."""
    host = Host(rng)
    clock = [rng.uniform(0, 100)]
    origin = clock[0]
    offsets = [rng.gauss(0, PROCESS_OFFSET_SD) for _ in range(processes)]

    def take(arm: int):
        start = clock[0] + 0.001  # the hand-off between the variants' threads
        end = clock[0] = host.run(start, seconds[arm])
        slowdown = (end - start) / seconds[arm]
        per_token = energy[arm] * slowdown**0.8 * math.exp(rng.gauss(0, 0.02) + offsets[arm % processes])
        run = Run(per_token * 100, end - start, 100, 0.0)
        return lambda: run

    setup = 30.0  # loading and warm-up count in the time budget
    flagged, fixed, reason = run_pairs(take, rule, lambda: setup + clock[0] - origin, seed=rng.randrange(2**32))
    return paired_delta(flagged, fixed, reason)


def rates(trials: int, energy: tuple[float, float], seconds: tuple[float, float], seed: int, processes: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    truth = (energy[1] / energy[0] - 1) * 100
    deltas = [simulated_trial(rng, energy, seconds, StoppingRule(), processes) for _ in range(trials)]
    widths = sorted(d.half_width for d in deltas)
    return {
        "excludes_zero": sum(d.verdict != "no detectable difference" for d in deltas) / trials,
        "covers": sum(d.ci95_low <= truth <= d.ci95_high for d in deltas) / trials,
        "median_half_width": widths[trials // 2],
        "by_precision": sum(d.stopped == "precision" for d in deltas) / trials,
        "median_pairs": sorted(d.pairs for d in deltas)[trials // 2],
    }


def test_a_a_says_no_difference_at_least_95_percent_of_the_time():
    found = rates(400, (1.0, 1.0), (1.0, 1.0), seed=1)
    # 400 trials: a true 5% rate lands above 7.4% about one time in a hundred.
    assert found["excludes_zero"] <= 0.074, found
    assert found["median_half_width"] <= 5.0 and found["by_precision"] >= 0.95, found


def test_a_process_offset_cancels_only_when_both_variants_share_the_process():
    one, two = (rates(300, (1.0, 1.0), (1.0, 1.0), seed=3, processes=n) for n in (1, 2))
    assert one["excludes_zero"] <= 0.075, one  # 300 trials: a true 5% lands above 7.5% about one time in fifty
    assert two["excludes_zero"] >= 0.15, two  # a worker each: the offset is not in the interval


@pytest.mark.parametrize(
    ("energy", "seconds"),
    [
        ((1.0, 0.8), (1.0, 1.0)),  # ECO102-like: -20%, windows alike
        ((1.0, 0.5), (2.2, 1.0)),  # ECO101-like: -50%, the flagged share of a call twice as long
        ((1.0, 1.25), (1.0, 1.2)),  # a cost: +25%
    ],
)
def test_the_interval_covers_the_true_delta_95_percent_of_the_time(energy, seconds):
    found = rates(1000, energy, seconds, seed=2)
    assert found["covers"] >= 0.932, found  # 1000 trials: a true 95% lands below 93.2% about one time in two hundred
    assert found["excludes_zero"] == 1.0 and found["median_half_width"] <= 5.0, found


def test_the_rule_stops_by_width_never_by_where_the_interval_lies():
    rule = StoppingRule(min_pairs=10, precision=5.0, max_seconds=180)
    tight = [0.01 * (i % 3 - 1) for i in range(10)]
    assert rule.decide(tight, elapsed=20, pair_seconds=2) == "precision"
    assert rule.decide([x + 0.5 for x in tight], elapsed=20, pair_seconds=2) == "precision"  # far from zero: same answer
    assert rule.decide(tight[:9], elapsed=20, pair_seconds=2) is None  # fewer than min_pairs
    wide = [0.3 * (-1) ** i for i in range(12)]
    assert rule.decide(wide, elapsed=20, pair_seconds=2) is None
    assert rule.decide(wide, elapsed=179, pair_seconds=2) == "time"
    assert rule.decide(wide[:5], elapsed=179, pair_seconds=2) is None  # no 95% interval below 6 pairs


def test_the_signed_rank_interval_is_exact_for_small_samples():
    # n = 10: the interval cuts the 9 lowest and highest of the 55 Walsh averages (P = 0.049).
    logs = [float(i) for i in range(10)]
    estimate, low, high = hodges_lehmann(logs)
    walsh = sorted((logs[i] + logs[j]) / 2 for i in range(10) for j in range(i, 10))
    assert (estimate, low, high) == (4.5, walsh[8], walsh[46])


def test_long_calls_are_split_into_equal_shares_short_ones_grouped():
    assert plan_windows([6.5, 3.0], 64, 1.0) == (3, [1, 1])  # ECO101 at batch 1: shares of a call
    assert plan_windows([1.7, 1.3], 64, 1.0) == (1, [1, 1])  # whole calls
    assert plan_windows([0.25, 0.5], 16, 1.0) == (1, [4, 2])  # short calls grouped to about a window
    assert plan_windows([40.0, 30.0], 8, 1.0) == (2, [1, 1])  # never shares of fewer than 4 tokens
