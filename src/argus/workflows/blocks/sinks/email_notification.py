"""Email Notification (``roboflow_core/email_notification@v1``): send an e-mail through SMTP.

The server's SMTP settings (``ARGUS_SMTP_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``, ``_TLS``: ssl,
starttls or none) are the defaults; a step may name its own ``smtp_server`` / ``smtp_port`` /
``sender_email_password`` as in the reference (a step-named server passes the SSRF guard unless
``ARGUS_ALLOW_PRIVATE_WEBHOOK_URLS``). ``{{ $parameters.name }}`` placeholders in ``message`` are
filled from ``message_parameters`` (after their query-language operations); ``attachments`` map
file names to text content (a CSV Formatter's output, say).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from argus.errors import InvalidInputError
from argus.inputs.url import check_url_allowed
from argus.settings import Settings
from argus.workflows.blocks.base import Selector, block_config
from argus.workflows.blocks.sinks.common import (
    NotificationBlock,
    NotificationManifest,
    result,
    with_operations,
)
from argus.workflows.kinds import LIST_OF_VALUES_KIND, STRING_KIND
from argus.workflows.query_language import AllOperationsType

PARAMETER_PATTERN = re.compile(r"{{\s*\$parameters\.(\w+)\s*}}")
_Address = str | list[str] | Selector(kind=[STRING_KIND, LIST_OF_VALUES_KIND])  # type: ignore[valid-type]


def _some_receiver(value: Any) -> Any:
    if isinstance(value, list) and not value:
        raise ValueError("E-mail notification must have at least one receiver defined.")
    return value


Receivers = Annotated[_Address, AfterValidator(_some_receiver)]  # type: ignore[valid-type]
"""The To field of both versions: an address, a list of at least one, or a selector."""


class EmailNotificationManifest(NotificationManifest):
    """The reference's fields; the SMTP server, port and password may come from settings instead."""

    model_config = block_config(name="Email Notification", category="sink", description="Send notification via "
                                "E-Mail.", version="v1")
    type: Literal["roboflow_core/email_notification@v1"]
    subject: str = Field(description="Subject of the message.")
    message: str = Field(description="Body; {{ $parameters.name }} placeholders are filled from message_parameters.")
    sender_email: str | Selector(kind=[STRING_KIND]) = Field(description="From address.")  # type: ignore[valid-type]
    receiver_email: Receivers = Field(description="To address(es).")
    cc_receiver_email: _Address | None = None  # type: ignore[valid-type]
    bcc_receiver_email: _Address | None = None  # type: ignore[valid-type]
    message_parameters: dict[str, Selector()] = Field(default_factory=dict)  # type: ignore[valid-type]
    message_parameters_operations: dict[str, list[AllOperationsType]] = Field(default_factory=dict)
    attachments: dict[str, Selector(kind=[STRING_KIND])] = Field(default_factory=dict)  # type: ignore[valid-type]
    smtp_server: str | None | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default=None, description="SMTP server (default: ARGUS_SMTP_HOST).")
    sender_email_password: str | None | Selector(kind=[STRING_KIND]) = Field(  # type: ignore[valid-type]
        default=None, description="SMTP password (default: ARGUS_SMTP_PASSWORD).")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="SMTP port (default: ARGUS_SMTP_PORT).")



def fill_message(message: str, parameters: dict[str, Any], operations: dict[str, list[Any]]) -> str:
    """``message`` with ``{{ $parameters.x }}`` replaced by the (transformed) parameter values.

    Example:
        >>> fill_message("seen {{ $parameters.n }} cars", {"n": [1, 2]}, {"n": [{"type": "SequenceLength"}]})
        'seen 2 cars'
    """
    values = with_operations(parameters, operations)
    return PARAMETER_PATTERN.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), message)


def _addresses(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def send_email(email: EmailMessage, recipients: list[str], host: str, port: int, tls: str, user: str | None,
               password: str | None, timeout: float = 30.0) -> tuple[bool, str]:
    """Deliver ``email``; ``(error_status, message)``."""
    try:
        if tls == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
        with server:
            if tls == "starttls":
                server.starttls(context=ssl.create_default_context())
            if password:
                server.login(user or str(email["From"]), password)
            server.send_message(email, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as error:
        return True, f"Failed to send e-mail: {type(error).__name__}: {error}"
    return False, "Notification sent successfully"


class EmailNotificationBlockV1(NotificationBlock):
    """One e-mail per run (subject to cooldown)."""

    manifest_class = EmailNotificationManifest

    def run(self, subject: str, message: str, sender_email: str, receiver_email: Any, message_parameters: dict,
            message_parameters_operations: dict, attachments: dict[str, str], fire_and_forget: bool,
            disable_sink: bool, cooldown_seconds: float, cc_receiver_email: Any = None,
            bcc_receiver_email: Any = None, smtp_server: str | None = None, sender_email_password: str | None = None,
            smtp_port: int | None = None) -> dict[str, Any]:
        skipped = self.disabled(disable_sink)
        if skipped:
            return skipped
        settings = self.context.settings
        host, problem = smtp_host(smtp_server, settings)
        if problem:
            return result(True, problem)
        email = envelope(sender_email, subject, receiver_email, cc_receiver_email)
        email.set_content(fill_message(message, message_parameters, message_parameters_operations))
        for name, content in attachments.items():
            email.add_attachment(str(content).encode(), maintype="application", subtype="octet-stream", filename=name)
        recipients = _addresses(receiver_email) + _addresses(cc_receiver_email) + _addresses(bcc_receiver_email)
        port = smtp_port or settings.smtp_port
        password = sender_email_password or settings.smtp_password
        return self.notify(lambda: send_email(email, recipients, host, port, settings.smtp_tls, settings.smtp_user,
                                              password), fire_and_forget, disable_sink, cooldown_seconds)


def smtp_host(smtp_server: str | None, settings: Settings) -> tuple[str, str | None]:
    """The SMTP host to use (the step's, or the server's ``ARGUS_SMTP_HOST``), or why there is none: a step's own
    server must pass the SSRF guard."""
    host = smtp_server or settings.smtp_host
    if not host:
        return "", "No SMTP server: set ARGUS_SMTP_HOST on the server or smtp_server in the step."
    if smtp_server:
        try:
            check_url_allowed(f"http://{smtp_server}", allow_private=settings.allow_private_webhook_urls)
        except InvalidInputError:
            return "", (f"smtp_server {smtp_server!r} is a private, loopback or link-local address; set "
                        "ARGUS_SMTP_HOST on the server instead.")
    return host, None


def envelope(sender: str, subject: str, receivers: Any, cc: Any) -> EmailMessage:
    """A message with its From, To, Cc and Subject headers set."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(_addresses(receivers))
    if cc:
        email["Cc"] = ", ".join(_addresses(cc))
    email["Subject"] = subject
    return email
