"""MagNet motion magnifier: synthetic data (data), training (train), evaluation with baselines (evaluate),
weight import (importer) and export into engines/ (export). CLI: ``python -m train.magnet {import,train,eval,export}``.
"""
