"""Public import path of :mod:`lic_core.coding.tables` (the README's ``lic_core.tables``).

The module lives in :mod:`lic_core.coding` with the other NumPy-only faces; this file
makes ``lic_core.tables`` the very same module object, so attributes, isinstance checks
and monkeypatching agree whichever path a caller imported.
"""
import sys

from .coding import tables as _module

sys.modules[__name__] = _module
