"""Tests of lic_core/zoo/: the families, their weights and releases, the integer path."""
