"""okta-calls: keep, search and analyse the phone calls and SMS that Okta places to verify users."""

__version__ = "0.1.0"
