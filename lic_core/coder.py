"""Public import path of :mod:`lic_core.coding.coder` (the README's ``lic_core.coder``).

The module lives in :mod:`lic_core.coding` with the other NumPy-only faces; this file
makes ``lic_core.coder`` the very same module object, so attributes, isinstance checks
and monkeypatching agree whichever path a caller imported.
"""
import sys

from .coding import coder as _module

sys.modules[__name__] = _module
