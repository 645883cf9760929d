"""``cxmine conform`` as a user runs it: what a fresh process imports, and the same result as the library.

The command loads numba and the kernels in a thread while Arrow reads the log,
with numba's check for scipy's BLAS skipped (engine.analyses.conformance.load_kernels);
pandas, pm4py and scipy.linalg are never imported, and scipy.linalg imports as
usual afterwards.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOP = ROOT / "models" / "lost_card.bpmn"

RUN = """
import sys
from engine.cli import main
sys.argv = ["cxmine", "conform", sys.argv[1], "--sop", sys.argv[2], "--json", "--quiet"]
try:
    main(standalone_mode=False)
finally:
    sys.stdout.flush()
    loaded = [m for m in ("pandas", "pm4py", "scipy.linalg") if m in sys.modules]
    import scipy.linalg.cython_blas  # noqa: F401 - still importable
    print(json.dumps(loaded), file=sys.stderr)
"""


def test_conform_imports_no_pandas_pm4py_or_scipy_linalg_and_gives_the_library_result(small_log):
    from engine.analyses.conformance import check_conformance
    from engine.cli.conform import _encode
    from engine.model import load_sop
    from engine.report.outputs import to_json

    out = subprocess.run([sys.executable, "-c", "import json\n" + RUN, small_log, str(SOP)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    assert json.loads(out.stderr.strip().splitlines()[-1]) == []
    expect = check_conformance(_encode(small_log, (), {}), load_sop(SOP)).as_dict()
    assert out.stdout.strip() == to_json({**expect, "warning": json.loads(out.stdout)["warning"]})


def test_load_kernels_leaves_blas_for_later_kernels():
    code = """
import numpy as np
from engine.analyses.conformance import load_kernels
from engine.model import load_sop
load_kernels(load_sop(sys.argv[1]))
import scipy.linalg
from numba import njit
a = np.arange(6.0).reshape(2, 3)
print(njit(lambda x: x @ x.T)(a).tolist())
"""
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code, str(SOP)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    a = np.arange(6.0).reshape(2, 3)
    assert json.loads(out.stdout) == (a @ a.T).tolist()
