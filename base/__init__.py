"""The foundation every layer stands on, depending on no other part of habitus: the error
tree, the user's directories and whether a process runs."""
