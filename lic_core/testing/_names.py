"""The names lic_core.testing.strategies defines: one list, read by the package's lazy
__getattr__ (which must not import Hypothesis to know them) and by the module's __all__."""

STRATEGY_NAMES = (
    "cdf_tables", "table_sets", "hostile_cdf_tables", "HOSTILE_KINDS",
    "symbols_and_indexes", "coding_cases", "bad_indexes", "INT32_EXTREMES",
    "scales", "means", "gaussian_params",
    "image_arrays", "pil_images", "images", "IMAGE_CHANNELS", "PIL_MODES",
    "lic_files", "lic_bytes", "model_files", "ModelFile",
    "damaged", "damaged_bytes", "DAMAGE_OPS",
)
