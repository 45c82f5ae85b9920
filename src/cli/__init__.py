"""The seed plan's spelling, `python -m src.cli …`, kept as an alias of `ntrader`."""
