"""The CLI tests' fixture: ``lic`` runs the program in this process with the tiny zoo."""
import pytest


@pytest.fixture
def lic(tiny_zoo, monkeypatch, capsys):
    """``lic(*args) -> (status, stdout, stderr)``: ``lic_core.cli.main.main`` in this
    process, with the weights of tests/conftest.py's ``tiny_zoo`` (quality
    ``tests.cli.helpers.QUALITY`` only); a usage error's SystemExit is returned as its
    status (2)."""
    from lic_core.cli.main import main
    monkeypatch.setenv("LIC_WEIGHTS_DIR", str(tiny_zoo))

    def run(*args):
        capsys.readouterr()
        try:
            status = main([str(a) for a in args])
        except SystemExit as e:
            status = e.code
        out, err = capsys.readouterr()
        return status, out, err
    return run
