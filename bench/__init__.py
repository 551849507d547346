"""Benchmarks: run each as `python -m bench.NAME`; each prints its figures and the machine it ran on."""
