"""Published snapshots: how a run's outputs become the immutable state readers open."""
