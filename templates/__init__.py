"""Package data: the Jinja templates of the pages, found with importlib.resources."""
