"""Argus configuration: the only module that reads environment variables.

Every setting has an ``ARGUS_*`` environment variable; where Roboflow Inference has a well-known
name for the same thing (``MAX_ACTIVE_MODELS``, ``MODEL_CACHE_DIR``) it is accepted as an alias.

Example:
    >>> from argus.settings import Settings
    >>> Settings(max_active_models=2).max_active_models
    2
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from argus.models.provider_names import normalise_provider_names


def _env(name: str, *aliases: str) -> AliasChoices:
    """Accept ``ARGUS_<NAME>`` and the given aliases (keyword construction uses the field name)."""
    return AliasChoices(f"ARGUS_{name.upper()}", *aliases)


class Settings(BaseSettings):
    """One frozen configuration object, built once and passed down."""

    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    home: Path = Field(default=Path("~/.argus"), validation_alias=_env("home"))
    """Root of everything Argus keeps on disk (model store, workflows, database)."""

    models_dir: Path | None = Field(default=None, validation_alias=_env("models_dir", "MODEL_CACHE_DIR"))
    """Model store; defaults to ``<home>/models``."""

    zoo_cache_dir: Path | None = Field(default=None, validation_alias=_env("zoo_cache_dir"))
    """Where downloaded zoo source packages are cached; defaults to ``<home>/cache/zoo`` (point several homes at
    one folder to share downloads)."""

    zoo_catalogue: Path | None = Field(default=None, validation_alias=_env("zoo_catalogue"))
    """An extra zoo catalogue (JSON) whose entries add to or override the built-in ones."""

    max_active_models: int = Field(default=8, ge=1, validation_alias=_env("max_active_models", "MAX_ACTIVE_MODELS"))
    models_memory_budget_mb: int = Field(default=0, ge=0, validation_alias=_env("models_memory_budget_mb"))
    """Upper bound on the estimated memory of loaded models; 0 means no bound."""

    execution_providers: Annotated[list[str], NoDecode] = Field(default=["auto"],
                                                                validation_alias=_env("execution_providers"))
    """``auto``: every accelerator this onnxruntime build has that really loads (TensorRT, CUDA, OpenVINO, CoreML,
    DirectML), then CPU. A list (``cuda,cpu`` or full provider names): each accelerator in it is required; the
    server will not start without it unless ``cpu_fallback`` (argus.models.providers)."""
    cpu_fallback: bool = Field(default=False, validation_alias=_env("cpu_fallback"))
    """Run on CPU when a provider named in ``execution_providers`` cannot load (logged, and shown by /info)."""

    intra_op_threads: int = Field(default=0, ge=0, validation_alias=_env("intra_op_threads"))
    """ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose (one per core)."""
    inter_op_threads: int = Field(default=1, ge=0, validation_alias=_env("inter_op_threads"))
    intra_op_spinning: bool = Field(default=False, validation_alias=_env("intra_op_spinning"))
    """Let ONNX Runtime's idle intra-op threads spin; off, so they leave the cores to request decoding."""
    dynamic_batching: bool = Field(default=True, validation_alias=_env("dynamic_batching"))
    """Batch concurrent requests per model (up to the manifest's ``batching.max_batch_size``)."""
    max_pending_images: int = Field(default=64, ge=1, validation_alias=_env("max_pending_images"))
    """Per model: images admitted and not yet run before new requests get 503 + Retry-After."""
    model_instances: int = Field(default=2, ge=1, le=16, validation_alias=_env("model_instances"))
    """Runner threads per model, each calling ``session.run`` on its own batches. Two on a shared session keep
    a lone request's latency (it gets every intra-op thread) and let a second batch run while the first
    finishes (benchmarks/RESULTS.md)."""
    adaptive_threads: bool = Field(default=True, validation_alias=_env("adaptive_threads"))
    """With several runners and automatic intra-op threads on a CPU: a run that starts while others are busy uses
    a one-thread session of the model (so runners never put more busy threads than cores), a lone run every
    core. Costs the model's weights a second time in memory (models up to 512 MB)."""
    reduced_jpeg_decode: bool = Field(default=True, validation_alias=_env("reduced_jpeg_decode"))
    """Decode large JPEGs at 1/2-1/8 scale (in libjpeg's DCT) when the model would shrink them that far."""

    max_image_pixels: int = Field(default=80_000_000, ge=1, validation_alias=_env("max_image_pixels"))
    """Decompression-bomb guard: images whose header declares more pixels are refused."""
    max_images_per_request: int = Field(default=32, ge=1, le=10_000, validation_alias=_env("max_images_per_request"))
    """Images one inference request may carry; more is a 413 before anything is decoded."""
    max_request_pixels: int = Field(default=160_000_000, ge=1, validation_alias=_env("max_request_pixels"))
    """Pixels (summed over its images, from their headers) one request may decode; more is a 413."""
    decoded_memory_mb: int = Field(default=1024, ge=1, validation_alias=_env("decoded_memory_mb"))
    """Decoded image memory held at once by all requests; a request waits for room, then gets 503."""
    decode_wait_s: float = Field(default=5.0, ge=0, le=300, validation_alias=_env("decode_wait_s"))
    """How long a request waits for decoded-memory room before its 503 + Retry-After."""

    host: str = Field(default="127.0.0.1", validation_alias=_env("host"))
    port: int = Field(default=9001, ge=1, le=65535, validation_alias=_env("port", "PORT"))
    api_url: str | None = Field(default=None, validation_alias=_env("api_url"))
    """Server the CLI talks to (``argus endpoints``, ``keys``, ``server status``); default
    ``http://127.0.0.1:$ARGUS_PORT``."""
    workers: int = Field(default=1, ge=1, le=64, validation_alias=_env("workers"))
    ocr_model: str = Field(default="pp_ocr/tiny-tiny", validation_alias=_env("ocr_model"))
    """The OCR model a request gets when it names no version or stage (``/ocr/pp-ocr``, the ``ocr_model`` block)."""
    clip_model: str = Field(default="clip/ViT-B-16", validation_alias=_env("clip_model"))
    """The CLIP model a request gets when it names none (the reference's default ``clip_version_id``)."""
    depth_model: str = Field(default="depth-anything-v2/small", validation_alias=_env("depth_model"))
    """The depth model a request gets when it names none (the reference's default ``depth_version_id``)."""
    sam_model: str = Field(default="sam/vit_b", validation_alias=_env("sam_model"))
    """The SAM model ``/sam/*`` requests get when they name none (``sam_version_id`` picks ``sam/<it>``)."""
    sam2_model: str = Field(default="sam2/hiera_tiny", validation_alias=_env("sam2_model"))
    """The model ``/sam2/*`` requests get when they name none (the reference's default ``sam2_version_id``)."""
    owl_model: str = Field(default="owlv2/owlv2-large-patch14-ensemble", validation_alias=_env("owl_model"))
    """The open-vocabulary detector ``/owlv2/infer`` uses when the request names none."""
    sam_cached_images: int = Field(default=16, ge=1, le=1024, validation_alias=_env("sam_cached_images"))
    """Image embeddings a SAM model keeps by ``image_id`` (their full size counts in the model's memory)."""
    preload_models: Annotated[list[str], NoDecode] = Field(default=[], validation_alias=_env("preload_models", "PRELOAD_MODELS"))
    """Models loaded at start; /readiness answers 503 until they are."""

    api_keys: Annotated[list[str], NoDecode] = Field(default=[], validation_alias=_env("api_keys"))
    """When non-empty, every route but health, info and docs needs one of these keys."""
    api_key_file: Path | None = Field(default=None, validation_alias=_env("api_key_file"))
    """A file with one API key per line, added to ``api_keys``."""

    allow_url_input: bool = Field(default=True, validation_alias=_env("allow_url_input", "ALLOW_URL_INPUT"))
    allow_private_urls: bool = Field(default=False, validation_alias=_env("allow_private_urls"))
    """Allow image URLs that resolve to loopback, private or link-local addresses (off: SSRF guard)."""
    allow_numpy_input: bool = Field(default=False, validation_alias=_env("allow_numpy_input", "ALLOW_NUMPY_INPUT"))
    cors_origins: Annotated[list[str], NoDecode] = Field(default=[], validation_alias=_env("cors_origins", "ALLOW_ORIGINS"))
    """Browser origins allowed to call the API (CORS); empty sends no CORS headers, ``*`` allows any."""
    """Accept pickled numpy images (unsafe with untrusted clients: pickle runs code)."""
    enable_stream_api: bool = Field(default=False, validation_alias=_env("enable_stream_api", "ENABLE_STREAM_API"))
    """Serve /inference_pipelines (pipelines read server files and open network streams: off by default)."""
    media_dir: Path | None = Field(default=None, validation_alias=_env("media_dir"))
    """The only folder whose files the stream API may open (none: local paths are refused); never ARGUS_HOME."""
    url_fetch_timeout: float = Field(default=10.0, gt=0, validation_alias=_env("url_fetch_timeout"))
    url_max_bytes: int = Field(default=25_000_000, ge=1, validation_alias=_env("url_max_bytes"))
    header_timeout_s: float = Field(default=10.0, gt=0, le=300, validation_alias=_env("header_timeout_s"))
    """Seconds a client has to send a request's line and headers before its connection is closed."""
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600, validation_alias=_env("body_timeout_s"))
    """Seconds a client may pause between parts of a request body before it gets 408."""
    max_connections: int = Field(default=1000, ge=1, validation_alias=_env("max_connections"))
    """Concurrent connections (and requests) per worker; beyond it uvicorn answers 503."""
    keep_alive_s: float = Field(default=5.0, gt=0, le=300, validation_alias=_env("keep_alive_s"))
    """Idle seconds a keep-alive connection is kept between requests."""
    shutdown_timeout_s: float = Field(default=30.0, gt=0, le=3600, validation_alias=_env("shutdown_timeout_s"))
    """On SIGTERM, requests in flight get this long to finish before the server stops anyway."""
    max_body_bytes: int = Field(default=60_000_000, ge=1, validation_alias=_env("max_body_bytes"))
    """Requests with a larger body are refused with 413 before they are read."""
    workflows_dir: Path | None = Field(default=None, validation_alias=_env("workflows_dir"))
    """Local workflow store (``<workspace>/<workflow_id>.json``); defaults to ``<home>/workflows``."""

    allow_custom_python: bool = Field(
        default=False, validation_alias=_env("allow_custom_python", "ALLOW_CUSTOM_PYTHON_EXECUTION_IN_WORKFLOWS"))
    """Run workflows' custom Python blocks (in a sandbox process); off: such workflows get 403."""
    custom_python_timeout: float = Field(default=10.0, gt=0, validation_alias=_env("custom_python_timeout"))
    """Seconds one call of a custom Python block may run before its sandbox process is killed."""
    custom_python_memory_mb: int = Field(default=1024, ge=0, validation_alias=_env("custom_python_memory_mb"))
    """Address-space limit of a custom Python sandbox process (MiB; the interpreter and numpy need ~500)."""
    workflow_step_threads: int = Field(default=0, ge=0, le=256, validation_alias=_env("workflow_step_threads"))
    """Threads running independent workflow steps at once (0: twice the cores, between 4 and 16)."""
    workflow_io_threads: int = Field(default=8, ge=1, le=256, validation_alias=_env("workflow_io_threads"))
    """Threads for blocks' background I/O."""
    sink_threads: int = Field(default=4, ge=1, le=64, validation_alias=_env("sink_threads"))
    """Threads delivering sink notifications (webhook, e-mail); deliveries beyond 16 per thread are refused."""
    custom_python_isolation: Literal["kernel", "none"] = Field(default="kernel",
                                                              validation_alias=_env("custom_python_isolation"))
    """``kernel``: custom Python runs confined by Landlock, seccomp and an unprivileged uid, and the server refuses
    to start with custom Python on where a layer is missing; ``none``: the operator runs it unconfined."""
    allow_private_webhook_urls: bool = Field(default=False, validation_alias=_env("allow_private_webhook_urls"))
    """Let the webhook sink call loopback, private or link-local addresses (off: SSRF guard)."""
    workflow_sink_dir: Path | None = Field(
        default=None, validation_alias=_env("workflow_sink_dir", "WORKFLOW_BLOCKS_WRITE_DIRECTORY"))
    """The only directory the local file sink writes under; defaults to ``<home>/sink_outputs``."""
    workflow_secret_variables: Annotated[list[str], NoDecode] = Field(
        default=[], validation_alias=_env("workflow_secret_variables"))
    """Environment variables the environment_secrets_store block may hand to workflows (comma-separated names);
    empty: the block is refused (403), so a workflow cannot read the server's environment."""
    smtp_host: str | None = Field(default=None, validation_alias=_env("smtp_host"))
    """SMTP server of the email sink (a step's ``smtp_server`` overrides it)."""
    smtp_port: int = Field(default=465, ge=1, le=65535, validation_alias=_env("smtp_port"))
    smtp_user: str | None = Field(default=None, validation_alias=_env("smtp_user"))
    smtp_password: str | None = Field(default=None, validation_alias=_env("smtp_password"))
    smtp_tls: Literal["ssl", "starttls", "none"] = Field(default="ssl", validation_alias=_env("smtp_tls"))
    """``ssl``: TLS from the start (port 465); ``starttls``: upgrade (port 587); ``none``: plain (tests only)."""

    database_url: str | None = Field(default=None, validation_alias=_env("database_url"))
    """SQLAlchemy URL of the control-plane database; defaults to SQLite at ``<home>/argus.db``."""
    secrets_key: str | None = Field(default=None, validation_alias=_env("secrets_key"), repr=False)
    """Fernet key that encrypts endpoint secrets at rest; default: ``<home>/secrets.key``, created 0600."""
    endpoints_enabled: bool = Field(default=True, validation_alias=_env("endpoints_enabled"))
    """Run the endpoint controller (replicas run with it off, so they never start endpoints of their own)."""
    endpoint_model: str | None = Field(default=None, validation_alias=_env("endpoint_model"))
    """Set by the endpoint backends on a replica: serve this model's inference routes, health and info only."""
    metrics_dir: Path | None = Field(default=None, validation_alias=_env("metrics_dir", "PROMETHEUS_MULTIPROC_DIR"))
    """Set by ``argus serve --workers N`` on its workers: where they keep their counters, so /metrics adds them
    up (prometheus-client's multiprocess mode, which reads ``PROMETHEUS_MULTIPROC_DIR``)."""
    metrics_public: bool = Field(default=False, validation_alias=_env("metrics_public"))
    """Serve ``/metrics`` without a key even when ``ARGUS_API_KEYS`` is set (for a scraper on a private network)."""
    endpoint_minute_seconds: float = Field(default=60.0, gt=0, validation_alias=_env("endpoint_minute_seconds"))
    """Seconds in one ``scaleToZeroTimeout`` minute (tests shorten it)."""
    endpoint_reconcile_interval_s: float = Field(default=0.5, gt=0, validation_alias=_env("endpoint_reconcile_interval_s"))
    endpoint_upscale_window_s: float = Field(default=3.0, gt=0, validation_alias=_env("endpoint_upscale_window_s"))
    """Scale-up looks at the load over this short window."""
    endpoint_downscale_delay_s: float = Field(default=60.0, ge=0, validation_alias=_env("endpoint_downscale_delay_s"))
    """Scale-down needs the lower load to hold this long (bursts do not thrash)."""
    endpoint_drain_timeout_s: float = Field(default=30.0, gt=0, validation_alias=_env("endpoint_drain_timeout_s"))
    endpoint_start_timeout_s: float = Field(default=120.0, gt=0, validation_alias=_env("endpoint_start_timeout_s"))
    endpoint_max_hold_s: float = Field(default=300.0, gt=0, validation_alias=_env("endpoint_max_hold_s"))
    """Upper bound on ``X-Scale-Up-Timeout``."""
    endpoint_metrics_interval_s: float = Field(default=10.0, gt=0, validation_alias=_env("endpoint_metrics_interval_s"))
    endpoint_backend: Literal["local", "ray"] = Field(default="local", validation_alias=_env("endpoint_backend"))
    """Where endpoint replicas run: processes of this server (``local``) or a Ray Serve cluster (``ray``)."""
    ray_address: str | None = Field(default=None, validation_alias=_env("ray_address"))
    """The cluster's dashboard URL (``http://head:8265``): its REST API applies, scales, observes and reads logs."""
    ray_serve_url: str | None = Field(default=None, validation_alias=_env("ray_serve_url"))
    """Where this server reaches the cluster's Serve proxy (default: the host and port Serve reports)."""
    ray_token_file: Path | None = Field(default=None, validation_alias=_env("ray_token_file"))
    """The cluster's ``RAY_AUTH_TOKEN`` in a file (Ray's token authentication)."""
    ray_start: bool = Field(default=False, validation_alias=_env("ray_start"))
    """Start a single-node cluster on this machine for development, and stop it with the server."""
    ray_num_cpus: float | None = Field(default=None, gt=0, validation_alias=_env("ray_num_cpus"))
    """CPUs of the cluster ``ARGUS_RAY_START`` starts (default: this machine's)."""
    ray_replica_cpus: float = Field(default=1.0, gt=0, validation_alias=_env("ray_replica_cpus"))
    """CPUs Ray reserves for each replica (fractions share a core)."""
    ray_replica_key_file: Path | None = Field(default=None, validation_alias=_env("ray_replica_key_file"))
    """Fernet key, at the same path on this server and every node, that seals a replica's key and secrets in its
    Ray arguments; default ``<home>/ray/replica.key``, created 0600."""

    @field_validator("execution_providers", "preload_models", "api_keys", "cors_origins", "workflow_secret_variables",
                     mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("execution_providers")
    @classmethod
    def _provider_names(cls, value: list[str]) -> list[str]:
        return normalise_provider_names(value)

    @model_validator(mode="after")
    def _one_request_fits_the_decode_budget(self) -> Settings:
        if self.max_request_pixels * 3 > self.decoded_memory_mb * 1024 * 1024:
            raise ValueError(f"ARGUS_DECODED_MEMORY_MB ({self.decoded_memory_mb}) must hold one request's largest "
                             f"decode: ARGUS_MAX_REQUEST_PIXELS ({self.max_request_pixels}) x 3 bytes = "
                             f"{-(-self.max_request_pixels * 3 // (1024 * 1024))} MB")
        return self

    def workflow_secret(self, name: str) -> str | None:
        """The value of environment variable ``name`` if the operator lets workflows read it; 403 otherwise."""
        from argus.errors import ForbiddenError

        if name not in self.workflow_secret_variables:
            allowed = ", ".join(self.workflow_secret_variables) or "none"
            raise ForbiddenError(f"workflows may not read environment variable {name!r} (allowed: {allowed}); the "
                                 "operator lists readable ones in ARGUS_WORKFLOW_SECRET_VARIABLES")
        return os.environ.get(name)

    @property
    def all_api_keys(self) -> frozenset[str]:
        """Keys from ``api_keys`` and ``api_key_file``."""
        keys = set(self.api_keys)
        if self.api_key_file:
            text = self.api_key_file.expanduser().read_text()
            keys.update(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
        return frozenset(keys)

    @property
    def home_dir(self) -> Path:
        """``home`` with ``~`` expanded."""
        return self.home.expanduser()

    @property
    def model_store_dir(self) -> Path:
        """Directory of the model store."""
        return (self.models_dir or self.home_dir / "models").expanduser()

    @property
    def workflow_store_dir(self) -> Path:
        """Directory of the local workflow store."""
        return (self.workflows_dir or self.home_dir / "workflows").expanduser()

    @property
    def zoo_cache_path(self) -> Path:
        """``zoo_cache_dir`` with ``~`` expanded, or ``<home>/cache/zoo``."""
        return (self.zoo_cache_dir or self.home_dir / "cache" / "zoo").expanduser()

    @property
    def client_url(self) -> str:
        """``api_url``, or this machine's server on ``port``."""
        return (self.api_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def secrets_key_path(self) -> Path:
        """Where the endpoint secrets key lives when ``secrets_key`` is not given."""
        return self.home_dir / "secrets.key"

    @property
    def protected_paths(self) -> list[Path]:
        """Server paths untrusted code must never read: home, stores, caches, key files, the database."""
        paths = [self.home_dir, self.model_store_dir, self.workflow_store_dir, self.zoo_cache_path]
        paths += [p.expanduser() for p in (self.workflow_sink_dir, self.api_key_file) if p is not None]
        if self.database.startswith("sqlite:///"):
            paths.append(Path(self.database.removeprefix("sqlite:///")).expanduser())
        return paths

    @property
    def database(self) -> str:
        """``database_url``, or SQLite at ``<home>/argus.db``."""
        return self.database_url or f"sqlite:///{self.home_dir / 'argus.db'}"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built once per process."""
    return Settings()
