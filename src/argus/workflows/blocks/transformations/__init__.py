"""Workflow blocks: transformations."""
