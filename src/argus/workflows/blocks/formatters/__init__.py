"""Workflow blocks: formatters."""
