"""Tests of lic_core/testing/: the strategies and assertions lic-core ships for codecs."""
