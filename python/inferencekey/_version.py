"""The package version; the native library reports its own through ``ik_version()``."""

__version__ = "1.0.0"
