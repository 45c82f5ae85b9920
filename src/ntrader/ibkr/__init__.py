"""Interactive Brokers: pacing, request planning, client wrapper and a fake gateway."""
