"""Tests of lic_core/models/: layers, entropy models, the float loop's threads."""
