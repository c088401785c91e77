"""Math blocks."""
