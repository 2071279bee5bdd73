"""straw's command line. Each command is a thin face over repo_store / tuning library calls."""
