"""Tests of lic_core/training/ and the training tools (widen, graft)."""
