"""Which class loads each bundle kind (a kind not listed here answers 501 when used)."""

from __future__ import annotations

from argus.errors import NotImplementedFeatureError
from argus.models.foundation.base import FoundationModel
from argus.models.foundation.clip import ClipModel
from argus.models.foundation.depth import DepthModel
from argus.models.foundation.ocr import OcrModel
from argus.models.foundation.owl import OwlModel
from argus.models.foundation.sam import SamModel
from argus.settings import Settings
from argus.store.bundle import BundleKind
from argus.store.repository import StoredBundle

LOADERS: dict[BundleKind, type[FoundationModel]] = {BundleKind.PP_OCR: OcrModel, BundleKind.CLIP: ClipModel,
                                                     BundleKind.DEPTH: DepthModel, BundleKind.SAM: SamModel,
                                                     BundleKind.OWL: OwlModel}


def load_bundle(model_id: str, stored: StoredBundle, settings: Settings) -> FoundationModel:
    """Build the foundation model a stored bundle describes."""
    loader = LOADERS.get(stored.manifest.kind)
    if loader is None:
        raise NotImplementedFeatureError(f"Model '{model_id}' is a {stored.manifest.kind.value} bundle, which this "
                                         "Argus cannot run yet.")
    return loader(model_id, stored, settings)
