"""The ``lic`` program (also ``python -m lic_core``): one module per command."""
from .main import main

__all__ = ["main"]
