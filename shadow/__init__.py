"""shadow: dual-run shadow comparison and cutover readiness."""

__version__ = "0.1.0"
