"""``make bench-serve``: the service under load (``python -m benchmarks.serve``)."""
