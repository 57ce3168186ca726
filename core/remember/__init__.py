"""Remember: new memories cleaned, checked, compared with what is stored (duplicates, new
versions of facts) and written (`pipeline` reads as its contents)."""
