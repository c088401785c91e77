"""Block discovery: every module under ``argus/workflows/blocks/<category>/`` is imported and its blocks registered.

A new block is one new file; nothing lists blocks by hand. A type id maps to one block class; the
legacy short aliases of the catalogue (``DynamicCrop``, ``ObjectDetectionModel`` ...) map to the
same class. A module that fails to import is logged and reported, not fatal: the other blocks work.

Example:
    >>> registry = default_registry()
    >>> registry.get("roboflow_core/continue_if@v1").manifest_class.type_ids()[0]
    'roboflow_core/continue_if@v1'
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import threading
from dataclasses import dataclass, field
from types import ModuleType

from argus.workflows.blocks.base import Block

logger = logging.getLogger(__name__)

_BLOCKS_PACKAGE = "argus.workflows.blocks"


@dataclass
class BlockRegistry:
    """Type id (and alias) → block class, plus the modules that failed to import."""

    blocks: dict[str, type[Block]] = field(default_factory=dict)
    failed_modules: dict[str, str] = field(default_factory=dict)

    def register(self, block: type[Block]) -> None:
        """Add ``block`` under each of its type ids; a clash with another block is a programming error."""
        for type_id in block.manifest_class.type_ids():
            existing = self.blocks.get(type_id)
            if existing is not None and existing is not block:
                raise RuntimeError(f"block type '{type_id}' is defined twice: {existing.__module__} and "
                                   f"{block.__module__}")
            self.blocks[type_id] = block

    def get(self, type_id: str) -> type[Block] | None:
        """The block for ``type_id`` or None."""
        return self.blocks.get(type_id)

    def unique_blocks(self) -> list[type[Block]]:
        """Each block class once, in type-id order."""
        seen: dict[type[Block], None] = {}
        for type_id in sorted(self.blocks):
            seen.setdefault(self.blocks[type_id], None)
        return list(seen)


def _block_classes(module: ModuleType) -> list[type[Block]]:
    return [
        obj for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Block) and obj.__module__ == module.__name__ and not inspect.isabstract(obj)
        and "manifest_class" in obj.__dict__
    ]


def discover(package_name: str = _BLOCKS_PACKAGE) -> BlockRegistry:
    """Import every module below ``package_name``'s category packages and register their blocks."""
    registry = BlockRegistry()
    package = importlib.import_module(package_name)
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
        relative = info.name[len(package_name) + 1:]
        if "." not in relative and not info.ispkg:
            continue  # base.py and other helpers directly under blocks/ hold no blocks
        try:
            module = importlib.import_module(info.name)
        except Exception as error:
            logger.exception("workflow block module %s failed to import", info.name)
            registry.failed_modules[info.name] = f"{type(error).__name__}: {error}"
            continue
        for block in _block_classes(module):
            registry.register(block)
    logger.debug("workflow registry: %d type ids", len(registry.blocks))
    return registry


_default: BlockRegistry | None = None
_lock = threading.Lock()


def default_registry() -> BlockRegistry:
    """The registry of the installed blocks (discovered once per process)."""
    global _default
    with _lock:
        if _default is None:
            _default = discover()
        return _default
