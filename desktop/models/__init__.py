"""Qt item models: the results grid and the library folders."""
