"""Tests of ntrader.ui: its HTTP API on SQLite and PostgreSQL, and a browser flow in Chromium."""

import warnings

# Starlette 1.x suggests httpx2 for its TestClient; httpx (pinned in dev) works and is what we test with.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
