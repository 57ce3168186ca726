"""Memory over time: versions of facts, the journal of every operation, and undo."""
