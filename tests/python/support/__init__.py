"""Test helpers shared by the Python test suites (no test functions here).

- :mod:`support.httpio`: reading requests and comparing JSON values the way the conformance
  vectors define it.
- :mod:`support.replay`: ``ReplayServer``, the fake control plane that replays
  ``../shared/conformance`` exchanges.
- :mod:`support.recording`: ``RecordingProxy``, a tap in front of the real local platform that
  records which requests reached it.
"""
