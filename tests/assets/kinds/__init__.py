"""Models of the kinds beyond a plain subclassed model with a call() method."""
