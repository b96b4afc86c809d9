"""Tests of lic_core/cli/: the `lic` program driven as a user drives it."""
