"""Analytics and video blocks: tracking, line counting, time in zone, velocity, path deviation.

They keep per-video state (``Block.video_state``) keyed by the frame's video identifier, so one
compiled workflow runs a video frame by frame.
"""
