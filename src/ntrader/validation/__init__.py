"""Is this edge real? Statistics that tell a real edge from the luckiest of many trials.

Pure functions over numpy arrays: probabilistic and deflated Sharpe ratios (`sharpe`), the
probability of backtest overfitting by CSCV (`pbo`), Monte Carlo resamples of a run (`montecarlo`),
parameter stability and walk-forward efficiency (`stability`), and the sweep gate (`verdict`).
"""

from ntrader.validation.montecarlo import (
    Bootstrap,
    RandomEntry,
    Reshuffle,
    Spread,
    bootstrap_returns,
    path_figures,
    random_entry_baseline,
    reshuffle_trades,
    stationary_bootstrap_indices,
    trade_returns,
)
from ntrader.validation.pbo import PBOResult, probability_of_backtest_overfitting
from ntrader.validation.sharpe import (
    Deflated,
    Moments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    moments,
    probabilistic_sharpe_ratio,
)
from ntrader.validation.stability import (
    Efficiency,
    Stability,
    parameter_stability,
    walk_forward_efficiency,
)
from ntrader.validation.verdict import (
    DSR_THRESHOLD,
    PBO_LIMIT,
    SweepEvidence,
    sentence,
    significant,
    sweep_verdict,
)

__all__ = [
    "DSR_THRESHOLD",
    "PBO_LIMIT",
    "Bootstrap",
    "Deflated",
    "Efficiency",
    "Moments",
    "PBOResult",
    "RandomEntry",
    "Reshuffle",
    "Spread",
    "Stability",
    "SweepEvidence",
    "bootstrap_returns",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "moments",
    "parameter_stability",
    "path_figures",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "random_entry_baseline",
    "reshuffle_trades",
    "sentence",
    "significant",
    "stationary_bootstrap_indices",
    "sweep_verdict",
    "trade_returns",
    "walk_forward_efficiency",
]
