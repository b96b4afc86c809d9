"""Building blocks of the torch models: layers (GDN, masked convolution) and entropy
models (factorized bottleneck, Gaussian conditional). The families that combine them
live in :mod:`lic_core.zoo`."""
