"""Typed edges between memories: automatic on write, asked for by a caller, followed on
recall."""
