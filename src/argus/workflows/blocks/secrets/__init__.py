"""Secrets providers: blocks that hand workflow steps a secret without it being written into the definition."""
