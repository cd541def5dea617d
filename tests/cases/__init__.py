"""Copies of the shared real cases (../shared/cases), so that the suite runs on a clean clone.

Each file builds a source model and reference values with plain Keras; the tests in
tests/test_cases.py perform the edits with keras_widget and assert every bullet of each docstring.
"""
