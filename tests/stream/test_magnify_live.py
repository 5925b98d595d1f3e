"""run_stream.py --show's live magnified view: the ``m`` key of ``stream.sinks.Window`` and ``LiveView``."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from stream.magnify_live import LiveView, best_method
from stream.runner import Controls
from stream.sinks import Window
from tests.mecore.test_magnify import shifted, texture


class FakeCV2:
    """The three calls Window makes (no display here); keys pressed are queued."""

    COLOR_RGB2BGR = 4

    def __init__(self):
        self.keys, self.shown = [], []

    def imshow(self, title, img):
        self.shown.append(img)

    def waitKey(self, ms):  # noqa: N802 - OpenCV's name
        return self.keys.pop(0) if self.keys else 255

    def cvtColor(self, img, code):  # noqa: N802
        return img[..., ::-1]


def test_m_toggles_the_live_magnified_view():
    win = Window.__new__(Window)  # no window on a headless machine: the state and key handling only
    win.cv2, win.controls, win.title, win.live, win.amplification = FakeCV2(), Controls(), "t", None, None
    img = texture(64, 96, seed=7)
    annotated = np.zeros((64, 96, 3), np.uint8)
    win.cv2.keys.append(ord("m"))
    win.poll(1)
    assert isinstance(win.live, LiveView)
    for i in range(10):
        raw = shifted(img, 0.2 * np.sin(i))
        win(result(annotated, raw, i / 25))
    assert win.live.fps == pytest.approx(25.0)  # measured from the frames' timestamps
    assert win.cv2.shown[-1].shape == raw.shape and win.cv2.shown[-1].any()  # the frame, not the overlay
    win.cv2.keys.append(ord("m"))
    win.poll(1)
    assert win.live is None
    win(result(annotated, raw, 1.0))
    assert not win.cv2.shown[-1].any()


def result(image, raw, t):
    return SimpleNamespace(image=image, amplification=None, frame=SimpleNamespace(image=raw, timestamp_s=t))


def test_best_method_prefers_the_fast_magnifier(tmp_path):
    assert best_method(tmp_path) == "magnet"  # an engines folder without it
    assert best_method() == "fast-int8"  # the shipped engines on this GPU-less machine: its INT8 decoder
    assert best_method(backend="torch-cpu") == "fast"  # the INT8 decoder is ONNX only
