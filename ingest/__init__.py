"""Filled by the pipeline issue."""
