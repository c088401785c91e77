# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Track Class Lock: each track's class settles by vote and then stays, unless another class wins a long streak.

The reference's algorithm, per video:

- while a track is unlocked, each detection with confidence ≥ ``vote_confidence`` votes for its class; the track
  locks when the leader has ``min_votes`` and leads the runner-up by ``lead_margin``;
- a locked track keeps its class (and reports the mean confidence of the votes for it) until another class wins
  ``switch_after`` qualifying frames in a row;
- a new track id that appears where a recently lost locked track was (IoU ≥ ``reattach_iou`` within
  ``reattach_window`` frames) inherits its lock; tracks unseen for ``state_ttl`` frames are forgotten.

Bounded like the reference: 256 videos, 4,096 tracks per video, 256 classes per track.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import supervision as sv
from pydantic import Field, model_validator

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.data import CLASS_NAME_KEY, copy_detections
from argus.workflows.kinds import BOX_DETECTION_KINDS, FLOAT_ZERO_TO_ONE_KIND, IMAGE_KIND, INTEGER_KIND

MAX_TRACKED_VIDEOS = 256
MAX_TRACKS_PER_VIDEO = 4096
MAX_STATE_TTL = 1_000_000
MAX_REATTACH_CANDIDATES = 256
MAX_CLASSES_PER_TRACK = 256

_Count = Annotated[int, Field(ge=1)] | Selector(kind=[INTEGER_KIND])
_Share = Annotated[float, Field(ge=0.0, le=1.0)] | Selector(kind=[FLOAT_ZERO_TO_ONE_KIND])


class TrackClassLockManifest(BlockManifest):
    model_config = block_config(name="Track Class Lock", category="transformation",
                                description="Settle each track's class by vote and keep it stable.")
    type: Literal["roboflow_core/track_class_lock@v1"]
    image: Selector(kind=[IMAGE_KIND])
    detections: Selector(kind=list(BOX_DETECTION_KINDS))
    min_votes: _Count = 10
    vote_confidence: _Share = 0.8
    lead_margin: Annotated[int, Field(ge=0)] | Selector(kind=[INTEGER_KIND]) = 3
    switch_after: _Count = 15
    state_ttl: Annotated[int, Field(ge=1, le=MAX_STATE_TTL)] | Selector(kind=[INTEGER_KIND]) = 300
    reattach_window: Annotated[int, Field(ge=0)] | Selector(kind=[INTEGER_KIND]) = 30
    reattach_iou: _Share = 0.3

    @model_validator(mode="after")
    def _reattach_within_ttl(self) -> TrackClassLockManifest:
        if isinstance(self.state_ttl, int) and isinstance(self.reattach_window, int) \
                and self.reattach_window > self.state_ttl:
            raise ValueError("reattach_window must not exceed state_ttl: lost tracks are forgotten after state_ttl "
                             "frames, so they could never be re-attached")
        return self

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="tracked_detections", kind=list(BOX_DETECTION_KINDS))]


@dataclass
class _Track:
    last_seen: int
    votes: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    confidence_sum: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    class_ids: dict[str, int] = field(default_factory=dict)
    locked: str | None = None
    challenger: str | None = None
    streak: int = 0
    streak_confidence: float = 0.0
    last_xyxy: np.ndarray | None = None

    def remember_class_id(self, name: str, class_id: int) -> None:
        if name not in self.class_ids and len(self.class_ids) >= MAX_CLASSES_PER_TRACK:
            referenced = set(self.votes) | {self.locked, self.challenger, name}
            for stale in [k for k in self.class_ids if k not in referenced]:
                del self.class_ids[stale]
        self.class_ids[name] = class_id

    def end_streak(self) -> None:
        self.challenger, self.streak, self.streak_confidence = None, 0, 0.0


@dataclass
class _Video:
    frame: int = 0
    tracks: dict[int, _Track] = field(default_factory=dict)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = float(width * height)
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


class TrackClassLockBlockV1(Block):
    manifest_class = TrackClassLockManifest
    stateful = True
    max_videos = MAX_TRACKED_VIDEOS

    def run(self, image: Any, detections: sv.Detections, min_votes: int = 10, vote_confidence: float = 0.8,
            lead_margin: int = 3, switch_after: int = 15, state_ttl: int = 300, reattach_window: int = 30,
            reattach_iou: float = 0.3) -> dict[str, Any]:
        _check(min_votes, vote_confidence, lead_margin, switch_after, state_ttl, reattach_window, reattach_iou)
        if len(detections) and detections.tracker_id is None:
            raise InvalidInputError("track_class_lock needs tracked detections (put a tracker step first)")
        video: _Video = self.video_state(image.video_metadata.video_identifier, _Video)
        video.frame += 1
        out = copy_detections(detections)
        n = len(out)
        locked = np.zeros(n, dtype=bool)
        if out.confidence is None and n:
            out.confidence = np.ones(n, dtype=np.float32)
        names = out.data.get(CLASS_NAME_KEY)
        if names is not None:
            names = np.asarray(names).astype(object)
            out.data[CLASS_NAME_KEY] = names
        active = {int(t) for t in out.tracker_id if t is not None and int(t) >= 0} if out.tracker_id is not None \
            else set()
        lost = _lost_locked_tracks(video, reattach_window, active)
        for i in range(n):
            tid = out.tracker_id[i]  # type: ignore[index]
            if tid is None or int(tid) < 0:
                continue
            tid = int(tid)
            if tid not in video.tracks and lost:
                best = max(((k, _iou(out.xyxy[i], t.last_xyxy)) for k, (_, t) in enumerate(lost)  # type: ignore[arg-type]
                            ), key=lambda pair: pair[1], default=None)
                if best is not None and best[1] >= reattach_iou and best[1] > 0:
                    video.tracks[tid] = video.tracks.pop(lost.pop(best[0])[0])
            track = video.tracks.setdefault(tid, _Track(last_seen=video.frame))
            track.last_seen, track.last_xyxy = video.frame, np.array(out.xyxy[i], copy=True)
            if names is not None:
                name = str(names[i])
            elif out.class_id is not None:
                name = str(out.class_id[i])
            else:
                continue
            confidence = float(out.confidence[i]) if out.confidence is not None else 1.0
            _vote(track, name, confidence, confidence >= vote_confidence,
                  None if out.class_id is None else int(out.class_id[i]), min_votes, lead_margin, switch_after)
            if track.locked is not None:
                if names is not None:
                    names[i] = track.locked
                if out.class_id is not None and track.locked in track.class_ids:
                    out.class_id[i] = track.class_ids[track.locked]
                out.confidence[i] = min(1.0, track.confidence_sum[track.locked]  # type: ignore[index]
                                        / max(track.votes[track.locked], 1))
                locked[i] = True
        out.data["class_locked"] = locked
        for stale in [t for t, track in video.tracks.items() if video.frame - track.last_seen > state_ttl]:
            del video.tracks[stale]
        for extra in sorted(video.tracks, key=lambda t: video.tracks[t].last_seen)[
                :max(0, len(video.tracks) - MAX_TRACKS_PER_VIDEO)]:
            del video.tracks[extra]
        return {"tracked_detections": out}


def _check(min_votes: int, vote_confidence: float, lead_margin: int, switch_after: int, state_ttl: int,
           reattach_window: int, reattach_iou: float) -> None:
    """The manifest's bounds, for values that came from selectors at run time."""
    problems = [text for bad, text in (
        (min_votes < 1, f"min_votes must be at least 1, not {min_votes}"),
        (not 0 <= vote_confidence <= 1, f"vote_confidence must be within [0, 1], not {vote_confidence}"),
        (lead_margin < 0, f"lead_margin must be at least 0, not {lead_margin}"),
        (switch_after < 1, f"switch_after must be at least 1, not {switch_after}"),
        (not 1 <= state_ttl <= MAX_STATE_TTL, f"state_ttl must be from 1 to {MAX_STATE_TTL}, not {state_ttl}"),
        (reattach_window < 0, f"reattach_window must be at least 0, not {reattach_window}"),
        (not 0 <= reattach_iou <= 1, f"reattach_iou must be within [0, 1], not {reattach_iou}"),
        (reattach_window > state_ttl, f"reattach_window ({reattach_window}) must not exceed state_ttl ({state_ttl})"),
    ) if bad]
    if problems:
        raise InvalidInputError("; ".join(problems))


def _lost_locked_tracks(video: _Video, window: int, active: set[int]) -> list[tuple[int, _Track]]:
    """Locked tracks missing from this frame for at most ``window`` frames: what a new track id may inherit."""
    if window <= 0:
        return []
    lost = [(tid, track) for tid, track in video.tracks.items()
            if tid not in active and track.locked is not None and track.last_xyxy is not None
            and 1 <= video.frame - track.last_seen <= window]
    if len(lost) > MAX_REATTACH_CANDIDATES:
        lost.sort(key=lambda pair: pair[1].last_seen, reverse=True)
        del lost[MAX_REATTACH_CANDIDATES:]
    return lost


def _vote(track: _Track, name: str, confidence: float, qualifying: bool, class_id: int | None, min_votes: int,
          lead_margin: int, switch_after: int) -> None:
    """One frame's detection of ``name`` for the track: a vote while unlocked, a challenge once locked."""
    if track.locked is None:
        if qualifying and (name in track.votes or len(track.votes) < MAX_CLASSES_PER_TRACK):
            track.votes[name] += 1
            track.confidence_sum[name] += confidence
            if class_id is not None:
                track.remember_class_id(name, class_id)
        if track.votes:
            ranked = sorted(track.votes.items(), key=lambda kv: kv[1], reverse=True)[:2]
            leader, leader_votes = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0
            if leader_votes >= min_votes and leader_votes - runner_up >= lead_margin:
                track.locked = leader
    elif qualifying and name != track.locked:
        if name == track.challenger:
            track.streak += 1
            track.streak_confidence += confidence
        else:
            track.challenger, track.streak, track.streak_confidence = name, 1, confidence
            if class_id is not None:
                track.remember_class_id(name, class_id)
        if track.streak >= switch_after:
            winner = track.challenger
            assert winner is not None
            track.locked = winner
            track.votes = defaultdict(int, {winner: track.streak})
            track.confidence_sum = defaultdict(float, {winner: track.streak_confidence})
            track.end_streak()
    else:
        track.end_streak()
