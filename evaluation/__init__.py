"""Evaluations on public data: recall on LoCoMo, procedures on ALFWorld. Not used at run time."""
