"""Streaming per-frame features for voice activity detection (private).

Audio arrives in blocks of any length at :data:`RATE`; every 20 ms hop of
every channel gets one row of features, exactly as if the whole recording had
been framed at once (state carries across blocks, so block size never changes
a value). Features are kept as compact float32 arrays: 16 bytes per channel
per hop, about 23 MB for a four-hour stereo call.
"""

from __future__ import annotations

import numpy as np

RATE = 8000  #: analysis sample rate; telephone speech lives in 300-3400 Hz
HOP = 160  #: 20 ms
WIN = 256  #: 32 ms analysis window
NFFT = 256  #: no zero padding: the wrapped-around autocorrelation tail is small under the Hann window
LAG = 2  #: hops between the spectra compared for spectral persistence (40 ms)
PITCH_LAGS = (20, 100)  #: samples: 400 Hz down to 80 Hz
BAND = (300.0, 3600.0)  #: Hz; below 200 Hz is mains hum and handling noise
FLOOR_DB = -110.0  #: level reported for digital silence

_bins = np.fft.rfftfreq(NFFT, 1.0 / RATE)
_band = (_bins >= BAND[0]) & (_bins <= BAND[1])
_window = np.hanning(WIN + 1)[:-1].astype(np.float32)
_window64 = _window.astype(np.float64)
# A full-scale sine reads about 0 dB.
_norm = float(np.sum(_window) ** 2 / 4.0)
# Autocorrelation of the window itself, to undo its taper in the voicing measure.
_wac = np.correlate(_window, _window, mode="full")[WIN - 1 :]
_wac = (_wac / _wac[0]).astype(np.float32)
_pitch = slice(*PITCH_LAGS)
_lo, _hi = int(np.flatnonzero(_band)[0]), int(np.flatnonzero(_band)[-1]) + 1
_box_freqs = _bins[_lo + 2 : _hi - 2]
_near = np.arange(-4, 5)
# Pitch lags at 4 kHz (half the 8 kHz lags) and the window-taper correction.
_pitch4 = slice(PITCH_LAGS[0] // 2, PITCH_LAGS[1] // 2)
_iwac4 = (1.0 / _wac[PITCH_LAGS[0] : PITCH_LAGS[1] : 2]).astype(np.float32)
_DTMF_ROWS = np.array([697.0, 770.0, 852.0, 941.0])
_DTMF_COLS = np.array([1209.0, 1336.0, 1477.0, 1633.0])


class FeatureStream:
    """Frame a two-channel signal hop by hop and compute its features.

    ``level`` - band energy 200-3600 Hz in dB re full scale;
    ``voicing`` - peak of the normalised autocorrelation at pitch lags
      (80-400 Hz) of the band-limited signal: near 1 for voiced speech,
      low for noise, breath and clicks;
    ``purity`` - share of band energy within two bins of the two strongest
      spectral peaks: 1.0 for DTMF and call-progress tones (narrow-band
      speech reaches it too in some hops, so it is judged per utterance);
    ``dtmf`` - the hop is a DTMF digit (a pure pair, one row and one column
      tone, as a touch-tone detector decides);
    ``persist`` - cosine similarity of this hop's band spectrum with the one
      :data:`LAG` hops earlier (sustained notes and tones stay near 1).
    """

    def __init__(self, channels: int = 2):
        self.channels = channels
        # Centre each 32 ms window on its 20 ms hop.
        self._buf = np.zeros(((WIN - HOP) // 2, channels), dtype=np.float32)
        self._prev = np.zeros((channels, LAG, _hi - _lo), dtype=np.float32)
        self._level: list[np.ndarray] = []
        self._voicing: list[np.ndarray] = []
        self._persist: list[np.ndarray] = []
        self._purity: list[np.ndarray] = []
        self._dtmf: list[np.ndarray] = []
        self.samples = 0

    def feed(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32)
        self.samples += len(block)
        self._buf = np.concatenate([self._buf, block]) if len(self._buf) else block
        self._consume()

    def finish(self) -> None:
        """Flush: pad with zeros so every hop of the input gets its frame."""
        n_hops = -(-self.samples // HOP)
        done = sum(len(x) for x in self._level)
        need = n_hops - done
        if need > 0:
            pad = (need - 1) * HOP + WIN - len(self._buf)
            if pad > 0:
                self._buf = np.concatenate([self._buf, np.zeros((pad, self.channels), np.float32)])
            self._consume(limit=need)

    def _consume(self, limit: int | None = None) -> None:
        n = 0 if len(self._buf) < WIN else (len(self._buf) - WIN) // HOP + 1
        if limit is not None:
            n = min(n, limit)
        if n <= 0:
            return
        # Channel-major frames (channels, n, WIN) over a contiguous copy.
        chans = np.ascontiguousarray(self._buf[: (n - 1) * HOP + WIN].T)
        st = chans.strides
        frames = np.lib.stride_tricks.as_strided(
            chans, shape=(self.channels, n, WIN), strides=(st[0], st[1] * HOP, st[1])
        )
        # numpy's pocketfft is several times faster in float64 than float32;
        # everything after the two transforms runs in float32.
        spec = np.fft.rfft(frames * _window64, n=NFFT, axis=-1)
        full = spec.real * spec.real + spec.imag * spec.imag
        full[..., :_lo] = 0.0
        full[..., _hi:] = 0.0
        power = full[..., _lo:_hi].astype(np.float32)
        total = power.sum(axis=-1)
        level = 10.0 * np.log10(np.maximum(total / _norm, 10 ** (FLOOR_DB / 10)))
        # Autocorrelation of the 200-2000 Hz part at 4 kHz resolution (the
        # band where voicing shows; half the cost of the full band).
        ac = np.fft.irfft(full[..., : NFFT // 4 + 1], n=NFFT // 2, axis=-1)
        r = (ac[..., _pitch4] * _iwac4).max(axis=-1)
        voicing = np.where(total > 0, np.minimum(r / np.maximum(ac[..., 0], 1e-30), 1.0), 0.0)
        # Two-tone purity: share of band energy in the two strongest
        # non-overlapping 5-bin windows (DTMF, ringback, dial, fax tones ~1).
        box = power[..., :-4] + power[..., 1:-3] + power[..., 2:-2] + power[..., 3:-1] + power[..., 4:]
        k1 = box.argmax(axis=-1)
        e1 = np.take_along_axis(box, k1[..., None], -1)[..., 0]
        rest = box.copy()
        np.put_along_axis(rest, np.clip(k1[..., None] + _near, 0, box.shape[-1] - 1), 0.0, axis=-1)
        k2 = rest.argmax(axis=-1)
        e2 = np.take_along_axis(rest, k2[..., None], -1)[..., 0]
        purity = np.where(total > 0, (e1 + e2) / np.maximum(total, 1e-30), 0.0)
        # DTMF: a pure pair with one peak on a row and one on a column tone.
        f1, f2 = _box_freqs[k1], _box_freqs[k2]
        flo, fhi = np.minimum(f1, f2), np.maximum(f1, f2)
        dtmf = ((purity >= 0.95)
                & (np.abs(flo[..., None] - _DTMF_ROWS).min(axis=-1) <= 20.0)
                & (np.abs(fhi[..., None] - _DTMF_COLS).min(axis=-1) <= 20.0))
        # Spectral persistence against the spectrum LAG hops earlier.
        mag = np.sqrt(power)
        allmag = np.concatenate([self._prev, mag], axis=1)
        a, b = allmag[:, LAG:], allmag[:, :-LAG]
        num = np.einsum("cnk,cnk->cn", a, b)
        sq = np.einsum("cnk,cnk->cn", allmag, allmag)
        den = np.sqrt(sq[:, LAG:] * sq[:, :-LAG])
        persist = np.where(den > 0, num / np.maximum(den, 1e-30), 0.0)
        self._prev = allmag[:, -LAG:].copy()
        self._level.append(level.T.astype(np.float32))
        self._voicing.append(voicing.T.astype(np.float32))
        self._purity.append(purity.T.astype(np.float32))
        self._dtmf.append(dtmf.T)
        self._persist.append(persist.T.astype(np.float32))
        self._buf = self._buf[n * HOP :].copy()

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-hop features, each shaped ``(hops, channels)``."""
        def cat(parts):
            return np.concatenate(parts) if parts else np.zeros((0, self.channels), np.float32)

        return {"level": cat(self._level), "voicing": cat(self._voicing), "persist": cat(self._persist),
                "purity": cat(self._purity), "dtmf": cat(self._dtmf).astype(bool)}
