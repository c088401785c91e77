"""Endpoints: named, autoscaled deployments of a model (spec → store → controller → backend → router)."""
