"""Memory that happens by itself: an assistant's lifecycle hooks (session start, prompts, tool
calls, turn and session ends) followed, captured into memory and answered with context."""
