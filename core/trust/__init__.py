"""What may enter memory and what memory may say: privacy (private parts and secrets kept
out), and provenance (where a memory came from, whether it tries to instruct the model)."""
