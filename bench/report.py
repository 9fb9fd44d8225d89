"""The printed table: plain text, one section per figure, each target named next to its figure."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.http_load import LoadResult
from bench.inprocess import ScreenRow
from bench.memory import MemoryFigures

TARGET_RATIO = 3.0  # screen time <= 3x json.loads at 1,000 and 10,000 resources
TARGET_RATIO_FROM = 1000
TARGET_RATE = 1000.0  # req/s at c=8 with 2 workers
TARGET_P99_MS = 50.0  # p99 at c=8
TARGET_CONCURRENCY = 8
TARGET_PEAK_MIB = 300.0  # peak RSS at 10,000 resources


@dataclass(frozen=True)
class HttpRow:
    """Medians over the runs at one concurrency."""

    concurrency: int
    runs: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int


def summarise(concurrency: int, results: Sequence[LoadResult]) -> HttpRow:
    """Median req/s, p50 and p99 over runs; errors summed."""
    return HttpRow(
        concurrency=concurrency,
        runs=len(results),
        rate=statistics.median(r.rate for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
    )


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def screen_table(rows: Sequence[ScreenRow], runs: int) -> list[str]:
    """In-process screen time next to the json.loads floor."""
    lines = [
        f"In-process screen: request bytes -> response bytes through the WSGI app (median of {runs} runs);",
        "ratio = screen / json.loads (the floor); orjson.loads shown for reference",
        f"{'resources':>9} {'body KB':>9} {'json.loads ms':>13} {'orjson ms':>9} {'screen ms':>10} {'ratio':>7}"
        f" {'cards':>5}  target",
    ]
    for row in rows:
        target = ""
        if row.resources >= TARGET_RATIO_FROM:
            target = f"<= {TARGET_RATIO:.0f}x  {_verdict(row.ratio <= TARGET_RATIO)}"
        lines.append(
            f"{row.resources:>9,} {row.body_bytes / 1024:>9.1f} {row.floor_ms:>13.3f} {row.orjson_ms:>9.3f}"
            f" {row.screen_ms:>10.3f}"
            f" {row.ratio:>6.2f}x {row.cards:>5}  {target}".rstrip()
        )
    return lines


def http_table(rows: Sequence[HttpRow], header: str) -> list[str]:
    """Throughput and latency per concurrency."""
    lines = [header, f"{'concurrency':>11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  target"]
    for row in rows:
        target = ""
        if row.concurrency == TARGET_CONCURRENCY:
            target = (
                f">= {TARGET_RATE:.0f} req/s {_verdict(row.rate >= TARGET_RATE)}, "
                f"p99 <= {TARGET_P99_MS:.0f} ms {_verdict(row.p99_ms <= TARGET_P99_MS)}"
            )
        figures = f"{row.concurrency:>11} {row.rate:>9.1f} {row.p50_ms:>8.2f} {row.p99_ms:>8.2f} {row.errors:>6}"
        lines.append(f"{figures}  {target}".rstrip())
    return lines


def memory_table(size: int, figures: MemoryFigures) -> list[str]:
    """Peak RSS of one call in a fresh process."""
    return [
        f"Peak memory (VmHWM of a fresh process making one call with {size:,} resources)",
        f"{'after start-up MiB':>18} {'peak MiB':>9}  target",
        f"{figures.startup_mib:>18.1f} {figures.peak_mib:>9.1f}  <= {TARGET_PEAK_MIB:.0f} MiB "
        f"{_verdict(figures.peak_mib <= TARGET_PEAK_MIB)}",
    ]


FLOOR_SHARE_TARGET = 0.40  # issue 23 (was 0.25, issue 16): c=8 throughput >= 0.4 x the framework floor, same run
FLOOR_P99_TARGET_MS = 20.0  # issue 23 (was 25 ms, issue 16): p99 <= 20 ms at c=8


def floor_table(service: Sequence[HttpRow], floor: Sequence[HttpRow]) -> list[str]:
    """The service next to the framework floor at each concurrency: req/s and p99 ratios, issue-23 targets at c=8."""
    lines = [
        "Service / framework floor (bench/floor_app.py: Flask + gunicorn sync, same workers, orjson parse, fixed card;",
        "same body, same load generator, same durations, same run)",
        f"{'concurrency':>11} {'floor req/s':>11} {'floor p99':>9} {'req/s ratio':>11} {'p99 ratio':>9}  target",
    ]
    for ours, base in zip(service, floor, strict=True):
        target = ""
        if ours.concurrency == TARGET_CONCURRENCY:
            share_met = ours.rate >= FLOOR_SHARE_TARGET * base.rate
            target = (
                f"req/s >= {FLOOR_SHARE_TARGET:.2f} x floor {_verdict(share_met).replace('MISSED', 'NOT MET')}, "
                f"p99 <= {FLOOR_P99_TARGET_MS:.0f} ms "
                f"{_verdict(ours.p99_ms <= FLOOR_P99_TARGET_MS).replace('MISSED', 'NOT MET')}"
            )
        lines.append(
            f"{ours.concurrency:>11} {base.rate:>11.1f} {base.p99_ms:>9.2f} {ours.rate / base.rate:>10.3f}x"
            f" {ours.p99_ms / base.p99_ms:>8.2f}x  {target}".rstrip()
        )
    return lines
