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
    for ratio, num in ((ratios[0], fps[1]), (ratios[2], fps[2])):
        # the ratio is of the unrounded rates; each printed figure is rounded to 0.01 (at 2.4 fps that alone
        # moves num / fps[0] by 0.015)
        slack = 0.005 + ratio * (0.005 / num + 0.005 / fps[0]) + 1e-9
        assert abs(ratio - num / fps[0]) <= slack, (ratio, num, fps[0])
    faces = re.findall(r"--face with (fast int8|fast) \(.*: (\d+\.\d) fps", out)
    assert [m for m, _ in faces] == ["fast", "fast int8"] and all(float(v) > 0 for _, v in faces)
