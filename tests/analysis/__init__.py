"""Tests of lic_core/analysis/: estimators, rate reports, RD measures and evaluation."""
