"""Argus: self-hosted computer-vision inference."""
