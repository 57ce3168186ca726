"""Recall: a query parsed, searched by its legs (words and meaning), fused into one ranking,
widened by history and links, and packed into an answer (`pipeline` reads as its contents)."""
