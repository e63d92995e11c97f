"""Models whose own code fails: the errors must point at the user's line."""
