"""Looking after a store: erasure, re-embedding, export and import, counts and health."""
