"""Trajectories: what an agent did for a task, step by step — the format (`model`), what an
action is (`actions`) and the reader of Claude Code session transcripts (`claude_code`)."""
