"""Parameter stability of a sweep's best combination and walk-forward efficiency."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stability:
    """How the metric falls off around the best combination: its grid neighbours (one step along
    one parameter, the others equal) and their mean relative to the best."""

    best: float
    neighbours: int
    neighbour_mean: float | None
    #: neighbour mean / best (1: a plateau; near 0 or negative: an isolated peak); None when
    #: undefined (no neighbours, or a best ≤ 0).
    ratio: float | None

    @property
    def falloff(self) -> float | None:
        return None if self.ratio is None else 1.0 - self.ratio

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "neighbours": self.neighbours,
            "neighbour_mean": self.neighbour_mean,
            "ratio": self.ratio,
            "falloff": self.falloff,
        }


def parameter_stability(
    grid: Mapping[str, Sequence[Any]],
    rows: Sequence[tuple[Mapping[str, Any], float | None]],
) -> Stability | None:
    """`rows`: (params, metric) of every combination screened; the best is the highest metric.

    Neighbours missing from the rows (excluded by a constraint) are skipped; undefined metrics
    (None) of present neighbours count as missing too.
    """
    names = [n for n in grid if len(grid[n]) > 1]
    position = {n: {v: i for i, v in enumerate(grid[n])} for n in names}
    table: dict[tuple[Any, ...], float] = {}
    for params, value in rows:
        if value is not None and math.isfinite(value):
            table[tuple(position[n][params[n]] for n in names)] = float(value)
    if not table:
        return None
    best_key = max(table, key=lambda k: table[k])
    best = table[best_key]
    values = []
    for axis in range(len(names)):
        for step in (-1, 1):
            key = list(best_key)
            key[axis] += step
            if tuple(key) in table:
                values.append(table[tuple(key)])
    mean = sum(values) / len(values) if values else None
    ratio = mean / best if mean is not None and best > 0 else None
    return Stability(best=best, neighbours=len(values), neighbour_mean=mean, ratio=ratio)


@dataclass(frozen=True)
class Efficiency:
    """Walk-forward efficiency: out-of-sample over in-sample performance, per fold and overall
    (mean out-of-sample over mean in-sample), on the same annualised metric."""

    folds: list[float | None]
    overall: float | None

    def to_json_dict(self) -> dict[str, Any]:
        return {"folds": self.folds, "overall": self.overall}


def walk_forward_efficiency(
    in_sample: Sequence[float | None], out_of_sample: Sequence[float | None]
) -> Efficiency:
    """Per fold OOS/IS (None when IS ≤ 0 or either is undefined); overall over the defined folds."""
    folds: list[float | None] = []
    pairs = []
    for i, o in zip(in_sample, out_of_sample, strict=True):
        if i is None or o is None or not (math.isfinite(i) and math.isfinite(o)):
            folds.append(None)
            continue
        pairs.append((i, o))
        folds.append(o / i if i > 0 else None)
    overall = None
    if pairs:
        mean_is = sum(p[0] for p in pairs) / len(pairs)
        mean_oos = sum(p[1] for p in pairs) / len(pairs)
        overall = mean_oos / mean_is if mean_is > 0 else None
    return Efficiency(folds=folds, overall=overall)
