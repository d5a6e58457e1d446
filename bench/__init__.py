"""Benchmark harness of the project (not tests): ``python -m bench.run [--quick] [--only NAME ...]``."""
