"""Visualization blocks: supervision annotators drawing detections, zones and lines on workflow images."""
