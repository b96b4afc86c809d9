"""What the zoo ships is answered without torch: lic models, lic info and the api's
model cache ask it, and torch's import costs about a second."""
import subprocess
import sys


def test_listing_the_zoo_and_reading_a_files_metadata_do_not_import_torch():
    code = ("import sys, lic_core.zoo as zoo\n"
            "from lic_core.zoo import catalog\n"
            "shipped = zoo.list_models()\n"
            "assert shipped['joint'] and shipped['factorized'], shipped\n"
            "path, folder = catalog.locate('joint', 3)\n"
            "assert zoo.read_metadata(path)['architecture'] == 'joint'\n"
            "print('torch' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in __import__("os").environ.items() if k != "LIC_WEIGHTS_DIR"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_the_catalog_and_the_loader_agree_on_the_file():
    from lic_core import zoo
    from lic_core.zoo import catalog, weights
    assert weights.locate is catalog.locate and weights.shipped_files is catalog.shipped_files
    path, _ = catalog.locate("hyperprior", 5)
    assert path.name == "hyperprior-q1-8.safetensors"
    assert zoo.load("hyperprior", 5).quality == 5
