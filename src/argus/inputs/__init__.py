"""Image inputs as clients send them: request image objects, URLs (with an SSRF guard), numpy payloads."""
