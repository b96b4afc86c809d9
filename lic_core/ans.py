"""Public import path of :mod:`lic_core.coding.ans` (the README's ``lic_core.ans``).

The module lives in :mod:`lic_core.coding` with the other NumPy-only faces; this file
makes ``lic_core.ans`` the very same module object, so attributes, isinstance checks
and monkeypatching agree whichever path a caller imported.
"""
import sys

from .coding import ans as _module

sys.modules[__name__] = _module
