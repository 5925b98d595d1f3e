"""Phone video is decoded the way up it was filmed (real libx264 encode, real PyAV decode)."""

import av
import numpy as np
import pytest

from mecore.upright import quarter_turns, rgb


def _upright(h=48, w=64):
    """A frame whose way up can be read back: a white block at the top left, the rest grey."""
    a = np.full((h, w, 3), 90, np.uint8)
    a[:16, :16] = 255
    return a


@pytest.mark.parametrize("angle, turns", [(-90, 3), (90, 1), (180, 2), (0, 0)])
def test_turned_video_decodes_upright(tmp_path, turned_mp4, angle, turns):
    frames = [_upright()] * 3
    path = turned_mp4(tmp_path / "phone.mp4", frames, 30.0, angle)
    with av.open(str(path)) as c:
        got = [(quarter_turns(f), f.to_ndarray(format="rgb24"), rgb(f)) for f in c.decode(video=0)]
    assert len(got) == 3
    for k, stored, shown in got:
        assert k == turns
        assert stored.shape[:2] == ((48, 64) if turns % 2 == 0 else (64, 48))  # the file holds it turned
        assert shown.shape == (48, 64, 3) and shown.flags["C_CONTIGUOUS"]
        assert shown[:16, :16].mean() > 230 and shown[32:, 32:].mean() < 120  # block back at the top left
