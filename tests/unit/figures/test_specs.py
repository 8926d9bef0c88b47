"""The figure tables: each Spec names a drawing function that exists, and the tables load light
(the Snakefile imports them to plan every run)."""

import subprocess
import sys

from nntopo import figures
from nntopo.figures import draw


def test_every_spec_names_one_function_of_draw():
    for name, spec in figures.SPECS.items():
        assert (spec.draw is None) != (spec.write is None), name
        assert callable(getattr(draw, spec.draw or spec.write)), name


def test_the_tables_load_without_the_drawing_libraries():
    heavy = ("numpy", "pandas", "matplotlib", "torch", "h5py", "nntopo.figures.draw")
    code = f"import sys, nntopo.figures; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
