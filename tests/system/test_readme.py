"""The README's examples and commands stay true."""
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_coder_example_runs_with_numpy_alone():
    blocks = [b for b in _python_blocks() if "from lic_core import coder" in b]
    assert blocks, "README lost its coder example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_the_first_two_commands_are_install_plus_demo_and_the_test_command():
    commands = [line for line in re.search(r"```bash\n(.*?)```", README, flags=re.S).group(1)
                .splitlines() if line and not line.startswith("#")]
    assert commands[0] == 'pip install torch==2.13.0 && pip install -e ".[dev]" && lic demo'
    assert commands[1] == "python -m pytest -q"
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "\npython -m pytest -q\n" in ci, ".ci/run must run the README's test command"


def test_the_rd_table_in_the_readme_is_the_one_lic_eval_wrote():
    """The README shows the measured kodak-dev table verbatim (docs/training/, written by
    `lic eval`), and the plot next to it exists."""
    root = Path(__file__).resolve().parents[2]
    table = (root / "docs" / "training" / "rd_table.md").read_text().strip()
    assert table in README, "README's RD table differs from docs/training/rd_table.md"
    assert "(docs/training/rd.png)" in README and (root / "docs" / "training" / "rd.png").is_file()


def test_the_main_jobs_description_matches_the_demos_defaults():
    """The first command's comment says what `lic demo` runs; it must stay what it runs."""
    from lic_core.cli.demo import DEMO_CROP, default_qualities
    block = re.search(r"```bash\n(.*?)```", README, flags=re.S).group(1)
    assert f"{DEMO_CROP}x{DEMO_CROP} crops" in block
    assert "low, middle and high quality" in block and default_qualities(list(range(1, 9))) == [1, 4, 8]


def test_the_effort_table_in_the_readme_is_the_one_lic_eval_wrote():
    """The effort levels' BD-rate table (per family and effort, with encode seconds per
    image) is the one `lic eval --effort` wrote to docs/training/effort/, verbatim, and
    its plot is shown next to it."""
    root = Path(__file__).resolve().parents[2]
    written = (root / "docs" / "training" / "effort" / "rd_table.md").read_text().strip()
    bd = written[written.index("| BD-rate"):]
    assert "| effort |" in bd.splitlines()[0] and "encode s/image" in bd.splitlines()[0]
    assert bd in README, "README's effort table differs from docs/training/effort/rd_table.md"
    assert "(docs/training/effort/rd.png)" in README
    assert (root / "docs" / "training" / "effort" / "rd.png").is_file()
