"""Push integrations: the Gradient-compatible Vendor API vendors such as Mailprotector call."""

DEFAULT_PORT = 8787  # where the Vendor API listens unless told otherwise (here: no imports)
