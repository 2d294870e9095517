"""Push integrations: the Gradient-compatible Vendor API vendors such as Mailprotector call."""
