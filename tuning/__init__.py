"""The engine: fine-tune and validate a model on the cases. Imports no Textual, and nothing here
imports torch at module level except the backends themselves (loaded lazily by name)."""
