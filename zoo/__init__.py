"""lic_core.zoo: the model families, loaded by name and quality."""
