"""Sink blocks against real local servers: an HTTP server for the webhook, an SMTP server for e-mail."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import supervision as sv
from aiosmtpd.controller import Controller

from argus.settings import Settings
from argus.workflows import WorkflowContext, compile_workflow


class Recorder:
    """A loopback HTTP server answering with the queued statuses (then 200), recording every request."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.requests.append({"method": self.command, "path": self.path, "body": body,
                                          "headers": dict(self.headers)})
                time.sleep(recorder.delay)
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    servers: list[Recorder] = []

    def make(statuses: list[int] | None = None, delay: float = 0.0) -> Recorder:
        servers.append(Recorder(statuses, delay))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def context(tmp_path: Path, **settings: Any) -> WorkflowContext:
    return WorkflowContext(settings=Settings(home=tmp_path / "home", **settings))


def dets() -> sv.Detections:
    return sv.Detections(xyxy=np.array([[1, 2, 11, 22], [5, 5, 9, 9]], dtype=float), confidence=np.array([0.9, 0.8]),
                         class_id=np.array([0, 1]), data={"class_name": np.array(["cat", "dog"])})


def webhook_workflow(url: str, **fields: Any) -> dict:
    step = {"type": "roboflow_core/webhook_sink@v1", "name": "hook", "url": url, "fire_and_forget": False,
            "cooldown_seconds": 0, "retry_backoff_seconds": 0.01,
            "json_payload": {"predictions": "$inputs.dets", "count": "$inputs.dets", "site": "$inputs.site"},
            "json_payload_operations": {"count": [{"type": "SequenceLength"}]}, **fields}
    return {"version": "1.0",
            "inputs": [{"type": "WorkflowBatchInput", "name": "dets", "kind": ["object_detection_prediction"]},
                       {"type": "WorkflowParameter", "name": "site", "default_value": "gate-3"},
                       {"type": "WorkflowParameter", "name": "off", "default_value": False}],
            "steps": [step],
            "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.hook.*"}]}


def run_hook(ctx: WorkflowContext, definition: dict, **inputs: Any) -> dict[str, Any]:
    return compile_workflow(definition, ctx).run({"dets": [dets()], **inputs}).outputs[0]["out"]


def test_webhook_refuses_loopback_urls_by_default(tmp_path, recorder) -> None:
    server = recorder()
    out = run_hook(context(tmp_path), webhook_workflow(server.url))
    assert out["error_status"] is True
    assert "ARGUS_ALLOW_PRIVATE_WEBHOOK_URLS" in out["message"] and "Webhook URL" in out["message"]
    assert server.requests == []


def test_webhook_retries_server_errors_then_delivers_the_serialised_payload(tmp_path, recorder) -> None:
    server = recorder([503, 500])
    out = run_hook(context(tmp_path, allow_private_webhook_urls=True), webhook_workflow(server.url))
    assert out["error_status"] is False and "attempts: 3" in out["message"]
    assert len(server.requests) == 3
    payload = json.loads(server.requests[-1]["body"])
    assert payload["count"] == 2 and payload["site"] == "gate-3"
    assert [(p["class"], p["x"], p["y"], p["width"], p["height"]) for p in payload["predictions"]["predictions"]] == [
        ("cat", 6.0, 12.0, 10.0, 20.0), ("dog", 7.0, 7.0, 4.0, 4.0)]


def test_webhook_gives_up_after_max_retries_and_does_not_retry_client_errors(tmp_path, recorder) -> None:
    failing = recorder([500] * 10)
    out = run_hook(context(tmp_path, allow_private_webhook_urls=True),
                   webhook_workflow(failing.url, max_retries=1))
    assert out["error_status"] is True and "after 2 attempt(s): HTTP 500" in out["message"]
    assert len(failing.requests) == 2
    missing = recorder([404])
    out = run_hook(context(tmp_path, allow_private_webhook_urls=True), webhook_workflow(missing.url))
    assert out["error_status"] is True and "after 1 attempt(s): HTTP 404" in out["message"]
    assert len(missing.requests) == 1


def test_webhook_timeout_is_retried_and_reported(tmp_path, recorder) -> None:
    slow = recorder(delay=1.0)
    out = run_hook(context(tmp_path, allow_private_webhook_urls=True),
                   webhook_workflow(slow.url, request_timeout=0.2, max_retries=1))
    assert out["error_status"] is True and "ReadTimeout" in out["message"]
    assert len(slow.requests) == 2


def test_webhook_fire_and_forget_cooldown_and_disable(tmp_path, recorder) -> None:
    server = recorder()
    ctx = context(tmp_path, allow_private_webhook_urls=True)
    compiled = compile_workflow(webhook_workflow(server.url, fire_and_forget=True, cooldown_seconds=3600,
                                                 disable_sink="$inputs.off"), ctx)
    first = compiled.run({"dets": [dets()]}).outputs[0]["out"]
    assert first == {"error_status": False, "throttling_status": False,
                     "message": "Notification sent in the background task"}
    delivered = compiled.blocks["hook"].pending[0].result(timeout=30)
    assert delivered == (False, "Notification sent successfully (HTTP 200, attempts: 1)")
    second = compiled.run({"dets": [dets()]}).outputs[0]["out"]
    assert second["throttling_status"] is True and second["message"] == "Sink cooldown applies"
    disabled = compiled.run({"dets": [dets()], "off": True}).outputs[0]["out"]
    assert disabled["message"] == "Sink was disabled by parameter `disable_sink`"
    assert len(server.requests) == 1


def file_sink_workflow(**fields: Any) -> dict:
    step = {"type": "roboflow_core/local_file_sink@v1", "name": "sink", "content": "$inputs.content",
            "output_mode": "append_log", "target_directory": "reports", **fields}
    return {"version": "1.0", "inputs": [{"type": "WorkflowParameter", "name": "content"}], "steps": [step],
            "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.sink.*"}]}


def test_file_sink_appends_csv_and_rotates_by_max_entries(tmp_path) -> None:
    ctx = context(tmp_path)
    compiled = compile_workflow(file_sink_workflow(max_entries_per_file=2), ctx)
    for i in range(5):
        out = compiled.run({"content": f"frame,count\n{i},{i * 10}\n"}).outputs[0]["out"]
        assert out["error_status"] is False
    files = sorted((tmp_path / "home" / "sink_outputs" / "reports").glob("workflow_output_*.csv"))
    assert [f.read_text() for f in files] == ["frame,count\n0,0\n1,10\n", "frame,count\n2,20\n3,30\n",
                                              "frame,count\n4,40\n"]


def test_file_sink_json_lines_and_separate_files(tmp_path) -> None:
    ctx = context(tmp_path, workflow_sink_dir=tmp_path / "sinks")
    appended = compile_workflow(file_sink_workflow(file_type="json", file_name_prefix="log"), ctx)
    for i in range(3):
        appended.run({"content": json.dumps({"i": i, "nested": {"a": [1, 2]}}, indent=2)})
    (log,) = (tmp_path / "sinks" / "reports").glob("log_*.jsonl")
    assert [json.loads(line)["i"] for line in log.read_text().splitlines()] == [0, 1, 2]
    separate = compile_workflow(file_sink_workflow(file_type="txt", output_mode="separate_files",
                                                   file_name_prefix="one"), ctx)
    for i in range(3):
        separate.run({"content": f"entry {i}"})
    files = sorted((tmp_path / "sinks" / "reports").glob("one_*.txt"))
    assert [f.read_text() for f in files] == ["entry 0\n", "entry 1\n", "entry 2\n"]


@pytest.mark.parametrize("target", ["../escape", "/etc", "reports/../../escape"])
def test_file_sink_refuses_directories_outside_the_sink_dir(tmp_path, target) -> None:
    ctx = context(tmp_path, workflow_sink_dir=tmp_path / "sinks")
    out = compile_workflow(file_sink_workflow(target_directory=target), ctx).run({"content": "a,b\n1,2"})
    assert out.outputs[0]["out"]["error_status"] is True
    assert "outside the sink directory" in out.outputs[0]["out"]["message"]
    assert not (tmp_path / "escape").exists()


class Inbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def email_workflow(**fields: Any) -> dict:
    step = {"type": "roboflow_core/email_notification@v1", "name": "mail", "subject": "Workflow alert",
            "message": "Saw {{ $parameters.n }} objects: {{ $parameters.names }}.", "sender_email": "argus@example.com",
            "receiver_email": ["ops@example.com"], "cc_receiver_email": "lead@example.com",
            "bcc_receiver_email": ["audit@example.com"],
            "message_parameters": {"n": "$inputs.dets", "names": "$inputs.dets"},
            "message_parameters_operations": {"n": [{"type": "SequenceLength"}],
                                              "names": [{"type": "DetectionsPropertyExtract",
                                                         "property_name": "class_name"}]},
            "attachments": {"report.csv": "$inputs.report"}, "fire_and_forget": False, "cooldown_seconds": 0,
            **fields}
    return {"version": "1.0",
            "inputs": [{"type": "WorkflowBatchInput", "name": "dets", "kind": ["object_detection_prediction"]},
                       {"type": "WorkflowParameter", "name": "report"}],
            "steps": [step], "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.mail.*"}]}


def test_email_is_received_by_the_smtp_server(tmp_path, smtp_server) -> None:
    inbox, port = smtp_server
    ctx = context(tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none")
    out = compile_workflow(email_workflow(), ctx).run({"dets": [dets()], "report": "a,b\n1,2\n"}).outputs[0]["out"]
    assert out == {"error_status": False, "throttling_status": False, "message": "Notification sent successfully"}
    ((sender, recipients, raw),) = inbox.messages
    assert sender == "argus@example.com"
    assert sorted(recipients) == ["audit@example.com", "lead@example.com", "ops@example.com"]
    email = message_from_bytes(raw)
    assert email["Subject"] == "Workflow alert" and email["Cc"] == "lead@example.com" and email["Bcc"] is None
    body, attachment = [part for part in email.walk() if not part.is_multipart()]
    assert body.get_payload(decode=True).decode().strip() == "Saw 2 objects: ['cat', 'dog']."
    assert attachment.get_filename() == "report.csv" and attachment.get_payload(decode=True) == b"a,b\n1,2\n"


def test_email_failure_is_reported_in_the_outputs(tmp_path) -> None:
    ctx = context(tmp_path, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none")
    out = compile_workflow(email_workflow(), ctx).run({"dets": [dets()], "report": "x"}).outputs[0]["out"]
    assert out["error_status"] is True and "ConnectionRefusedError" in out["message"]
    no_host = compile_workflow(email_workflow(), context(tmp_path)).run({"dets": [dets()], "report": "x"})
    assert "ARGUS_SMTP_HOST" in no_host.outputs[0]["out"]["message"]


def test_email_to_a_private_smtp_server_named_by_the_step_is_refused(tmp_path, smtp_server) -> None:
    inbox, port = smtp_server
    definition = email_workflow(smtp_server="127.0.0.1", smtp_port=port)
    out = compile_workflow(definition, context(tmp_path)).run({"dets": [dets()], "report": "x"}).outputs[0]["out"]
    assert out["error_status"] is True and "ARGUS_SMTP_HOST" in out["message"]
    assert inbox.messages == []


@pytest.mark.parametrize(("field", "value"), [("retry_backoff_seconds", 1e9), ("request_timeout", 1e9),
                                              ("max_retries", 1000), ("cooldown_seconds", 10**9)])
def test_durations_beyond_their_maximum_are_refused_at_compile_time(tmp_path, field, value) -> None:
    from argus.workflows.errors import WorkflowDefinitionError

    with pytest.raises(WorkflowDefinitionError) as caught:
        compile_workflow(webhook_workflow("http://example.com/hook", **{field: value}), context(tmp_path))
    assert field in str(caught.value.message) + str(getattr(caught.value, "context", ""))


def test_durations_from_inputs_are_bounded_at_run_time(tmp_path, recorder) -> None:
    from argus.errors import InvalidInputError

    server = recorder()
    definition = webhook_workflow(server.url, retry_backoff_seconds="$inputs.backoff")
    definition["inputs"].append({"type": "WorkflowParameter", "name": "backoff"})
    with pytest.raises(InvalidInputError, match="'retry_backoff_seconds' must be between 0 and 30"):
        run_hook(context(tmp_path, allow_private_webhook_urls=True), definition, backoff=1e9)
    assert server.requests == []


def test_the_sink_pool_refuses_deliveries_beyond_its_bound() -> None:
    from argus.workflows.pools import SinkPool

    release = threading.Event()
    pool = SinkPool(workers=1, max_pending=2)
    held = [pool.submit(lambda: (release.wait(30), (False, "ok"))[1]) for _ in range(2)]
    assert all(future is not None for future in held)
    assert pool.submit(lambda: (False, "ok")) is None  # full: refused at once, nothing queued
    release.set()
    assert [future.result(30) for future in held if future is not None] == [(False, "ok")] * 2
    assert pool.submit(lambda: (False, "again")).result(30) == (False, "again")  # slots came back


def test_email_v2_sends_html_with_an_inline_image_through_the_servers_smtp(tmp_path, smtp_server) -> None:
    inbox, port = smtp_server
    definition = {"version": "1.0",
                  "inputs": [{"type": "WorkflowImage", "name": "image"}, {"type": "WorkflowParameter", "name": "who"}],
                  "steps": [{"type": "roboflow_core/email_notification@v2", "name": "mail", "subject": "Seen",
                             "receiver_email": "ops@example.com", "message": "<b>{{ $parameters.who }}</b> "
                             "{{ $parameters.picture }}", "message_parameters": {"who": "$inputs.who",
                                                                                 "picture": "$inputs.image"},
                             "attachments": {"frame": "$inputs.image"}, "fire_and_forget": False,
                             "cooldown_seconds": 0}],
                  "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.mail.*"}]}
    ctx = context(tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", smtp_user="argus@example.com")
    image = np.zeros((8, 8, 3), np.uint8)
    out = compile_workflow(definition, ctx).run({"image": image, "who": "<cat & dog>"}).outputs[0]["out"]
    assert out["error_status"] is False, out
    ((sender, recipients, raw),) = inbox.messages
    assert (sender, recipients) == ("argus@example.com", ["ops@example.com"])
    email = message_from_bytes(raw)
    parts = {part.get_content_type(): part for part in email.walk() if not part.is_multipart()}
    body = parts["text/html"].get_payload(decode=True).decode()
    assert "<b>&lt;cat &amp; dog&gt;</b>" in body and 'src="cid:image_picture"' in body  # escaped; the image inline
    inline = [p for p in email.walk() if p.get("Content-ID") == "<image_picture>"]
    assert len(inline) == 1 and inline[0].get_payload(decode=True)[:2] == b"\xff\xd8"  # a JPEG
    attached = [p for p in email.walk() if p.get_filename() == "frame.jpg"]
    assert len(attached) == 1


def test_email_v2_custom_smtp_needs_its_server_sender_and_password(tmp_path) -> None:
    definition = {"version": "1.0", "inputs": [],
                  "steps": [{"type": "roboflow_core/email_notification@v2", "name": "mail", "subject": "s",
                             "receiver_email": "ops@example.com", "message": "m", "email_provider": "Custom SMTP",
                             "fire_and_forget": False}],
                  "outputs": [{"type": "JsonField", "name": "out", "selector": "$steps.mail.*"}]}
    out = compile_workflow(definition, context(tmp_path)).run({}).outputs[0]["out"]
    assert out["error_status"] is True and "requires sender_email, smtp_server" in out["message"]
