"""cxmine: process mining and SOP conformance for contact centers.

The import name is ``engine``; the command line is ``cxmine``.
"""

__version__ = "0.1.0"
