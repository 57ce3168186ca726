"""Where work happens: the project scope of a directory, its git working tree, and the code a
memory is anchored to."""
