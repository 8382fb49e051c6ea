"""Package data: the pages' static files (ES modules, CSS, images), found with importlib.resources."""
