"""Text as habitus reads it: normalised terms, code identifiers split, tokens counted."""
