"""Sampling blocks: which frames are unusual (identify_outliers) or mark a change (identify_changes)."""
