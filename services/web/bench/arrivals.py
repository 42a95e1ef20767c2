"""Requests that arrive at random, served static or running: waits and latencies.

A worker meets documents one at a time, not in batches of eight.  This
driver replays a seeded Poisson arrival process against a RunningBatch
(textgen/running.py) and records, per request, when it arrived, when a row
took it (admitted) and when it ended:

    arrivals = poisson_arrivals(24, span_s=90.0, seed=0)
    figures, texts = serve(generator.running_batch(8), requests, arrivals)

The loop is the worker's: before every `advance`, admit what has arrived into
the free rows, oldest first; with nothing in flight, sleep until the next
arrival.  Through a StaticBatch that is today's worker, which drains up to
`rows` waiting requests into one `generate` call and looks again when the
call returns; through an engine's own running batch, requests join between
chunks and leave when they end.

Figures (`summarize`): documents per minute from the first arrival to the
last end, and p50/p95 of the queue wait (arrival -> admitted) and of the
latency (arrival -> ended), in seconds.  `table` prints them one row each.
"""

from __future__ import annotations

import random
import statistics
import time

FIGURES = ("docs_per_min", "wait_p50_s", "wait_p95_s", "latency_p50_s", "latency_p95_s")


def poisson_arrivals(count: int, span_s: float, seed: int = 0) -> list[float]:
    """Arrival times (seconds from start) of a Poisson process, seeded.

    Its mean rate is count / span_s: the arrivals span about `span_s`.
    """
    if count < 1 or span_s <= 0:
        raise ValueError(f"need count >= 1 and span_s > 0, got {count}, {span_s}")
    draw = random.Random(seed)
    rate, now, times = count / span_s, 0.0, []
    for _ in range(count):
        now += draw.expovariate(rate)
        times.append(now)
    return times


def serve(batch, requests, arrivals, clock=time.monotonic):
    """Serve request i, arriving arrivals[i] s after the start, through `batch`.

    Returns (figures, texts): `summarize`'s figures plus the batch's kind
    and how many programs it compiled on the way, and every request's text
    by index.
    """
    if len(requests) != len(arrivals):
        raise ValueError(f"{len(requests)} requests for {len(arrivals)} arrivals")
    order = sorted(range(len(requests)), key=arrivals.__getitem__)
    admitted, ended, texts, compiles = {}, {}, {}, []
    start = clock()
    while len(ended) < len(requests):
        while order and arrivals[order[0]] <= clock() - start and batch.free_rows():
            index = order.pop(0)
            batch.admit(index, requests[index])
            admitted[index] = clock() - start
        if not len(batch):
            time.sleep(max(0.0, arrivals[order[0]] - (clock() - start)))
            continue
        for row in batch.advance(on_compile=compiles.append):
            ended[row.key] = clock() - start
            texts[row.key] = row.text
    figures = summarize(arrivals, admitted, ended)
    figures["batch"] = type(batch).__name__
    figures["compiles"] = len(compiles)  # programs compiled during the run
    return figures, [texts[i] for i in range(len(requests))]


def warm_up(new_batch, requests, arrivals, rows: int, replays: int = 3) -> int:
    """Untimed runs until the batch compiles nothing; the programs compiled.

    A running batch may compile a program per joining count, group size and
    bucket at first use (TF's ContinuousBatch), which a busy worker has done
    long before.  First `rows` requests join at once; a batch that compiled
    nothing there (CTranslate2) is warm.  Else the same arrivals are served
    again, up to `replays` times, until a run compiles nothing.
    """
    compiled = []
    batch = new_batch()
    for index, request in enumerate(requests[:rows]):
        batch.admit(index, request)
    while len(batch):
        batch.advance(on_compile=compiled.append)
    for _ in range(replays if compiled else 0):
        figures, _ = serve(new_batch(), requests, arrivals)
        compiled += [None] * figures["compiles"]
        if not figures["compiles"]:
            break
    return len(compiled)


def summarize(arrivals, admitted: dict, ended: dict) -> dict:
    """Throughput and p50/p95 of wait and latency (seconds), by request index."""
    waits = [admitted[i] - arrivals[i] for i in range(len(arrivals))]
    latencies = [ended[i] - arrivals[i] for i in range(len(arrivals))]
    elapsed = max(ended.values()) - min(arrivals)
    return {
        "docs": len(arrivals),
        "docs_per_min": 60 * len(arrivals) / elapsed,
        "wait_p50_s": _percentile(waits, 50),
        "wait_p95_s": _percentile(waits, 95),
        "latency_p50_s": _percentile(latencies, 50),
        "latency_p95_s": _percentile(latencies, 95),
    }


def _percentile(values, percent: int) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def table(rows: dict[str, dict]) -> str:
    """One line per served run: its label, batch kind, `FIGURES` and, where
    measured, how many texts equal `generate([request])` alone."""
    header = (
        "run",
        "batch",
        "docs/min",
        "wait p50/p95 s",
        "latency p50/p95 s",
        "equal alone",
    )
    lines = [header]
    for label, f in rows.items():
        lines.append(
            (
                label,
                f.get("batch", "-"),
                f"{f['docs_per_min']:.1f}",
                f"{f['wait_p50_s']:.1f}/{f['wait_p95_s']:.1f}",
                f"{f['latency_p50_s']:.1f}/{f['latency_p95_s']:.1f}",
                f.get("equal_alone", "-"),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    )
