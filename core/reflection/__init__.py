"""Reflection: what is worth consolidating, who drafts it (the client's model, a configured
one, the calling assistant, or rules), and the optional language model."""
