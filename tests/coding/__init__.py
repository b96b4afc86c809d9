"""Tests of lic_core/coding/ (the coder faces, tables, ans, the integer networks, the
whole-file decoder) and of the C engine behind them through its C ABI."""
