"""x264 encodes are reproducible: the same frames give the same bytes (real PyAV + libx264)."""

import hashlib

import numpy as np

from mecore.h264 import _has_avx512, x264_options
from train.synth.long_clips import write_mp4


def _frames(n=60, w=1080, h=360):
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        yield np.stack([(xx + i) % 256, (yy * 2 + i) % 256, ((xx ^ yy) + 3 * i) % 256], -1).astype(np.uint8)


def test_same_frames_same_bytes(tmp_path):
    # Without the AVX2 cap, 6 encodes of these frames gave 5 different files on this project's AVX-512
    # machine; on a CPU without AVX-512 the test holds either way.
    digests = set()
    for k in range(4):
        path = tmp_path / f"clip{k}.mp4"
        write_mp4(path, _frames(), 30.0, 25)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_avx2_cap_only_where_avx512():
    options = x264_options(23, "veryfast")
    assert options["crf"] == "23" and options["preset"] == "veryfast"
    assert ("x264-params" in options) == _has_avx512()
