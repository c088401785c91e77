# mypy: disable-error-code="valid-type"
# (manifest field types are built by Selector(...) calls, which mypy cannot read as types)
"""Email Notification v2: an HTML e-mail, with images from the workflow inline and as attachments.

As the reference's v2 for ``email_provider: "Custom SMTP"`` (the step's own server, sender and password, all three
required). ``"Roboflow Managed API Key"`` sends through Roboflow's cloud in the reference; in Argus it sends
through the server's own SMTP settings (``ARGUS_SMTP_*``), the operator's managed e-mail. ``{{ $parameters.x }}``
placeholders are filled HTML-escaped, and an image parameter becomes an inline picture (``cid:``); attachments may
be images (JPEG), bytes or text.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import Field

from argus.core.images import encode_jpeg
from argus.workflows.blocks.base import Selector, block_config
from argus.workflows.blocks.sinks.common import NotificationBlock, NotificationManifest, result, with_operations
from argus.workflows.blocks.sinks.email_notification import (
    PARAMETER_PATTERN,
    Receivers,
    _addresses,
    envelope,
    send_email,
    smtp_host,
)
from argus.workflows.data import WorkflowImageData
from argus.workflows.kinds import BYTES_KIND, IMAGE_KIND, LIST_OF_VALUES_KIND, SECRET_KIND, STRING_KIND
from argus.workflows.query_language import AllOperationsType

_Address = str | list[str] | Selector(kind=[STRING_KIND, LIST_OF_VALUES_KIND])


class EmailNotificationV2Manifest(NotificationManifest):
    model_config = block_config(name="Email Notification", category="sink", version="v2",
                                description="Send an HTML e-mail notification, with images.")
    type: Literal["roboflow_core/email_notification@v2"]
    email_provider: Literal["Roboflow Managed API Key", "Custom SMTP"] = "Roboflow Managed API Key"
    subject: str
    receiver_email: Receivers
    message: str
    message_parameters: dict[str, Selector() | str | int | float | bool] = Field(default_factory=dict)
    message_parameters_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)
    sender_email: str | None | Selector(kind=[STRING_KIND]) = None
    smtp_server: str | None | Selector(kind=[STRING_KIND]) = None
    sender_email_password: str | None | Selector(kind=[STRING_KIND, SECRET_KIND]) = None
    cc_receiver_email: _Address | None = None
    bcc_receiver_email: _Address | None = None
    smtp_port: int = Field(default=465, ge=1, le=65535)
    attachments: dict[str, Selector(kind=[STRING_KIND, BYTES_KIND, IMAGE_KIND])] = Field(default_factory=dict)


def html_message(message: str, parameters: dict[str, Any], operations: dict[str, list[Any]]
                 ) -> tuple[str, dict[str, bytes]]:
    """The message as HTML with its placeholders filled (escaped), and the inline images it now refers to."""
    named = {match.group(1) for match in PARAMETER_PATTERN.finditer(message)} & set(parameters)
    values = with_operations({name: parameters[name] for name in named}, operations)
    inline: dict[str, bytes] = {}
    shown: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, WorkflowImageData):
            inline[f"image_{name}"] = encode_jpeg(value.numpy_image)
            shown[name] = f'<img src="cid:image_{name}" alt="{name}" style="max-width: 600px; height: auto;">'
        else:
            shown[name] = html.escape(str(value))
    body = PARAMETER_PATTERN.sub(lambda m: shown.get(m.group(1), m.group(0)), message)
    return body, inline


def attachment_bytes(name: str, value: Any) -> tuple[str, bytes]:
    """An attachment's file name and content: images as JPEG (``.jpg`` added), bytes as they are, the rest as text."""
    if isinstance(value, WorkflowImageData):
        return (name if name.lower().endswith((".jpg", ".jpeg")) else f"{name}.jpg"), encode_jpeg(value.numpy_image)
    return name, value if isinstance(value, bytes) else str(value).encode("utf-8")


class EmailNotificationBlockV2(NotificationBlock):
    manifest_class = EmailNotificationV2Manifest

    def run(self, subject: str, message: str, receiver_email: Any, message_parameters: dict,
            message_parameters_operations: dict, attachments: dict[str, Any], fire_and_forget: bool = True,
            disable_sink: bool = False, cooldown_seconds: float = 5,
            email_provider: str = "Roboflow Managed API Key", sender_email: str | None = None,
            smtp_server: str | None = None, sender_email_password: str | None = None, cc_receiver_email: Any = None,
            bcc_receiver_email: Any = None, smtp_port: int = 465) -> dict[str, Any]:
        skipped = self.disabled(disable_sink)
        if skipped:
            return skipped
        settings = self.context.settings
        user: str | None
        password: str | None
        if email_provider == "Custom SMTP":
            if not sender_email or not smtp_server or not sender_email_password:
                return result(True, "Custom SMTP requires sender_email, smtp_server, and sender_email_password")
            host, problem = smtp_host(smtp_server, settings)
            port, password, user = smtp_port, sender_email_password, sender_email
        else:  # the server's own SMTP settings stand in for Roboflow's managed e-mail service
            host, problem = smtp_host(None, settings)
            port, password, user = settings.smtp_port, settings.smtp_password, settings.smtp_user
            sender_email = sender_email or settings.smtp_user or "argus@localhost"
        if problem:
            return result(True, problem)
        body, inline = html_message(message, message_parameters, message_parameters_operations)
        email = envelope(sender_email, subject, receiver_email, cc_receiver_email)
        email.set_content("This message is HTML; open it in an HTML-capable mail reader.")
        email.add_alternative(body, subtype="html")
        html_part = email.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        for cid, picture in inline.items():
            html_part.add_related(picture, maintype="image", subtype="jpeg", cid=f"<{cid}>")
        for name, value in attachments.items():
            filename, content = attachment_bytes(name, value)
            email.add_attachment(content, maintype="application", subtype="octet-stream", filename=filename)
        recipients = _addresses(receiver_email) + _addresses(cc_receiver_email) + _addresses(bcc_receiver_email)
        return self.notify(lambda: send_email(email, recipients, host, port, settings.smtp_tls, user, password),
                           fire_and_forget, disable_sink, cooldown_seconds)
