"""Helpers of `make chaos` (scripts/chaos.py): private databases, the stack, simulated guests and staff, checks."""
