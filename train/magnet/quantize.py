"""An INT8 decoder for the fast magnifier: ``python -m train.magnet quantize``.

ONNX Runtime's static quantisation (QDQ: per-channel int8 weights, per-tensor uint8 activations)
of ``engines/fast_magnifier_decoder.onnx``, calibrated on the project's synthetic magnification
frames (``train.magnet.data``, its own seed) passed through the published fp32 encoder, and
published as ``fast_magnifier_int8_decoder.onnx`` beside it (``stream.magnify --method fast-int8``;
the live view's choice on a CPU). Only where quantisation costs little is quantised:

- the encoder stays fp32: the motion the decoder amplifies is a *difference* of two frames' shape
  codes, and a uint8 shape code rounds sub-pixel motion away;
- in the decoder, only the 64-channel residual blocks (most of its multiply-adds) run in int8; the
  manipulator (which reads that small motion difference) and the last two convolutions (which
  write the correction added to the frame) stay fp32.

Before publishing, both pairs (fp32 encoder + fp32 decoder, fp32 encoder + INT8 decoder) are scored
through ONNX Runtime on the held-out synthetic test set (``train.magnet.eval``'s); the INT8 pair is
refused when it loses more than ``MAX_LOSS_DB``. The figures go into the artifact's metadata.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from engines import ENGINES_DIR
from mecore.errors import MexError

ENCODER, DECODER, INT8 = "fast_magnifier_encoder", "fast_magnifier_decoder", "fast_magnifier_int8_decoder"
KEEP_FP32 = ("/g/", "/h/", "/h_blocks/", "/Mul", "/Add", "/decoder/up1/", "/decoder/out_conv/")
MAX_LOSS_DB = 0.5
CALIB_SEED = 99


def _session(data: bytes, threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    return ort.InferenceSession(data, sess_options=so, providers=["CPUExecutionProvider"])


def _decoder_feeds(enc, a: np.ndarray, b: np.ndarray, amp: np.ndarray) -> dict[str, np.ndarray]:
    texture, shape = enc.run(None, {"frame": b})
    _, shape_a = enc.run(None, {"frame": a})
    return {"frame": b, "texture": texture, "shape": shape, "motion": shape - shape_a,
            "amplification": amp.astype(np.float32)}


def calibration(enc, n: int, size: int, seed: int = CALIB_SEED) -> list[dict[str, np.ndarray]]:
    """Decoder inputs of ``n`` synthetic (A, B, alpha) samples, one per call."""
    from train.magnet.data import Synth, SynthConfig

    d = Synth(SynthConfig(size=size, color_perturb_p=0.0), seed=seed).batch(n)
    return [_decoder_feeds(enc, d["A"][i:i + 1].numpy(), d["B"][i:i + 1].numpy(), d["amp"][i:i + 1].numpy())
            for i in range(n)]


def score(enc, decoders: dict, n: int = 256) -> dict[str, dict]:
    """Mean per-sample PSNR (peak-to-peak 2, as ``train.magnet.eval``) of encoder + each decoder."""
    from train.magnet.data import held_out_set

    d = held_out_set(n=n)
    out = {name: [] for name in decoders}
    for i in range(n):
        feeds = _decoder_feeds(enc, d["A"][i:i + 1].numpy(), d["B"][i:i + 1].numpy(), d["amp"][i:i + 1].numpy())
        y = d["Y"][i:i + 1].numpy()
        for name, dec in decoders.items():
            got = np.clip(dec.run(None, feeds)[0], -1, 1)
            out[name].append(10 * np.log10(4.0 / max(float(np.mean((got - y) ** 2)), 1e-12)))
    return {name: {"psnr": round(float(np.mean(v)), 3), "n": n} for name, v in out.items()}


def quantize(engines_dir: str | Path = ENGINES_DIR, calib: int = 24, calib_size: int = 256, test_n: int = 256,
             log=print) -> dict:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from engines.artifacts import resolve
    from engines.export import embed_meta, publish

    engines_dir = Path(engines_dir)
    enc_art, dec_art = (resolve(name, "onnx", engines_dir) for name in (ENCODER, DECODER))
    enc = _session(enc_art.data)
    feeds = calibration(enc, calib, calib_size)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory(prefix="quantize-") as tmp:
        tmp = Path(tmp)
        pre, raw = tmp / "pre.onnx", tmp / "int8.onnx"
        # skip_symbolic_shape: the reflect pads' computed sizes defeat ORT's symbolic shape inference
        quant_pre_process(str(dec_art.path), str(pre), skip_symbolic_shape=True)
        keep = [n.name for n in onnx.load(str(pre)).graph.node if n.name.startswith(KEEP_FP32)]
        quantize_static(str(pre), str(raw), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv"], nodes_to_exclude=keep)
        int8 = raw.read_bytes()
        scores = score(enc, {"fp32": _session(dec_art.data), "int8": _session(int8)}, test_n)
        loss = scores["fp32"]["psnr"] - scores["int8"]["psnr"]
        log(f"held-out test set ({test_n} samples, 128x128), ONNX Runtime, fp32 encoder + decoder: "
            f"fp32 {scores['fp32']['psnr']:.2f} dB, INT8 {scores['int8']['psnr']:.2f} dB ({-loss:+.2f})")
        if loss > MAX_LOSS_DB:
            raise MexError(f"{INT8}: INT8 loses {loss:.2f} dB on the test set (> {MAX_LOSS_DB}); not published")
        source = {"model": DECODER, "sha256": dec_art.sha256}
        weights = dec_art.meta.get("derived_from", {}).get("weights_sha256")
        if weights:  # the whole network's weights, as the fp32 split records them
            source["weights_sha256"] = weights
        meta = {k: v for k, v in dec_art.meta.items() if k not in ("code_version", "created", "metrics")}
        meta.update(model=INT8, derived_from=source,
                    quantization={"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ",
                                  "weights": "int8 per channel", "activations": "uint8 per tensor, min-max",
                                  "quantised": "Conv nodes of the decoder's residual blocks",
                                  "kept_fp32": list(KEEP_FP32), "encoder": f"{ENCODER} (fp32)",
                                  "calibration": f"{calib} synthetic samples ({calib_size}x{calib_size}, "
                                                 f"train.magnet.data seed {CALIB_SEED}) through the fp32 encoder"},
                    metrics={"test_set_psnr_onnxruntime": scores})
        out = embed_meta(onnx.load_model_from_string(int8), meta, tmp / f"{INT8}.onnx")
        publish({f"{INT8}.onnx": out}, engines_dir)
    return {"engines_dir": str(engines_dir), "file": f"{INT8}.onnx", "psnr": scores}
