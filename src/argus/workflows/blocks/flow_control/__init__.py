"""Workflow blocks: flow_control."""
