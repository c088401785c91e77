"""Workflow blocks: fusion."""
