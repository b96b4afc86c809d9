"""Tests that cross every layer: determinism, portability, golden files, the import
layering, the README and the examples, the suite's own environment."""
