"""apps.jazz: generate a jazz solo over any chord progression (`python -m apps.jazz generate`)."""
