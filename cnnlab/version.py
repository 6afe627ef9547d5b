"""cnnlab's version, in a module of its own: `cnnlab/__init__.py` is not run when a folder
named `cnnlab` in the current directory (the clone itself, seen from the folder holding it)
makes Python take `cnnlab` for a namespace package, and the command line must still start."""

__version__ = "0.2.0"
