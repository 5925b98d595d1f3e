"""bench.magnify prints measured frames per second for MagNet, the fast magnifier and its INT8 decoder."""

from __future__ import annotations

import re

from bench import magnify as bench_magnify


def test_bench_magnify_prints_one_row_with_all_three_magnifiers(face_model, face_video, capsys):
    assert bench_magnify.main(["--sizes", "256", "--repeats", "1", "--threads", "1",
                               "--backends", "onnxruntime-cpu", "--face-video", str(face_video)]) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("| 256x256 |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    fps = [float(c) for c in cells[2:5]]  # MagNet, fast, fast int8: all measured
    ratios = [float(c.rstrip("x")) for c in cells[5:8]]
    assert all(v > 0 for v in fps + ratios)
    assert abs(ratios[0] - fps[1] / fps[0]) < 0.01 and abs(ratios[2] - fps[2] / fps[0]) < 0.01
    faces = re.findall(r"--face with (fast int8|fast) \(.*: (\d+\.\d) fps", out)
    assert [m for m, _ in faces] == ["fast", "fast int8"] and all(float(v) > 0 for _, v in faces)
