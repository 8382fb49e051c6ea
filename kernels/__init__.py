"""ConvScope numeric kernels: float32 NumPy in, float32 NumPy out, compiled with Numba."""
from . import _config  # noqa: F401  (must run before numba is imported)
from .conv import conv2d, conv2d_batch, conv2d_tabled, conv_tables
from .conv_backward import conv2d_backward, conv2d_backward_batch, conv2d_backward_params_batch
from .conv_relu_pool import conv2d_relu_max_pool2d_batch, conv2d_relu_max_pool2d_backward_batch
from .conv_relu_pool import conv2d_relu_max_pool2d_backward_params_batch
from .conv_lab import conv2d_parallel, conv2d_depthwise
from .pool import max_pool2d, max_pool2d_backward, max_pool2d_batch, max_pool2d_backward_batch
from .pool import avg_pool2d, avg_pool2d_backward, avg_pool2d_batch, avg_pool2d_backward_batch
from .pool import avg_pool2d_exclusive, avg_pool2d_exclusive_batch
from .pool import avg_pool2d_exclusive_backward, avg_pool2d_exclusive_backward_batch
from .channelwise import CODES as CHANNEL_CODES, channel_steps, channel_steps_batch, channel_steps_backward, channel_steps_backward_batch
from .pool import l2_pool2d, l2_pool2d_backward, l2_pool2d_batch, l2_pool2d_backward_batch
from .affine import affine_warp_batch, random_affine_mats
from .elastic import elastic_warp_batch, random_elastic_fields
from .activations import ACTIVATIONS, TAKES_ALPHA, relu, relu_backward, leaky_relu, leaky_relu_backward
from .activations import sigmoid, sigmoid_backward, tanh, tanh_backward
from .activations import lecun_tanh, lecun_tanh_backward, softplus, softplus_backward, elu, elu_backward
from .dense import dense, dense_batch, dense_backward_batch, softmax, softmax_batch, cross_entropy
from .geometry import conv_output_size, resolve_padding, receptive_fields, param_count
from .conv_gemm import gather_rows, gather_relu_max_pool
from .fused import conv2d_relu_max_pool2d_tabled, dense_relu, dense_softmax
