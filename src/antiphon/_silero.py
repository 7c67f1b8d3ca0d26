"""Silero VAD v6 through onnxruntime, for short spans (private).

The bundled model (``models/silero_vad_v6.onnx``, MIT, see
``models/LICENSE.silero-vad``) takes 16 kHz audio in 32 ms chunks with 4 ms
of left context, runs its encoder over all chunks of a span in one batch and
carries its LSTM state through them, giving one speech probability per 32 ms.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .errors import MissingDependency

RATE = 16000
CHUNK = 512
CONTEXT = 64
MODEL = Path(__file__).with_name("models") / "silero_vad_v6.onnx"


@functools.lru_cache(maxsize=1)
def _session():
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - a core dependency
        exc = MissingDependency("the neural speech check", "core")
        exc.message = "the neural speech check needs onnxruntime, a core dependency: pip install onnxruntime"
        exc.args = (exc.message,)
        raise exc from None
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"], sess_options=opts)


def speech_probs(audio: np.ndarray) -> np.ndarray:
    """Speech probability per 32 ms chunk of a 16 kHz mono float32 signal."""
    return SpeechProbs().feed(audio)


class SpeechProbs:
    """Incremental speech probabilities: feed consecutive pieces of a signal.

    The model's LSTM state and the 4 ms chunk context carry from piece to
    piece, so feeding a signal in pieces gives the same probabilities as
    feeding it at once (pieces should be multiples of 512 samples).
    """

    def __init__(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def feed(self, audio: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32).ravel()
        if not len(audio):
            return np.zeros(0, np.float32)
        audio = np.pad(audio, (0, (-len(audio)) % CHUNK))
        chunks = audio.reshape(-1, CHUNK)
        context = np.empty((len(chunks), CONTEXT), np.float32)
        context[0] = self._context
        context[1:] = chunks[:-1, -CONTEXT:]
        batch = np.ascontiguousarray(np.concatenate([context, chunks], axis=1))
        out, self._h, self._c = _session().run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = chunks[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).ravel()
