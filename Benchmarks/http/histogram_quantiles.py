"""p50 and p99 of what tallyd observed between two reads of its /metrics, from one of its histograms
(linear within a bucket, as Prometheus' histogram_quantile): by default
`tally_http_request_duration_seconds`, a request's first byte read to its answer ready.

    histogram_quantiles.py BEFORE AFTER [HISTOGRAM]     prints "p50 X ms, p99 Y ms"
"""
import re
import sys

NAME = sys.argv[3] if len(sys.argv) > 3 else "tally_http_request_duration_seconds"
BUCKET = re.compile(rf'^{NAME}_bucket\{{le="([^"]+)"\}} (\d+)$', re.M)


def buckets(path):
    return [(float(bound), int(count)) for bound, count in BUCKET.findall(open(path).read())]


def quantile(q, bounds, cumulative):
    target = q * cumulative[-1]
    lower, below = 0.0, 0
    for bound, count in zip(bounds, cumulative):
        if count >= target:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (target - below) / max(count - below, 1)
        lower, below = bound, count
    return lower


before, after = buckets(sys.argv[1]), buckets(sys.argv[2])
bounds = [bound for bound, _ in after]
cumulative = [a - b for (_, a), (_, b) in zip(after, before)]
print(", ".join(f"p{q:g} {quantile(q / 100, bounds, cumulative) * 1000:.2f} ms" for q in (50, 99)))
