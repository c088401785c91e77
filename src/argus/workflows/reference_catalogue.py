"""Block type ids (and legacy aliases) of the reference's block catalogue (Roboflow Inference 1.8.3).

A step whose type is listed here but that no Argus block implements is answered with 501 (not
implemented), with the reason when one is known (:data:`NOT_IMPLEMENTED_REASONS`); any other unknown type
is a 400 (a typo or a block from elsewhere).
"""

from __future__ import annotations

from importlib.resources import files


def catalogue_rows() -> list[tuple[str, str, tuple[str, ...]]]:
    """The open catalogue as (category, name, type ids: the canonical one first, then its aliases), read from the
    packaged listing (a copy of ``shared/specs/workflow-blocks.tsv``)."""
    rows = []
    for line in files("argus.workflows").joinpath("workflow_blocks.tsv").read_text().splitlines():
        category, name, ids, *_ = line.split("\t")
        rows.append((category, name, tuple(i.strip() for i in ids.split(","))))
    return rows


_OPEN_CATALOGUE_TYPES = frozenset(block_type for _, _, ids in catalogue_rows() for block_type in ids)

ENTERPRISE_BLOCK_TYPES: frozenset[str] = frozenset({
    'mqtt_writer_sink@v1',
    'roboflow_core/microsoft_sql_server_sink@v1',
    'roboflow_core/modbus_tcp@v1',
    'roboflow_core/plc_reader@v1',
    'roboflow_core/plc_writer@v1',
    'roboflow_core/postgresql_sink@v1',
    'roboflow_core/sinks@v1',
    'roboflow_enterprise/event_writer_sink@v1',
    'roboflow_enterprise/kafka_consumer@v1',
    'roboflow_enterprise/kafka_producer_sink@v1',
    'roboflow_enterprise/mqtt_reader@v1',
    'roboflow_enterprise/mqtt_writer_sink@v1',
    'roboflow_enterprise/mqtt_writer_sink@v2',
    'roboflow_enterprise/opc_reader@v1',
    'roboflow_enterprise/opc_writer_sink@v1',
})
"""The reference's enterprise blocks (industrial and message-bus sinks and readers), loaded only in its
enterprise builds and absent from the open catalogue listing (specs/workflow-blocks.tsv)."""

NOT_IMPLEMENTED_REASONS: dict[str, str] = {
    **dict.fromkeys(ENTERPRISE_BLOCK_TYPES, "an enterprise block of the reference (PLC, OPC, SQL, Kafka or MQTT "
                                            "connectors), not part of Argus"),
    'roboflow_core/segment_anything3_3d_objects@v1': "SAM 3D needs weights that cannot be had offline",
    **dict.fromkeys(("roboflow_core/trackers_ocsort@v1", "roboflow_core/trackers_botsort@v1"),
                    "OC-SORT and BoT-SORT come with Roboflow's trackers 2.2+, which requires the non-headless OpenCV "
                    "build (libGL on the server); Argus runs on the headless one. Use trackers_bytetrack or "
                    "trackers_sort"),
    'roboflow_core/rich_label_visualization@v1': "draws with the reference's TrueType fonts, which it downloads at run "
                                                  "time; Argus ships no fonts yet (label_visualization@v2 draws the same "
                                                  "labels with OpenCV's font)",
    'roboflow_core/vlm_as_detector@v2': "not implemented yet: v2 reads nine model families' box formats; "
                                        "vlm_as_detector@v1 reads Gemini, Claude and Florence-2 answers",
    'roboflow_core/camera_focus@v2': "not implemented yet: camera_focus@v1 gives Brenner's focus measure",
    'roboflow_core/detections_list_rollup@v1': "not implemented yet: merging per-crop detections back into their "
                                               "parent image",
    'roboflow_core/anomaly_heatmap_visualization@v1': "draws the anomaly map of the Anomaly Detection Model, a model "
                                                      "Argus does not run (its weights are not available offline)",
}
"""Why a catalogue type is not implemented, where that is known."""

REFERENCE_BLOCK_TYPES: frozenset[str] = _OPEN_CATALOGUE_TYPES | frozenset(NOT_IMPLEMENTED_REASONS)
"""Every type id of the catalogue, open and enterprise."""
