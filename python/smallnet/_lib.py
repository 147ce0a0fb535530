"""Low-level binding of ``libsmallnet.so``: loading, structs, and one table of prototypes.

Everything here mirrors ``include/smallnet.h`` one to one; the classes in the other modules
are built on top of it. The library is looked for, in order, at

1. the path in the environment variable ``SMALLNET_LIBRARY``,
2. ``libsmallnet.so`` next to this file (an installed package),
3. ``build/lib/libsmallnet.so`` of the source tree this file belongs to.

The first one that loads is used; when none does, :class:`LibraryNotFoundError` lists every
path tried and why it failed. At import the library's ``sn_abi_version()`` must equal
:data:`ABI_VERSION`, and the CPU must be able to run it (``sn_isa()`` is not "none": an x86-64-v2
CPU), else :class:`ImportError` is raised with the library's reason.
"""

from __future__ import annotations

import ctypes
import os
import warnings
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint8,
    c_uint64,
    c_void_p,
)
from pathlib import Path

__all__ = [
    "ABI_VERSION",
    "FUNCTIONS",
    "LibraryNotFoundError",
    "candidate_paths",
    "lib",
    "library_path",
    "load_library",
]

# ============================================================================ Constants ===

VERSION_MAJOR = 0
VERSION_MINOR = 1
VERSION_PATCH = 0
ABI_VERSION = 1

SN_OK = 0
SN_ERR_INVALID_ARGUMENT = 1
SN_ERR_SHAPE_MISMATCH = 2
SN_ERR_OUT_OF_MEMORY = 3
SN_ERR_IO = 4
SN_ERR_BAD_STATE = 5
SN_ERR_NOT_FOUND = 6
SN_ERR_INTERNAL = 7
SN_ERR_DIVERGED = 8
SN_ERR_UNSUPPORTED_CPU = 9

SN_LAYER_LINEAR = 1
SN_LAYER_RELU = 2
SN_LAYER_DROPOUT = 3
SN_LAYER_BATCHNORM1D = 4
SN_LAYER_FLATTEN = 5
SN_LAYER_CONV2D = 6
SN_LAYER_MAXPOOL2D = 7
SN_LAYER_AVGPOOL2D = 8
SN_LAYER_BATCHNORM2D = 9
SN_LAYER_GLOBALAVGPOOL2D = 10
# activations and normalisation
SN_LAYER_LEAKY_RELU = 11
SN_LAYER_ELU = 12
SN_LAYER_GELU = 13
SN_LAYER_SILU = 14
SN_LAYER_TANH = 15
SN_LAYER_SIGMOID = 16
SN_LAYER_SOFTMAX = 17
SN_LAYER_LOG_SOFTMAX = 18
SN_LAYER_DROPOUT2D = 19
SN_LAYER_LAYERNORM = 20
SN_GELU_NONE = 0
SN_GELU_TANH = 1

SN_INIT_KAIMING = 0
SN_INIT_PYTORCH = 1
SN_INIT_XAVIER_UNIFORM = 2
SN_INIT_XAVIER_NORMAL = 3
SN_INIT_ORTHOGONAL = 4
SN_INIT_KAIMING_FAN_OUT = 5
SN_INIT_KAIMING_UNIFORM = 6

SN_CNN_HEAD_LINEAR = 0
SN_CNN_HEAD_GLOBAL_AVERAGE = 1

SN_OPTIMIZER_SGD = 0
SN_OPTIMIZER_RMSPROP = 1
SN_OPTIMIZER_ADAM = 2
SN_OPTIMIZER_ADAMW = 3
SN_OPTIMIZER_ADAGRAD = 4

SN_SCHEDULE_CONSTANT = 0
SN_SCHEDULE_STEP = 1
SN_SCHEDULE_COSINE = 2
SN_SCHEDULE_EXPONENTIAL = 3
SN_SCHEDULE_ONE_CYCLE = 4
SN_SCHEDULE_REDUCE_ON_PLATEAU = 5

SN_ANNEAL_COS = 0
SN_ANNEAL_LINEAR = 1

SN_ARCH_FCN = 0
SN_ARCH_CNN = 1

SN_LOSS_CROSS_ENTROPY = 0
SN_LOSS_NLL = 1
SN_LOSS_MSE = 2
SN_LOSS_L1 = 3
SN_LOSS_SMOOTH_L1 = 4
SN_LOSS_HUBER = 5
SN_LOSS_BCE_WITH_LOGITS = 6

SN_REDUCTION_MEAN = 0
SN_REDUCTION_SUM = 1
SN_REDUCTION_NONE = 2

SN_TENSOR_INIT_KAIMING_NORMAL = 0
SN_TENSOR_INIT_KAIMING_UNIFORM = 1
SN_TENSOR_INIT_XAVIER_NORMAL = 2
SN_TENSOR_INIT_XAVIER_UNIFORM = 3
SN_TENSOR_INIT_ORTHOGONAL = 4
SN_TENSOR_INIT_UNIFORM = 5
SN_TENSOR_INIT_NORMAL = 6
SN_TENSOR_INIT_CONSTANT = 7

SN_FAN_IN = 0
SN_FAN_OUT = 1

SN_NONLINEARITY_LINEAR = 0
SN_NONLINEARITY_SIGMOID = 1
SN_NONLINEARITY_TANH = 2
SN_NONLINEARITY_RELU = 3
SN_NONLINEARITY_LEAKY_RELU = 4
SN_NONLINEARITY_SELU = 5

# torch.nn.init's spellings of the codes above (torch's conv* have gain 1, as linear).
FAN_MODE_CODES = {"fan_in": SN_FAN_IN, "fan_out": SN_FAN_OUT}
NONLINEARITY_CODES = {
    "linear": SN_NONLINEARITY_LINEAR,
    "conv1d": SN_NONLINEARITY_LINEAR,
    "conv2d": SN_NONLINEARITY_LINEAR,
    "conv3d": SN_NONLINEARITY_LINEAR,
    "conv_transpose1d": SN_NONLINEARITY_LINEAR,
    "conv_transpose2d": SN_NONLINEARITY_LINEAR,
    "conv_transpose3d": SN_NONLINEARITY_LINEAR,
    "sigmoid": SN_NONLINEARITY_SIGMOID,
    "tanh": SN_NONLINEARITY_TANH,
    "relu": SN_NONLINEARITY_RELU,
    "leaky_relu": SN_NONLINEARITY_LEAKY_RELU,
    "selu": SN_NONLINEARITY_SELU,
}

# Names of the codes above, as the Python API spells them.
ARCH_CODES = {"fcn": SN_ARCH_FCN, "cnn": SN_ARCH_CNN}
OPTIMIZER_CODES = {
    "sgd": SN_OPTIMIZER_SGD,
    "rmsprop": SN_OPTIMIZER_RMSPROP,
    "adam": SN_OPTIMIZER_ADAM,
    "adamw": SN_OPTIMIZER_ADAMW,
    "adagrad": SN_OPTIMIZER_ADAGRAD,
}

SN_FASHION_MNIST_PIXEL_SCALE = 1.0 / 255.0
SN_FASHION_MNIST_MEAN = 0.2860
SN_FASHION_MNIST_STD = 0.3530
SN_MAX_CHANNELS = 16

# Convolution and pooling options
SN_LAYER_ADAPTIVEAVGPOOL2D = 21
SN_PADDING_SAME = -1

# ============================================================================== Structs ===

sn_status = c_int32
sn_model_p = c_void_p
sn_optimizer_p = c_void_p
sn_dataset_p = c_void_p


class sn_fcn_params(Structure):
    """``sn_fcn_params``: options of ``sn_model_create_fcn``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("channels", c_int32),
        ("height", c_int32),
        ("width", c_int32),
        ("classes", c_int32),
        ("hidden", POINTER(c_int32)),
        ("n_hidden", c_size_t),
        ("param_budget", c_int64),
        ("dropout", c_float),
        ("batchnorm", c_int32),
        ("init", c_int32),
        ("seed", c_uint64),
    ]


class sn_cnn_params(Structure):
    """``sn_cnn_params``: options of ``sn_model_create_cnn``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("channels", c_int32),
        ("height", c_int32),
        ("width", c_int32),
        ("classes", c_int32),
        ("widths", POINTER(c_int32)),
        ("n_blocks", c_size_t),
        ("param_budget", c_int64),
        ("head", c_int32),
        ("dropout", c_float),
        ("init", c_int32),
        ("seed", c_uint64),
    ]


class sn_layer_info(Structure):
    """``sn_layer_info``: description of one layer."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("kind", c_int32),
        ("n_params", c_int64),
        ("rank", c_int32),
        ("shape", c_int64 * 4),
        ("summary", c_char * 96),
    ]


class sn_tensor_info(Structure):
    """``sn_tensor_info``: description of one named tensor."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("name", c_char * 64),
        ("rank", c_int32),
        ("shape", c_int64 * 8),
        ("count", c_int64),
        ("trainable", c_int32),
    ]


class sn_optimizer_params(Structure):
    """``sn_optimizer_params``: optimizer hyper-parameters."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("kind", c_int32),
        ("lr", c_float),
        ("momentum", c_float),
        ("dampening", c_float),
        ("nesterov", c_int32),
        ("weight_decay", c_float),
        ("alpha", c_float),
        ("centered", c_int32),
        ("beta1", c_float),
        ("beta2", c_float),
        ("eps", c_float),
    ]


class sn_schedule(Structure):
    """``sn_schedule``: learning-rate schedule."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("kind", c_int32),
        ("step_size", c_int32),
        ("gamma", c_float),
        ("warmup_epochs", c_float),
        ("min_lr", c_float),
    ]


class sn_loss_params(Structure):
    """``sn_loss_params``: options of a loss (``sn_loss``, ``sn_train_options.loss``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("kind", c_int32),
        ("reduction", c_int32),
        ("label_smoothing", c_float),
        ("ignore_index", c_int32),
        ("class_weights", POINTER(c_float)),
        ("n_class_weights", c_size_t),
        ("beta", c_float),
        ("delta", c_float),
        ("pos_weight", POINTER(c_float)),
        ("n_pos_weight", c_size_t),
    ]


class sn_train_params(Structure):
    """``sn_train_params``: settings of ``sn_fit``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("epochs", c_int32),
        ("batch_size", c_int32),
        ("seed", c_uint64),
        ("schedule", sn_schedule),
        ("label_smoothing", c_float),
        ("crop_padding", c_int32),
        ("horizontal_flip", c_int32),
        ("threads", c_int32),
        ("validation", sn_dataset_p),
    ]


class sn_optimizer_options(Structure):
    """``sn_optimizer_options``: optimizer settings beyond ``sn_optimizer_params``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("amsgrad", c_int32),
        ("maximize", c_int32),
        ("lr_decay", c_float),
        ("initial_accumulator_value", c_float),
    ]


class sn_schedule_options(Structure):
    """``sn_schedule_options``: schedule settings beyond ``sn_schedule``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("warmup_every_kind", c_int32),
        ("pct_start", c_float),
        ("anneal_strategy", c_int32),
        ("div_factor", c_float),
        ("final_div_factor", c_float),
        ("factor", c_float),
        ("patience", c_int32),
        ("threshold", c_float),
        ("cooldown", c_int32),
    ]


class sn_train_options(Structure):
    """``sn_train_options``: further settings of ``sn_fit_with_options`` (loss, clipping,
    schedule settings)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("loss", sn_loss_params),
        # appended after the first sn_train_options
        ("clip_grad_norm", c_float),
        ("clip_grad_value", c_float),
        ("schedule", sn_schedule_options),
    ]


class sn_tensor_init(Structure):
    """``sn_tensor_init``: how ``sn_model_init_tensor`` refills a tensor (torch.nn.init)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("scheme", c_int32),
        ("mode", c_int32),
        ("nonlinearity", c_int32),
        ("a", c_float),
        ("gain", c_float),
        ("low", c_float),
        ("high", c_float),
        ("mean", c_float),
        ("std", c_float),
        ("value", c_float),
        ("seed", c_uint64),
    ]


class sn_progress(Structure):
    """``sn_progress``: what the progress callback sees."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("epoch", c_int32),
        ("epochs", c_int32),
        ("step", c_int64),
        ("steps_per_epoch", c_int64),
        ("loss", c_float),
        ("learning_rate", c_float),
        ("images_per_second", c_double),
        ("epoch_end", c_int32),
        ("train_loss", c_float),
        ("train_accuracy", c_float),
        ("eval_loss", c_float),
        ("eval_accuracy", c_float),
        ("epoch_seconds", c_double),
    ]


class sn_epoch_record(Structure):
    """``sn_epoch_record``: one epoch of the training history."""

    _fields_ = [
        ("epoch", c_int32),
        ("train_loss", c_float),
        ("train_accuracy", c_float),
        ("eval_loss", c_float),
        ("eval_accuracy", c_float),
        ("learning_rate", c_float),
        ("seconds", c_double),
    ]


class sn_preprocessing(Structure):
    """``sn_preprocessing``: how raw pixels become model inputs."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("known", c_int32),
        ("pixel_scale", c_float),
        ("channels", c_int32),
        ("mean", c_float * SN_MAX_CHANNELS),
        ("std", c_float * SN_MAX_CHANNELS),
    ]


# typedef int (*sn_progress_fn)(const sn_progress *progress, void *user);
sn_progress_fn = CFUNCTYPE(c_int, POINTER(sn_progress), c_void_p)

class sn_conv2d_params(Structure):
    """``sn_conv2d_params``: options of ``sn_model_add_conv2d_ex``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("out_channels", c_int32),
        ("kernel_size", c_int32),
        ("stride", c_int32),
        ("padding", c_int32),
        ("dilation", c_int32),
        ("groups", c_int32),
        ("bias", c_int32),
        ("init", c_int32),
        ("seed", c_uint64),
    ]


class sn_layer_profile(Structure):
    """``sn_layer_profile``: one layer's part of a training step."""

    _fields_ = [
        ("forward_seconds", c_double),
        ("backward_seconds", c_double),
        ("forward_flops", c_int64),
        ("backward_flops", c_int64),
    ]


class sn_step_profile(Structure):
    """``sn_step_profile``: a training step taken apart."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("batch_size", c_int32),
        ("threads", c_int32),
        ("steps", c_int32),
        ("step_seconds", c_double),
        ("loss_seconds", c_double),
        ("optimizer_seconds", c_double),
        ("fma_limit_gflops", c_double),
    ]


STRUCTS = {
    "sn_fcn_params": sn_fcn_params,
    "sn_cnn_params": sn_cnn_params,
    "sn_layer_info": sn_layer_info,
    "sn_tensor_info": sn_tensor_info,
    "sn_optimizer_params": sn_optimizer_params,
    "sn_schedule": sn_schedule,
    "sn_loss_params": sn_loss_params,
    "sn_optimizer_options": sn_optimizer_options,
    "sn_schedule_options": sn_schedule_options,
    "sn_train_params": sn_train_params,
    "sn_train_options": sn_train_options,
    "sn_tensor_init": sn_tensor_init,
    "sn_progress": sn_progress,
    "sn_epoch_record": sn_epoch_record,
    "sn_preprocessing": sn_preprocessing,
    "sn_conv2d_params": sn_conv2d_params,
    "sn_layer_profile": sn_layer_profile,
    "sn_step_profile": sn_step_profile,
}

# =========================================================================== Prototypes ===

_float_p = POINTER(c_float)
_int32_p = POINTER(c_int32)
_int64_p = POINTER(c_int64)
_size_p = POINTER(c_size_t)
_char_buf = POINTER(c_char)
_model_pp = POINTER(sn_model_p)
_optimizer_pp = POINTER(sn_optimizer_p)
_dataset_pp = POINTER(sn_dataset_p)
_uint8_p = POINTER(c_uint8)
_strings = POINTER(c_char_p)
_preprocessing_p = POINTER(sn_preprocessing)

# name: (restype, argtypes), in the order of smallnet.h.
FUNCTIONS: dict[str, tuple[object, list[object]]] = {
    # const char *sn_version_string(void);
    "sn_version_string": (c_char_p, []),
    # uint32_t sn_abi_version(void);
    "sn_abi_version": (c_uint32, []),
    # const char *sn_last_error(void);
    "sn_last_error": (c_char_p, []),
    # const char *sn_status_string(sn_status status);
    "sn_status_string": (c_char_p, [sn_status]),
    # sn_status sn_set_num_threads(int32_t n);
    "sn_set_num_threads": (sn_status, [c_int32]),
    # int32_t sn_get_num_threads(void);
    "sn_get_num_threads": (c_int32, []),
    # sn_status sn_model_create(int32_t channels, int32_t height, int32_t width, sn_model **out);
    "sn_model_create": (sn_status, [c_int32, c_int32, c_int32, _model_pp]),
    # sn_status sn_model_add_linear(sn_model *model, int32_t out_features, int32_t bias, int32_t init,
    #                               uint64_t seed);
    "sn_model_add_linear": (sn_status, [sn_model_p, c_int32, c_int32, c_int32, c_uint64]),
    # sn_status sn_model_add_relu(sn_model *model);
    "sn_model_add_relu": (sn_status, [sn_model_p]),
    # sn_status sn_model_add_dropout(sn_model *model, float p);
    "sn_model_add_dropout": (sn_status, [sn_model_p, c_float]),
    # sn_status sn_model_add_batchnorm1d(sn_model *model, float momentum, float eps);
    "sn_model_add_batchnorm1d": (sn_status, [sn_model_p, c_float, c_float]),
    # sn_status sn_model_add_flatten(sn_model *model);
    "sn_model_add_flatten": (sn_status, [sn_model_p]),
    # sn_status sn_model_add_conv2d(sn_model *model, int32_t out_channels, int32_t kernel_size, int32_t stride,
    #                               int32_t padding, int32_t bias, int32_t init, uint64_t seed);
    "sn_model_add_conv2d": (sn_status, [sn_model_p, c_int32, c_int32, c_int32, c_int32, c_int32, c_int32, c_uint64]),
    # sn_status sn_model_add_maxpool2d(sn_model *model, int32_t kernel_size, int32_t stride);
    "sn_model_add_maxpool2d": (sn_status, [sn_model_p, c_int32, c_int32]),
    # sn_status sn_model_add_avgpool2d(sn_model *model, int32_t kernel_size, int32_t stride);
    "sn_model_add_avgpool2d": (sn_status, [sn_model_p, c_int32, c_int32]),
    # sn_status sn_model_add_globalavgpool2d(sn_model *model);
    "sn_model_add_globalavgpool2d": (sn_status, [sn_model_p]),
    # sn_status sn_model_add_batchnorm2d(sn_model *model, float momentum, float eps);
    "sn_model_add_batchnorm2d": (sn_status, [sn_model_p, c_float, c_float]),
    # sn_status sn_fcn_params_default(sn_fcn_params *out);
    "sn_fcn_params_default": (sn_status, [POINTER(sn_fcn_params)]),
    # sn_status sn_model_create_fcn(const sn_fcn_params *params, sn_model **out);
    "sn_model_create_fcn": (sn_status, [POINTER(sn_fcn_params), _model_pp]),
    # sn_status sn_cnn_params_default(sn_cnn_params *out);
    "sn_cnn_params_default": (sn_status, [POINTER(sn_cnn_params)]),
    # sn_status sn_model_create_cnn(const sn_cnn_params *params, sn_model **out);
    "sn_model_create_cnn": (sn_status, [POINTER(sn_cnn_params), _model_pp]),
    # void sn_model_free(sn_model *model);
    "sn_model_free": (None, [sn_model_p]),
    # sn_status sn_model_n_params(const sn_model *model, int64_t *out);
    "sn_model_n_params": (sn_status, [sn_model_p, _int64_p]),
    # sn_status sn_model_input_shape(const sn_model *model, int32_t *channels, int32_t *height,
    #                                int32_t *width);
    "sn_model_input_shape": (sn_status, [sn_model_p, _int32_p, _int32_p, _int32_p]),
    # sn_status sn_model_n_outputs(const sn_model *model, int64_t *out);
    "sn_model_n_outputs": (sn_status, [sn_model_p, _int64_p]),
    # sn_status sn_model_n_layers(const sn_model *model, size_t *out);
    "sn_model_n_layers": (sn_status, [sn_model_p, _size_p]),
    # sn_status sn_model_layer_info(const sn_model *model, size_t index, sn_layer_info *out);
    "sn_model_layer_info": (sn_status, [sn_model_p, c_size_t, POINTER(sn_layer_info)]),
    # sn_status sn_model_set_training(sn_model *model, int32_t training);
    "sn_model_set_training": (sn_status, [sn_model_p, c_int32]),
    # sn_status sn_model_is_training(const sn_model *model, int32_t *out);
    "sn_model_is_training": (sn_status, [sn_model_p, _int32_p]),
    # sn_status sn_model_n_tensors(const sn_model *model, size_t *out);
    "sn_model_n_tensors": (sn_status, [sn_model_p, _size_p]),
    # sn_status sn_model_tensor_info(const sn_model *model, size_t index, sn_tensor_info *out);
    "sn_model_tensor_info": (sn_status, [sn_model_p, c_size_t, POINTER(sn_tensor_info)]),
    # sn_status sn_model_get_tensor(const sn_model *model, const char *name, float *dst, size_t capacity);
    "sn_model_get_tensor": (sn_status, [sn_model_p, c_char_p, _float_p, c_size_t]),
    # sn_status sn_model_set_tensor(sn_model *model, const char *name, const float *src, size_t count);
    "sn_model_set_tensor": (sn_status, [sn_model_p, c_char_p, _float_p, c_size_t]),
    # sn_status sn_model_get_grad(const sn_model *model, const char *name, float *dst, size_t capacity);
    "sn_model_get_grad": (sn_status, [sn_model_p, c_char_p, _float_p, c_size_t]),
    # sn_status sn_model_forward(sn_model *model, const float *input, size_t n, float *output,
    #                            size_t capacity);
    "sn_model_forward": (sn_status, [sn_model_p, _float_p, c_size_t, _float_p, c_size_t]),
    # sn_status sn_cross_entropy(const float *logits, const int32_t *labels, size_t n, size_t classes,
    #                            float label_smoothing, float *loss, float *dlogits);
    "sn_cross_entropy": (sn_status, [_float_p, _int32_p, c_size_t, c_size_t, c_float, _float_p, _float_p]),
    # sn_status sn_model_backward(sn_model *model, const float *dlogits, size_t n);
    "sn_model_backward": (sn_status, [sn_model_p, _float_p, c_size_t]),
    # sn_status sn_model_zero_grad(sn_model *model);
    "sn_model_zero_grad": (sn_status, [sn_model_p]),
    # sn_status sn_optimizer_params_default(int32_t kind, sn_optimizer_params *out);
    "sn_optimizer_params_default": (sn_status, [c_int32, POINTER(sn_optimizer_params)]),
    # sn_status sn_optimizer_create(sn_model *model, const sn_optimizer_params *params,
    #                               sn_optimizer **out);
    "sn_optimizer_create": (sn_status, [sn_model_p, POINTER(sn_optimizer_params), _optimizer_pp]),
    # sn_status sn_optimizer_step(sn_optimizer *optimizer);
    "sn_optimizer_step": (sn_status, [sn_optimizer_p]),
    # sn_status sn_optimizer_get_lr(const sn_optimizer *optimizer, float *out);
    "sn_optimizer_get_lr": (sn_status, [sn_optimizer_p, _float_p]),
    # sn_status sn_optimizer_set_lr(sn_optimizer *optimizer, float lr);
    "sn_optimizer_set_lr": (sn_status, [sn_optimizer_p, c_float]),
    # void sn_optimizer_free(sn_optimizer *optimizer);
    "sn_optimizer_free": (None, [sn_optimizer_p]),
    # sn_status sn_schedule_default(sn_schedule *out);
    "sn_schedule_default": (sn_status, [POINTER(sn_schedule)]),
    # sn_status sn_schedule_lr(const sn_schedule *schedule, float base_lr, int64_t step,
    #                          int64_t total_steps, int64_t steps_per_epoch, float *out);
    "sn_schedule_lr": (sn_status, [POINTER(sn_schedule), c_float, c_int64, c_int64, c_int64, _float_p]),
    # sn_status sn_dataset_load_fashion_mnist(const char *directory, int32_t train, int32_t verify,
    #                                         sn_dataset **out);
    "sn_dataset_load_fashion_mnist": (sn_status, [c_char_p, c_int32, c_int32, _dataset_pp]),
    # sn_status sn_dataset_load_idx(const char *images_path, const char *labels_path, int32_t classes,
    #                               float mean, float std, sn_dataset **out);
    "sn_dataset_load_idx": (sn_status, [c_char_p, c_char_p, c_int32, c_float, c_float, _dataset_pp]),
    # sn_status sn_dataset_from_memory(const float *images, const int32_t *labels, size_t n,
    #                                  int32_t channels, int32_t height, int32_t width, int32_t classes,
    #                                  sn_dataset **out);
    "sn_dataset_from_memory": (
        sn_status,
        [_float_p, _int32_p, c_size_t, c_int32, c_int32, c_int32, c_int32, _dataset_pp],
    ),
    # sn_status sn_dataset_size(const sn_dataset *dataset, size_t *out);
    "sn_dataset_size": (sn_status, [sn_dataset_p, _size_p]),
    # sn_status sn_dataset_shape(const sn_dataset *dataset, int32_t *channels, int32_t *height,
    #                            int32_t *width, int32_t *classes);
    "sn_dataset_shape": (sn_status, [sn_dataset_p, _int32_p, _int32_p, _int32_p, _int32_p]),
    # sn_status sn_dataset_get(const sn_dataset *dataset, size_t start, size_t count, float *images,
    #                          size_t images_capacity, int32_t *labels, size_t labels_capacity);
    "sn_dataset_get": (sn_status, [sn_dataset_p, c_size_t, c_size_t, _float_p, c_size_t, _int32_p, c_size_t]),
    # sn_status sn_dataset_class_name(const sn_dataset *dataset, int32_t index, char *dst,
    #                                 size_t capacity);
    "sn_dataset_class_name": (sn_status, [sn_dataset_p, c_int32, _char_buf, c_size_t]),
    # sn_status sn_dataset_subset(const sn_dataset *dataset, size_t start, size_t count,
    #                             sn_dataset **out);
    "sn_dataset_subset": (sn_status, [sn_dataset_p, c_size_t, c_size_t, _dataset_pp]),
    # sn_status sn_dataset_split(const sn_dataset *dataset, size_t holdout, uint64_t seed,
    #                            sn_dataset **rest, sn_dataset **held_out);
    "sn_dataset_split": (sn_status, [sn_dataset_p, c_size_t, c_uint64, _dataset_pp, _dataset_pp]),
    # void sn_dataset_free(sn_dataset *dataset);
    "sn_dataset_free": (None, [sn_dataset_p]),
    # sn_status sn_train_params_default(sn_train_params *out);
    "sn_train_params_default": (sn_status, [POINTER(sn_train_params)]),
    # sn_status sn_recipe_train_params(int32_t arch, sn_train_params *out);
    "sn_recipe_train_params": (sn_status, [c_int32, POINTER(sn_train_params)]),
    # sn_status sn_recipe_train_params_for_budget(int32_t arch, int64_t budget, sn_train_params *out);
    "sn_recipe_train_params_for_budget": (sn_status, [c_int32, c_int64, POINTER(sn_train_params)]),
    # sn_status sn_recipe_optimizer_params(int32_t arch, sn_optimizer_params *out);
    "sn_recipe_optimizer_params": (sn_status, [c_int32, POINTER(sn_optimizer_params)]),
    # sn_status sn_recipe_optimizer_params_for_budget(int32_t arch, int64_t budget, sn_optimizer_params *out);
    "sn_recipe_optimizer_params_for_budget": (sn_status, [c_int32, c_int64, POINTER(sn_optimizer_params)]),
    # sn_status sn_fit(sn_model *model, sn_optimizer *optimizer, const sn_dataset *train,
    #                  const sn_train_params *params, sn_progress_fn progress, void *user,
    #                  sn_epoch_record *history, size_t history_capacity, size_t *n_epochs);
    "sn_fit": (
        sn_status,
        [
            sn_model_p,
            sn_optimizer_p,
            sn_dataset_p,
            POINTER(sn_train_params),
            sn_progress_fn,
            c_void_p,
            POINTER(sn_epoch_record),
            c_size_t,
            _size_p,
        ],
    ),
    # sn_status sn_evaluate(sn_model *model, const sn_dataset *data, float *loss, float *accuracy,
    #                       int64_t *confusion, size_t confusion_capacity);
    "sn_evaluate": (sn_status, [sn_model_p, sn_dataset_p, _float_p, _float_p, _int64_p, c_size_t]),
    # sn_status sn_predict(sn_model *model, const sn_dataset *data, float *probabilities, size_t capacity);
    "sn_predict": (sn_status, [sn_model_p, sn_dataset_p, _float_p, c_size_t]),
    # sn_status sn_model_save(const sn_model *model, const char *path, const char *training_config);
    "sn_model_save": (sn_status, [sn_model_p, c_char_p, c_char_p]),
    # sn_status sn_model_load(const char *path, sn_model **out);
    "sn_model_load": (sn_status, [c_char_p, _model_pp]),
    # sn_status sn_checkpoint_metadata(const char *path, const char *key, char *dst, size_t capacity,
    #                                  size_t *length);
    "sn_checkpoint_metadata": (sn_status, [c_char_p, c_char_p, _char_buf, c_size_t, _size_p]),
    # sn_status sn_preprocessing_default(sn_preprocessing *out);
    "sn_preprocessing_default": (sn_status, [_preprocessing_p]),
    # sn_status sn_model_get_preprocessing(const sn_model *model, sn_preprocessing *out);
    "sn_model_get_preprocessing": (sn_status, [sn_model_p, _preprocessing_p]),
    # sn_status sn_model_set_preprocessing(sn_model *model, const sn_preprocessing *preprocessing);
    "sn_model_set_preprocessing": (sn_status, [sn_model_p, _preprocessing_p]),
    # sn_status sn_model_class_name(const sn_model *model, int32_t index, char *dst, size_t capacity);
    "sn_model_class_name": (sn_status, [sn_model_p, c_int32, _char_buf, c_size_t]),
    # sn_status sn_model_set_class_names(sn_model *model, const char *const *names, size_t n);
    "sn_model_set_class_names": (sn_status, [sn_model_p, _strings, c_size_t]),
    # sn_status sn_model_predict_u8(sn_model *model, const uint8_t *pixels, size_t n, float *probabilities,
    #                               size_t capacity);
    "sn_model_predict_u8": (sn_status, [sn_model_p, _uint8_p, c_size_t, _float_p, c_size_t]),
    # sn_status sn_model_clone(const sn_model *model, sn_model **out);
    "sn_model_clone": (sn_status, [sn_model_p, _model_pp]),
    # sn_status sn_model_save_to_buffer(const sn_model *model, const char *training_config, uint8_t *dst,
    #                                   size_t capacity, size_t *length);
    "sn_model_save_to_buffer": (sn_status, [sn_model_p, c_char_p, _uint8_p, c_size_t, _size_p]),
    # sn_status sn_model_load_from_buffer(const uint8_t *bytes, size_t size, sn_model **out);
    "sn_model_load_from_buffer": (sn_status, [_uint8_p, c_size_t, _model_pp]),
    # sn_status sn_dataset_from_u8(const uint8_t *images, const int32_t *labels, size_t n, int32_t channels,
    #                              int32_t height, int32_t width, int32_t classes,
    #                              const sn_preprocessing *preprocessing, sn_dataset **out);
    "sn_dataset_from_u8": (
        sn_status,
        [_uint8_p, _int32_p, c_size_t, c_int32, c_int32, c_int32, c_int32, _preprocessing_p, _dataset_pp],
    ),
    # sn_status sn_dataset_get_preprocessing(const sn_dataset *dataset, sn_preprocessing *out);
    "sn_dataset_get_preprocessing": (sn_status, [sn_dataset_p, _preprocessing_p]),
    # sn_status sn_dataset_set_class_names(sn_dataset *dataset, const char *const *names, size_t n);
    "sn_dataset_set_class_names": (sn_status, [sn_dataset_p, _strings, c_size_t]),
    # ------------------------------------------------- activations and normalisation
    # sn_status sn_model_add_leaky_relu(sn_model *model, float negative_slope);
    "sn_model_add_leaky_relu": (sn_status, [sn_model_p, c_float]),
    # sn_status sn_model_add_elu(sn_model *model, float alpha);
    "sn_model_add_elu": (sn_status, [sn_model_p, c_float]),
    # sn_status sn_model_add_gelu(sn_model *model, int32_t approximate);
    "sn_model_add_gelu": (sn_status, [sn_model_p, c_int32]),
    # sn_status sn_model_add_silu(sn_model *model);
    "sn_model_add_silu": (sn_status, [sn_model_p]),
    # sn_status sn_model_add_tanh(sn_model *model);
    "sn_model_add_tanh": (sn_status, [sn_model_p]),
    # sn_status sn_model_add_sigmoid(sn_model *model);
    "sn_model_add_sigmoid": (sn_status, [sn_model_p]),
    # sn_status sn_model_add_softmax(sn_model *model);
    "sn_model_add_softmax": (sn_status, [sn_model_p]),
    # sn_status sn_model_add_log_softmax(sn_model *model);
    "sn_model_add_log_softmax": (sn_status, [sn_model_p]),
    # sn_status sn_model_add_dropout2d(sn_model *model, float p);
    "sn_model_add_dropout2d": (sn_status, [sn_model_p, c_float]),
    # sn_status sn_model_add_layernorm(sn_model *model, int32_t normalized_dims, float eps, int32_t elementwise_affine);
    "sn_model_add_layernorm": (sn_status, [sn_model_p, c_int32, c_float, c_int32]),
    # (end of activations and normalisation)
    # ------------------------------------------ convolution and pooling options
    # sn_status sn_conv2d_params_default(sn_conv2d_params *out);
    "sn_conv2d_params_default": (sn_status, [POINTER(sn_conv2d_params)]),
    # sn_status sn_model_add_conv2d_ex(sn_model *model, const sn_conv2d_params *params);
    "sn_model_add_conv2d_ex": (sn_status, [sn_model_p, POINTER(sn_conv2d_params)]),
    # sn_status sn_model_add_maxpool2d_ex(sn_model *model, int32_t kernel_size, int32_t stride, int32_t padding,
    #                                     int32_t ceil_mode);
    "sn_model_add_maxpool2d_ex": (sn_status, [sn_model_p, c_int32, c_int32, c_int32, c_int32]),
    # sn_status sn_model_add_avgpool2d_ex(sn_model *model, int32_t kernel_size, int32_t stride, int32_t padding,
    #                                     int32_t ceil_mode, int32_t count_include_pad);
    "sn_model_add_avgpool2d_ex": (sn_status, [sn_model_p, c_int32, c_int32, c_int32, c_int32, c_int32]),
    # sn_status sn_model_add_adaptive_avgpool2d(sn_model *model, int32_t out_height, int32_t out_width);
    "sn_model_add_adaptive_avgpool2d": (sn_status, [sn_model_p, c_int32, c_int32]),
    # sn_status sn_model_add_batchnorm1d_ex(sn_model *model, float momentum, float eps, int32_t affine,
    #                                       int32_t track_running_stats);
    "sn_model_add_batchnorm1d_ex": (sn_status, [sn_model_p, c_float, c_float, c_int32, c_int32]),
    # sn_status sn_model_add_batchnorm2d_ex(sn_model *model, float momentum, float eps, int32_t affine,
    #                                       int32_t track_running_stats);
    "sn_model_add_batchnorm2d_ex": (sn_status, [sn_model_p, c_float, c_float, c_int32, c_int32]),
    # (end of convolution and pooling options)
    # ---------------------------- losses, optimizers, schedules, initialisation
    # sn_status sn_loss_params_default(int32_t kind, sn_loss_params *out);
    "sn_loss_params_default": (sn_status, [c_int32, POINTER(sn_loss_params)]),
    # sn_status sn_loss(const sn_loss_params *params, const float *input, size_t n, size_t classes,
    #                   const int32_t *labels, const float *targets, float *out, size_t out_capacity,
    #                   float *dinput);
    "sn_loss": (
        sn_status,
        [POINTER(sn_loss_params), _float_p, c_size_t, c_size_t, _int32_p, _float_p, _float_p, c_size_t, _float_p],
    ),
    # sn_status sn_optimizer_options_default(sn_optimizer_options *out);
    "sn_optimizer_options_default": (sn_status, [POINTER(sn_optimizer_options)]),
    # sn_status sn_optimizer_create_with_options(sn_model *model, const sn_optimizer_params *params,
    #                                            const sn_optimizer_options *options, sn_optimizer **out);
    "sn_optimizer_create_with_options": (
        sn_status,
        [sn_model_p, POINTER(sn_optimizer_params), POINTER(sn_optimizer_options), _optimizer_pp],
    ),
    # sn_status sn_schedule_options_default(sn_schedule_options *out);
    "sn_schedule_options_default": (sn_status, [POINTER(sn_schedule_options)]),
    # sn_status sn_schedule_params_default(int32_t kind, sn_schedule *out);
    "sn_schedule_params_default": (sn_status, [c_int32, POINTER(sn_schedule)]),
    # sn_status sn_schedule_lr_with_options(const sn_schedule *schedule, const sn_schedule_options *options,
    #                                       float base_lr, int64_t step, int64_t total_steps,
    #                                       int64_t steps_per_epoch, float *out);
    "sn_schedule_lr_with_options": (
        sn_status,
        [POINTER(sn_schedule), POINTER(sn_schedule_options), c_float, c_int64, c_int64, c_int64, _float_p],
    ),
    # sn_status sn_model_set_grad(sn_model *model, const char *name, const float *src, size_t count);
    "sn_model_set_grad": (sn_status, [sn_model_p, c_char_p, _float_p, c_size_t]),
    # sn_status sn_model_clip_grad_norm(sn_model *model, float max_norm, float *total_norm);
    "sn_model_clip_grad_norm": (sn_status, [sn_model_p, c_float, _float_p]),
    # sn_status sn_model_clip_grad_value(sn_model *model, float clip_value);
    "sn_model_clip_grad_value": (sn_status, [sn_model_p, c_float]),
    # sn_status sn_train_options_default(sn_train_options *out);
    "sn_train_options_default": (sn_status, [POINTER(sn_train_options)]),
    # sn_status sn_fit_with_options(sn_model *model, sn_optimizer *optimizer, const sn_dataset *train,
    #                               const sn_train_params *params, const sn_train_options *options,
    #                               sn_progress_fn progress, void *user, sn_epoch_record *history,
    #                               size_t history_capacity, size_t *n_epochs);
    "sn_fit_with_options": (
        sn_status,
        [
            sn_model_p,
            sn_optimizer_p,
            sn_dataset_p,
            POINTER(sn_train_params),
            POINTER(sn_train_options),
            sn_progress_fn,
            c_void_p,
            POINTER(sn_epoch_record),
            c_size_t,
            _size_p,
        ],
    ),
    # sn_status sn_tensor_init_default(int32_t scheme, sn_tensor_init *out);
    "sn_tensor_init_default": (sn_status, [c_int32, POINTER(sn_tensor_init)]),
    # sn_status sn_model_init_tensor(sn_model *model, const char *name, const sn_tensor_init *params);
    "sn_model_init_tensor": (sn_status, [sn_model_p, c_char_p, POINTER(sn_tensor_init)]),
    # (end of losses, optimizers, schedules, initialisation)
    # ----------------------------------------------------------------- profiling
    # sn_status sn_model_profile(const sn_model *model, int32_t optimizer_kind, float lr, int32_t batch_size,
    #                            double seconds, sn_step_profile *out, sn_layer_profile *layers,
    #                            size_t capacity, size_t *n_layers);
    "sn_model_profile": (
        sn_status,
        [sn_model_p, c_int32, c_float, c_int32, c_double, POINTER(sn_step_profile), POINTER(sn_layer_profile),
         c_size_t, _size_p],
    ),
    # (end of profiling)
    # const char *sn_isa(void);
    "sn_isa": (c_char_p, []),
}

# ============================================================================== Loading ===

_LIBRARY_NAME = "libsmallnet.so"


class LibraryNotFoundError(OSError):
    """No ``libsmallnet.so`` could be loaded; ``tried`` holds ``(path, reason)`` pairs."""

    def __init__(self, tried: list[tuple[str, str]]):
        self.tried = tried
        lines = [f"  {path}: {reason}" for path, reason in tried]
        super().__init__(
            "could not load libsmallnet; tried:\n"
            + "\n".join(lines)
            + "\nSet SMALLNET_LIBRARY to the library's path, or build it with `make lib` in the source tree."
        )


def candidate_paths() -> list[tuple[str, Path]]:
    """The places the library is looked for, in order, as ``(origin, path)`` pairs."""
    here = Path(__file__).resolve().parent
    candidates: list[tuple[str, Path]] = []
    override = os.environ.get("SMALLNET_LIBRARY")
    if override:
        candidates.append(("SMALLNET_LIBRARY", Path(override)))
    candidates.append(("package", here / _LIBRARY_NAME))
    candidates.append(("source tree", here.parent.parent / "build" / "lib" / _LIBRARY_NAME))
    return candidates


def load_library(candidates: list[tuple[str, Path]] | None = None) -> tuple[ctypes.CDLL, Path]:
    """Loads the first candidate that loads and returns ``(library, path)``.

    Raises:
        LibraryNotFoundError: when none loads; lists every path tried and why.
    """
    tried: list[tuple[str, str]] = []
    override_failure = None
    for origin, path in candidates if candidates is not None else candidate_paths():
        if not path.exists():
            reason = "no such file"
        else:
            try:
                library = ctypes.CDLL(str(path))
            except OSError as error:
                reason = str(error)
            else:
                if override_failure is not None:
                    warnings.warn(
                        f"SMALLNET_LIBRARY could not be loaded ({override_failure}); using {path}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                return library, path
        if origin == "SMALLNET_LIBRARY":
            override_failure = f"{path}: {reason}"
        tried.append((f"{path} ({origin})", reason))
    raise LibraryNotFoundError(tried)


class MissingFunctionError(NotImplementedError):
    """The loaded library does not export a function this package declares (an older build)."""


def _missing(name: str, path: Path):
    def call(*_args, **_kwargs):
        raise MissingFunctionError(f"{path} does not export {name}; rebuild it from the current sources")

    call.__name__ = name
    return call


#: Functions of FUNCTIONS the loaded library does not export (empty for a matching build).
MISSING: list[str] = []


def _declare(library: ctypes.CDLL, path: Path) -> None:
    """Sets restype and argtypes of every function of :data:`FUNCTIONS` on ``library``; a
    function the library lacks becomes a stub raising :class:`MissingFunctionError`."""
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            function = getattr(library, name)
        except AttributeError:
            MISSING.append(name)
            setattr(library, name, _missing(name, path))
            continue
        function.restype = restype
        function.argtypes = argtypes


lib, library_path = load_library()
_declare(lib, library_path)

if lib.sn_abi_version() != ABI_VERSION:
    raise ImportError(
        f"{library_path} has ABI version {lib.sn_abi_version()}, this smallnet package needs {ABI_VERSION}"
    )


def last_error() -> str:
    """This thread's last error message of the library ("" if none)."""
    message = lib.sn_last_error()
    return message.decode("utf-8", "replace") if message else ""


def status_string(status: int) -> str:
    """The library's short name for a status code."""
    return lib.sn_status_string(status).decode("utf-8", "replace")


if lib.sn_isa() == b"none":
    raise ImportError(f"{library_path} cannot run here: {last_error()}")
