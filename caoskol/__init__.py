"""Caoskol: nightly reports of a school's annual test results.

The shared package: DAG tasks, Spark apps and the portal all import from here so that
each fact (a column list, a connection id, a policy) lives in one place.
"""

__version__ = "0.1.0"
