"""Side-by-side retrieval benchmark: the seed notebook's stack against our embedded index.

Run ``python -m benchmarks.retrieval --help`` (or ``make bench-retrieval``). Each stack is built
and queried in its own subprocess (:mod:`benchmarks.retrieval.worker`) so that build time,
latency and peak memory are measured in isolation.
"""
