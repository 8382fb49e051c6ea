"""Package data: the shipped models (.npz + card) and MNIST samples, found with importlib.resources."""
