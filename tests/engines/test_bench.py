"""bench.engines measures every usable backend and the PyTorch eager baseline (tiny nets, few runs)."""

from __future__ import annotations

from bench import engines as bench


def test_bench_rows_and_table(published):
    rows = bench.run(published, batches=[1, 2], runs=2, image_size=16)
    got = {(r["model"], r["backend"], r["batch"]) for r in rows}
    for model in ("magnifier", "classifier"):
        for backend in ("torch-cpu-eager-fp32", "onnxruntime-cpu", "torch-cpu"):
            assert {(model, backend, 1), (model, backend, 2)} <= got
    for r in rows:
        assert r["median_ms"] > 0 and r["items_per_s"] > 0 and r["ratio"] > 0
    text = bench.table(rows, "note")
    assert "x eager" in text and "onnxruntime-cpu" in text


def test_inputs_follow_the_metadata(published):
    from engines import resolve

    meta = resolve("magnifier", "onnx", published).meta
    arrays = bench.make_inputs(meta, 3, 32)
    assert arrays["onset"].shape == (3, 3, 32, 32) and arrays["amplification"].tolist() == [10.0] * 3
