"""Sink blocks: webhook, local file, email. They report ``error_status`` / ``message`` rather than failing the run."""
