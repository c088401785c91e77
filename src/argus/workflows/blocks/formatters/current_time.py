# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Current Time: now, in one of the reference's curated time zones, as a timestamp and as text."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argus.errors import InvalidInputError
from argus.workflows.blocks.base import Block, BlockManifest, OutputDefinition, Selector, block_config
from argus.workflows.kinds import STRING_KIND, TIMESTAMP_KIND

# The reference's dropdown: one zone per offset band (its labels are in the reference's block).
TIMEZONES = (
    "Etc/GMT+12", "Pacific/Pago_Pago", "Pacific/Honolulu", "Pacific/Marquesas", "America/Anchorage", "Pacific/Gambier",
    "America/Los_Angeles", "America/Denver", "America/Phoenix", "America/Chicago", "America/Mexico_City",
    "America/New_York", "America/Bogota", "America/Halifax", "America/Puerto_Rico", "America/St_Johns",
    "America/Sao_Paulo", "Atlantic/South_Georgia", "Atlantic/Azores", "Atlantic/Cape_Verde", "UTC", "Europe/London",
    "Europe/Berlin", "Africa/Lagos", "Europe/Kyiv", "Africa/Cairo", "Africa/Johannesburg", "Europe/Moscow",
    "Europe/Istanbul", "Africa/Nairobi", "Asia/Tehran", "Asia/Dubai", "Asia/Kabul", "Asia/Karachi", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Dhaka", "Asia/Yangon", "Asia/Bangkok", "Asia/Shanghai", "Australia/Eucla", "Asia/Tokyo",
    "Australia/Darwin", "Australia/Adelaide", "Australia/Sydney", "Pacific/Port_Moresby", "Australia/Lord_Howe",
    "Pacific/Guadalcanal", "Pacific/Norfolk", "Pacific/Fiji", "Pacific/Auckland", "Pacific/Chatham",
    "Pacific/Tongatapu", "Pacific/Apia", "Pacific/Kiritimati")
TimeZoneName = Literal[TIMEZONES]  # type: ignore[valid-type]


class CurrentTimeManifest(BlockManifest):
    model_config = block_config(name="Current Time", category="formatter",
                                description="The current date and time in a chosen time zone.")
    type: Literal["roboflow_core/current_time@v1"]
    timezone: TimeZoneName | Selector(kind=[STRING_KIND]) = "UTC"

    @classmethod
    def describe_outputs(cls) -> list[OutputDefinition]:
        return [OutputDefinition(name="timestamp", kind=[TIMESTAMP_KIND]),
                OutputDefinition(name="iso_string", kind=[STRING_KIND]),
                OutputDefinition(name="date", kind=[STRING_KIND]), OutputDefinition(name="time", kind=[STRING_KIND])]


class CurrentTimeBlockV1(Block):
    manifest_class = CurrentTimeManifest

    def run(self, timezone: str = "UTC") -> dict[str, Any]:
        if timezone not in TIMEZONES:
            raise InvalidInputError(f"timezone {timezone!r} is not one of the block's zones: {', '.join(TIMEZONES)}")
        try:
            now = datetime.now(ZoneInfo(timezone))
        except ZoneInfoNotFoundError:  # a system without that zone in its tz database (and no tzdata package)
            raise InvalidInputError(f"timezone {timezone!r} is unknown to this system's time zone database") from None
        return {"timestamp": now, "iso_string": now.isoformat(), "date": now.strftime("%Y-%m-%d"),
                "time": now.strftime("%H:%M:%S")}
