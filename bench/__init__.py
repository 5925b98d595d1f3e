"""Benchmarks: measured speed and memory figures, printed (``python -m bench.<name>``)."""
