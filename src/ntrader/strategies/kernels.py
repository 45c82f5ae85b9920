"""Compiled (numba) indicator loops the built-ins' vectorized signals share."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def sma_crosses(sum_fast, sum_slow, fast, slow):  # type: ignore[no-untyped-def]
    """Bars where SMA(fast) crosses above / below SMA(slow), from exact integer rolling sums.

    fast mean > slow mean  ⟺  sum_fast × slow > sum_slow × fast, exactly in cents; an exact tie is
    "not above" (the rule `SMACrossover` states and applies in the same integers).
    """
    n = len(sum_fast)
    up = np.empty(n, dtype=np.int64)
    down = np.empty(n, dtype=np.int64)
    n_up = 0
    n_down = 0
    was_above = False
    for i in range(slow - 1, n):
        above = sum_fast[i] * slow - sum_slow[i] * fast > 0
        if i >= slow:
            if above and not was_above:
                up[n_up] = i
                n_up += 1
            elif was_above and not above:
                down[n_down] = i
                n_down += 1
        was_above = above
    return up[:n_up].copy(), down[:n_down].copy()


@numba.njit(cache=True, nogil=True)
def wilder_rsi(close_f, period):  # type: ignore[no-untyped-def]
    """`WilderRSI.update` over every close, with its exact float operations (NaN while undefined)."""
    n = len(close_f)
    out = np.full(n, np.nan)
    gain_avg = 0.0
    loss_avg = 0.0
    for i in range(1, n):
        change = close_f[i] - close_f[i - 1]
        gain = max(change, 0.0)
        loss = max(-change, 0.0)
        if i <= period:
            gain_avg += gain / period
            loss_avg += loss / period
            if i < period:
                continue
        else:
            gain_avg = (gain_avg * (period - 1) + gain) / period
            loss_avg = (loss_avg * (period - 1) + loss) / period
        if loss_avg == 0.0:
            out[i] = 100.0 if gain_avg > 0 else 50.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + gain_avg / loss_avg)
    return out
