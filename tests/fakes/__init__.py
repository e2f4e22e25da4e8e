"""Stand-ins for external services that tests run for real over loopback HTTP."""
