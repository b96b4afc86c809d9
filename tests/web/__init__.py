"""Tests of web/, the browser decoder, and `lic serve`."""
