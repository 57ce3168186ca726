"""Embeddings: the offline default and the opt-in embedders, and the encoder the core uses."""
