"""How long the webhook took to decide, kept as a histogram per tally row
(AdmissionTally.latency_buckets): a count per bucket of BOUNDS_MS, then one for what took
longer. Histograms add up bucket by bucket, so percentiles over any period, lane or
cluster come from summed rows, as Prometheus takes them from its buckets."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

# Upper bounds, in milliseconds: fine where the webhook should be (its goal is a p99 under
# 10 ms), coarse towards the API server's timeout (ADMISSION_TIMEOUT_SECONDS, at most 2 s).
BOUNDS_MS = (0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0)
BUCKETS = len(BOUNDS_MS) + 1  # the last one counts what took longer than every bound


def bucket(latency_ms: float) -> int:
    """The index of the bucket a decision that took ``latency_ms`` is counted in."""
    return bisect_left(BOUNDS_MS, latency_ms)


def empty() -> list[int]:
    return [0] * BUCKETS


def percentile(buckets: Sequence[int], q: float) -> float | None:
    """The latency ``q`` (0..1; 1 is the maximum) of the decisions counted, in ms,
    interpolated within its bucket; None when nothing was counted. What fell above the
    last bound is reported as that bound: the histogram cannot say more."""
    total = sum(buckets)
    if total <= 0 or not 0 <= q <= 1:
        return None
    rank = q * total
    below = 0
    for index, count in enumerate(buckets):
        if count and below + count >= rank:
            if index >= len(BOUNDS_MS):
                return BOUNDS_MS[-1]
            lower = BOUNDS_MS[index - 1] if index else 0.0
            upper = BOUNDS_MS[index]
            return round(lower + (upper - lower) * max(rank - below, 0) / count, 3)
        below += count
    return BOUNDS_MS[-1]
