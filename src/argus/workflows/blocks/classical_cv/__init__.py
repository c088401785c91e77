"""Classical computer-vision blocks (OpenCV), with the reference's manifests and OpenCV calls."""
