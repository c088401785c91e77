"""Workflow blocks: models."""
