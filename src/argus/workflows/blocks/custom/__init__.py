"""Custom Python blocks (``dynamic_blocks_definitions``); the compiler's hook is :func:`compile_dynamic_blocks`."""

from argus.workflows.blocks.custom.dynamic import compile_dynamic_blocks

__all__ = ["compile_dynamic_blocks"]
