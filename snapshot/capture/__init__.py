"""Record the live model: constructor arguments, inputs, and a probe batch."""
