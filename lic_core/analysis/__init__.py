"""Measuring codecs: information-theoretic estimators and rate reports (:mod:`.info`),
image metrics and Bjøntegaard deltas (:mod:`.rd`), and rate-distortion evaluation
against JPEG, WebP and AVIF (:mod:`.evaluate`, ``lic eval``)."""
