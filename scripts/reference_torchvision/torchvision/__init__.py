"""Stand-in for torchvision in the reference's venv: PyPI's torchvision wheels need CUDA torch."""
from . import io, ops, transforms  # noqa: F401
