"""The models: panel, demand model and its terms, sampler, diagnostics, forecasts, side models."""

import os

# The one place XLA_FLAGS is set. JAX reads it when its CPU backend starts, so it is set when this
# package is imported, which every fit, forecast and entry point does before it runs anything in JAX:
# one host device per chain lets the chains run in parallel on the CPU. A value the user set wins.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
