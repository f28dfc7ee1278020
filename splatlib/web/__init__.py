"""The web gallery and API (`splatlib serve`)."""
