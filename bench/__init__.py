"""Benchmarks for fasciculation-cds: in-process screen time, HTTP throughput and latency, peak memory."""
