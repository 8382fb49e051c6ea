"""The network between the kernels and the server: layers, trace, training, data and weight files."""
from .network import Activation, Network, Trace, default_model_path, MODELS_DIR
from .spec import ARCHITECTURES, LENET, architecture

__all__ = ["Activation", "Network", "Trace", "default_model_path", "MODELS_DIR", "ARCHITECTURES",
           "LENET", "architecture"]
