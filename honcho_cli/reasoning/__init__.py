"""Model backends, the model catalog and fetching; prompts and reasoning build on these."""
