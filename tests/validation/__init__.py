"""Tests of ntrader.validation."""
