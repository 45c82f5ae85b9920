"""ntrader."""
