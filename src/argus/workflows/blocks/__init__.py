"""Workflow blocks, one module per block under ``<category>/``; see :mod:`argus.workflows.blocks.base`."""
