"""Integration tests against a real local platform (``inferencekey.testing.DevServer``).

A package so that module names here (e.g. ``test_errors``) cannot clash with the unit suite's.
"""
