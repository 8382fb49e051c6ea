"""ConvScope: watch a convolutional network think, layer by layer, in your browser.

One import package with these parts (each maps a folder of the repository, see pyproject.toml):
``convscope.kernels`` (Numba kernels and their NumPy twins), ``convscope.convnet`` (layers, the
network, training, data), ``convscope.server`` (the Flask app and the ``convscope`` command), and the
package data ``convscope.static``, ``convscope.templates`` and ``convscope.models``, found with
:func:`convscope.resources.data_path` so an installed wheel works from any directory.
"""
__version__ = "0.2.0"
