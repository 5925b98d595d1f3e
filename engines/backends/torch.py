"""PyTorch backend: the .pt checkpoint rebuilt with ``mecore.nets.build``; CPU fp32, or CUDA fp16 +
channels_last with one CUDA graph per input shape (replayed, so fixed-shape streaming skips launch overhead)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from engines.artifacts import Artifact, load_checkpoint
from engines.engine import Engine
from mecore.errors import MexError

MAX_GRAPHS = 8  # distinct input shapes kept captured; a stream uses one or two


def unavailable(device: str) -> str | None:
    if device == "cuda":  # asks the driver before importing torch (engines.backends.gpu)
        from engines.backends.gpu import no_cuda

        return no_cuda()
    import torch  # noqa: F401  (ImportError: reported by the dispatcher)

    return None


def rebuild(artifact: Artifact):
    """The eval-mode module of a checkpoint artifact; MexError naming the file when it does not fit."""
    from mecore.nets import build

    ckpt = load_checkpoint(artifact.data, artifact.path)
    try:
        module = build(ckpt["arch"], ckpt["kwargs"])
        module.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, ImportError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MexError(f"{artifact.path}: cannot rebuild {ckpt['arch']!r} from the checkpoint: {first}") from None
    return module.eval().requires_grad_(False)


class TorchEngine(Engine):
    def __init__(self, artifact: Artifact, device: str = "cpu", fp16: bool = True, cuda_graphs: bool = True,
                 device_id: int = 0, **_):
        import torch

        cuda = device == "cuda"
        half = cuda and fp16
        super().__init__(artifact, f"torch-{device}{'-fp16' if half else ''}")
        self._torch = torch
        self.device = torch.device(f"cuda:{device_id}" if cuda else "cpu")
        self.dtype = torch.float16 if half else torch.float32
        self.module = rebuild(artifact).to(self.device, self.dtype)
        if cuda:
            self.module = self.module.to(memory_format=torch.channels_last)
        self.cuda_graphs = cuda and cuda_graphs
        self.graphs: OrderedDict = OrderedDict()  # input shapes -> (graph, static inputs, static outputs)

    def _tensor(self, arr: np.ndarray):
        t = self._torch.from_numpy(arr).to(self.device, non_blocking=True)
        if t.is_floating_point():
            t = t.to(self.dtype)
        if t.ndim == 4 and self.device.type == "cuda":
            t = t.contiguous(memory_format=self._torch.channels_last)
        return t

    def _forward(self, tensors: list) -> list:
        out = self.module(*tensors)
        if isinstance(out, dict):
            return [out[n] for n in self.output_names]
        out = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(out) != len(self.output_names):
            raise MexError(f"{self.path}: module returned {len(out)} outputs, metadata names {self.output_names}")
        return out

    def _capture(self, tensors: list):
        torch = self._torch
        static = [t.clone() for t in tensors]
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):  # warm-up off the capture stream, as torch.cuda.graph requires
            for _ in range(2):
                self._forward(static)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outs = self._forward(static)
        return graph, static, outs

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            tensors = [self._tensor(feeds[n]) for n in self.input_names]
            if not self.cuda_graphs:
                outs = self._forward(tensors)
            else:
                key = tuple(tuple(t.shape) for t in tensors)
                if key not in self.graphs:
                    if len(self.graphs) >= MAX_GRAPHS:
                        self.graphs.popitem(last=False)
                    try:
                        self.graphs[key] = self._capture(tensors)
                    except RuntimeError as e:  # an op that cannot be captured: stay eager, say so
                        self.cuda_graphs, self.name = False, self.name + "-eager"
                        self.why += f"; CUDA graph capture failed ({str(e).splitlines()[0]})"
                        return self.run(feeds)
                self.graphs.move_to_end(key)
                graph, static, outs = self.graphs[key]
                for dst, src in zip(static, tensors):
                    dst.copy_(src)
                graph.replay()
            return {n: o.float().cpu().numpy() for n, o in zip(self.output_names, outs)}


def load(artifact: Artifact, device: str = "cpu", **opts) -> TorchEngine:
    return TorchEngine(artifact, device, **opts)
