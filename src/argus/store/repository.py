"""The model store: ``<root>/<name>/<version>/`` on local disk.

A folder holds either one graph (``model.onnx`` + ``model.json``) or a bundle of named files described by
``bundle.json`` (argus.store.bundle: foundation models made of several graphs).

Example:
    >>> import tempfile, pathlib
    >>> repo = ModelRepository(pathlib.Path(tempfile.mkdtemp()))
    >>> repo.list()
    []
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from argus.errors import ConflictError, ModelArtifactError, ModelNotFoundError
from argus.store.bundle import BUNDLE_FILE, BundleManifest
from argus.store.manifest import ModelManifest
from argus.store.model_id import ModelId, parse_model_id

logger = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "model.json"


@dataclass(frozen=True)
class StoredModel:
    """One model in the store."""

    model_id: str
    manifest: ModelManifest
    path: Path
    size_bytes: int


@dataclass(frozen=True)
class StoredBundle:
    """One bundle in the store."""

    model_id: str
    manifest: BundleManifest
    path: Path
    size_bytes: int

    def file(self, role: str) -> Path:
        """The path of the bundle's file for ``role``."""
        return self.path / self.manifest.files[role]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ModelRepository:
    """Models on disk, addressed by validated ``name/version`` ids."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def directory(self, model_id: str | ModelId) -> Path:
        """Directory of a model; the id is validated and the path checked to stay inside the store."""
        parsed = parse_model_id(str(model_id))
        path = (self.root / parsed.name / parsed.version).resolve()
        if not path.is_relative_to(self.root):
            # Only reachable through a symlink planted inside the store.
            raise ModelNotFoundError(f"Model '{parsed}' resolves outside the model store.")
        return path

    def exists(self, model_id: str) -> bool:
        """True when the model's manifest and weights are present (one graph; see :meth:`has`)."""
        directory = self.directory(model_id)
        return (directory / MANIFEST_FILE).is_file() and (directory / MODEL_FILE).is_file()

    def has(self, model_id: str) -> bool:
        """True when the store holds ``model_id`` as one graph or as a bundle."""
        return self.exists(model_id) or self.is_bundle(model_id)

    def model_path(self, model_id: str) -> Path:
        """Path of ``model.onnx``; raises :class:`ModelNotFoundError` when absent."""
        directory = self.directory(model_id)
        path = directory / MODEL_FILE
        if not path.is_file():
            raise ModelNotFoundError(
                f"Model '{model_id}' is not in the model store ({self.root}). "
                "Import it with `argus models import PATH --id name/version` or use a zoo alias."
            )
        return path

    def manifest(self, model_id: str) -> ModelManifest:
        """The model's manifest, validated."""
        path = self.model_path(model_id).with_name(MANIFEST_FILE)
        try:
            return ModelManifest.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise ModelArtifactError(f"Model '{model_id}' has no {MANIFEST_FILE}; re-import it.") from None
        except ValidationError as error:
            raise ModelArtifactError(f"Model '{model_id}' has an invalid {MANIFEST_FILE}: {error}") from None

    def add(self, model_id: str, onnx_file: Path, manifest: ModelManifest, *, overwrite: bool = False) -> StoredModel:
        """Copy ``onnx_file`` into the store with its manifest (atomically: all or nothing)."""
        def write(staging: Path) -> None:
            shutil.copyfile(onnx_file, staging / MODEL_FILE)
            stamped = manifest.model_copy(update={"sha256": sha256_of(staging / MODEL_FILE)})
            (staging / MANIFEST_FILE).write_text(stamped.model_dump_json(indent=2))

        target = self._install(model_id, write, overwrite)
        logger.info("stored model %s in %s", model_id, target)
        return self.stored(model_id)

    def _install(self, model_id: str, write: Callable[[Path], None], overwrite: bool) -> Path:
        """Fill a staging folder with ``write`` and rename it into place, so a reader sees all or nothing."""
        target = self.directory(model_id)
        if target.exists() and not overwrite:
            raise ConflictError(f"Model '{model_id}' already exists; remove it first or pass overwrite.")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target.parent))
        try:
            write(staging)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def replace_manifest(self, model_id: str, manifest: ModelManifest) -> None:
        """Write a new manifest for a stored model (atomically: a rename over the old file)."""
        path = self.model_path(model_id).with_name(MANIFEST_FILE)
        descriptor, staging = tempfile.mkstemp(prefix=".manifest-", dir=path.parent)  # one per writer
        with open(descriptor, "w") as handle:
            handle.write(manifest.model_dump_json(indent=2))
        Path(staging).replace(path)

    def stored(self, model_id: str) -> StoredModel:
        """One model's store entry (manifest validated)."""
        manifest = self.manifest(model_id)
        return self._stored(str(parse_model_id(model_id)), self.directory(model_id), manifest)

    def remove(self, model_id: str) -> None:
        """Delete a model from the store."""
        directory = self.directory(model_id)
        if not directory.exists():
            raise ModelNotFoundError(f"Model '{model_id}' is not in the model store.")
        shutil.rmtree(directory)
        try:
            directory.parent.rmdir()
        except OSError:
            pass

    def is_bundle(self, model_id: str) -> bool:
        """True when ``model_id`` is a bundle (``bundle.json``) rather than one graph."""
        return (self.directory(model_id) / BUNDLE_FILE).is_file()

    def bundle(self, model_id: str) -> StoredBundle:
        """A stored bundle, its manifest validated and every file present."""
        directory = self.directory(model_id)
        path = directory / BUNDLE_FILE
        try:
            manifest = BundleManifest.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            raise ModelNotFoundError(f"Model '{model_id}' is not a bundle in the model store ({self.root}).") from None
        except ValidationError as error:
            raise ModelArtifactError(f"Model '{model_id}' has an invalid {BUNDLE_FILE}: {error}") from None
        missing = sorted(name for name in manifest.files.values() if not (directory / name).is_file())
        if missing:
            raise ModelArtifactError(f"Model '{model_id}' is missing {', '.join(missing)}; re-import it.")
        size = sum((directory / name).stat().st_size for name in set(manifest.files.values()))
        return StoredBundle(str(parse_model_id(model_id)), manifest, directory, size)

    def add_bundle(self, model_id: str, files: dict[str, Path], manifest: BundleManifest, *,
                   overwrite: bool = False) -> StoredBundle:
        """Copy a bundle's files (by the names in ``manifest.files``) into the store, atomically.

        ``files`` maps each of the manifest's file names to the local file to copy.
        """
        def write(staging: Path) -> None:
            digests = {}
            for name in sorted(set(manifest.files.values())):
                shutil.copyfile(files[name], staging / name)
                digests[name] = sha256_of(staging / name)
            stamped = manifest.model_copy(update={"sha256": digests})
            (staging / BUNDLE_FILE).write_text(stamped.model_dump_json(indent=2))

        target = self._install(model_id, write, overwrite)
        logger.info("stored bundle %s (%s) in %s", model_id, manifest.kind.value, target)
        return self.bundle(model_id)

    def list_bundles(self) -> list[StoredBundle]:
        """Every valid bundle in the store, sorted by id."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob(f"*/*/{BUNDLE_FILE}")):
            model_id = f"{path.parent.parent.name}/{path.parent.name}"
            try:
                found.append(self.bundle(model_id))
            except Exception as error:  # noqa: BLE001 - a broken entry must not hide the others
                logger.warning("skipping %s in the model store: %s", model_id, error)
        return found

    def list(self) -> list[StoredModel]:
        """Every valid model in the store, sorted by id."""
        if not self.root.is_dir():
            return []
        found = []
        for manifest_path in sorted(self.root.glob(f"*/*/{MANIFEST_FILE}")):
            directory = manifest_path.parent
            model_id = f"{directory.parent.name}/{directory.name}"
            try:
                found.append(self._stored(model_id, directory, self.manifest(model_id)))
            except Exception as error:  # noqa: BLE001 - a broken entry must not hide the others
                logger.warning("skipping %s in the model store: %s", model_id, error)
        return found

    @staticmethod
    def _stored(model_id: str, directory: Path, manifest: ModelManifest) -> StoredModel:
        size = (directory / MODEL_FILE).stat().st_size
        return StoredModel(model_id=model_id, manifest=manifest, path=directory, size_bytes=size)
