/*
 * smallnet.h — the C API of smallnet, a small CPU deep-learning engine for image classifiers.
 *
 * Link with -lsmallnet (pkg-config --cflags --libs smallnet). C99.
 *
 * Conventions
 *  - Every fallible function returns sn_status; SN_OK (0) is success. On failure
 *    sn_last_error() returns a message saying what was wrong, and no output was written
 *    except where a function says so.
 *  - Handles are opaque (sn_model, sn_optimizer, sn_dataset). "caller owns *out" means: free
 *    it with the matching _free function. _free(NULL) is a no-op; freeing a handle twice, or
 *    passing a freed or foreign pointer anywhere, is detected and reported (SN_ERR_INVALID_ARGUMENT),
 *    never a crash.
 *  - Data crosses the boundary by copy: inputs are read from caller memory during the call,
 *    outputs are written to caller buffers whose capacity (in elements) is passed alongside.
 *  - Structs that carry options start with uint32_t struct_size; fill them with their
 *    *_default() function, then change fields. Fields are only ever appended, so a program
 *    built against an older header keeps working.
 *  - Enum values are int32_t constants with pinned values; new values are only appended.
 *  - Threads: a model or optimizer handle serves one call at a time. A call on a handle that
 *    a call on another thread is using returns SN_ERR_BAD_STATE and changes nothing (a progress
 *    callback may call back into the library on the handles of the sn_fit that called it).
 *    Datasets never change once made, so any number of calls may read one at once (only
 *    sn_dataset_set_class_names and sn_dataset_free need it alone). Different
 *    handles are independent and may be used (and trained) concurrently from different
 *    threads. sn_last_error() is per thread.
 */
#ifndef SMALLNET_H
#define SMALLNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== Versions === */

#define SN_VERSION_MAJOR 0
#define SN_VERSION_MINOR 1
#define SN_VERSION_PATCH 0
/* Bumped whenever a function or struct of this header changes incompatibly. */
#define SN_ABI_VERSION 1

/* "MAJOR.MINOR.PATCH" of the loaded library. Static storage; never free it. */
const char *sn_version_string(void);

/* SN_ABI_VERSION of the loaded library; compare it with the header's at start-up. */
uint32_t sn_abi_version(void);

/* ======================================================================= Errors === */

typedef int32_t sn_status;

#define SN_OK 0
#define SN_ERR_INVALID_ARGUMENT 1 /* NULL pointer, bad handle, value out of range, bad enum */
#define SN_ERR_SHAPE_MISMATCH 2   /* sizes or shapes that do not fit together */
#define SN_ERR_OUT_OF_MEMORY 3    /* a request larger than smallnet allows itself */
#define SN_ERR_IO 4               /* a file that cannot be read or written, or is malformed */
#define SN_ERR_BAD_STATE 5        /* a call in the wrong order (backward before forward, …), or on
                                   * a handle that a call on another thread is using */
#define SN_ERR_NOT_FOUND 6        /* a named tensor, file or directory that does not exist */
#define SN_ERR_INTERNAL 7         /* a bug in smallnet: please report it */
#define SN_ERR_DIVERGED 8         /* training stopped: the loss became NaN or infinite, or rose
                                   * over 100× where it started */
#define SN_ERR_UNSUPPORTED_CPU 9  /* this CPU cannot run the library (it needs x86-64-v2), or
                                   * SMALLNET_ISA names a variant it cannot run: see sn_isa() */

/* The message of this thread's last failing call ("" if none). Borrowed: valid until this
 * thread's next failing call. Never NULL. */
const char *sn_last_error(void);

/* A short name for a status code ("ok", "invalid argument", …; "unknown status" otherwise).
 * Static storage; never NULL. */
const char *sn_status_string(sn_status status);

/* ====================================================================== Threads === */

/* Sets the number of threads the kernels use from now on (1..64), or 0 for the default:
 * SMALLNET_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may use (its affinity
 * mask, bounded by a cgroup CPU quota). Results do not depend on it. Returns
 * SN_ERR_INVALID_ARGUMENT otherwise. */
sn_status sn_set_num_threads(int32_t n);

/* The number of threads the kernels use. */
int32_t sn_get_num_threads(void);

/* ======================================================================= Models === */

typedef struct sn_model sn_model;

/* Layer kinds, as reported by sn_model_layer_info. */
#define SN_LAYER_LINEAR 1
#define SN_LAYER_RELU 2
#define SN_LAYER_DROPOUT 3
#define SN_LAYER_BATCHNORM1D 4
#define SN_LAYER_FLATTEN 5
#define SN_LAYER_CONV2D 6
#define SN_LAYER_MAXPOOL2D 7
#define SN_LAYER_AVGPOOL2D 8
#define SN_LAYER_BATCHNORM2D 9
#define SN_LAYER_GLOBALAVGPOOL2D 10

/* Weight initialisation schemes. */
#define SN_INIT_KAIMING 0 /* N(0, 2/fan_in) weights, zero biases (for ReLU networks) */
#define SN_INIT_PYTORCH 1 /* U(±1/sqrt(fan_in)) weights and biases, PyTorch's default */
/* (more schemes, from 2 on, under "Losses, optimizers, schedules, initialisation") */

/* Creates an empty model taking inputs of shape (N, channels, height, width); layers are
 * appended with sn_model_add_*. All sizes must be positive.
 * Caller owns *out; free with sn_model_free. Returns SN_ERR_INVALID_ARGUMENT. */
sn_status sn_model_create(int32_t channels, int32_t height, int32_t width, sn_model **out);

/* Appends Linear(in → out_features), in being the current per-sample size (a (C,H,W) output
 * is flattened implicitly). bias: 0 or 1. init: SN_INIT_*. seed: seeds the initialisation.
 * Parameters "<i>.weight" (out, in) and "<i>.bias" (out). Returns SN_ERR_INVALID_ARGUMENT,
 * SN_ERR_OUT_OF_MEMORY. */
sn_status sn_model_add_linear(sn_model *model, int32_t out_features, int32_t bias, int32_t init, uint64_t seed);

/* Appends ReLU: y = max(0, x). */
sn_status sn_model_add_relu(sn_model *model);

/* Appends inverted dropout with drop probability p in [0, 1) (identity in eval mode). */
sn_status sn_model_add_dropout(sn_model *model, float p);

/* Appends BatchNorm1d over the current (flat) features: momentum in [0, 1] (0.1 in PyTorch),
 * eps > 0 (1e-5). Parameters "<i>.weight", "<i>.bias"; buffers "<i>.running_mean",
 * "<i>.running_var", "<i>.num_batches_tracked". SN_ERR_SHAPE_MISMATCH unless the current
 * output is flat (after Flatten or Linear). */
sn_status sn_model_add_batchnorm1d(sn_model *model, float momentum, float eps);

/* Appends Flatten: (N, C, H, W) → (N, C·H·W). */
sn_status sn_model_add_flatten(sn_model *model);

/* Appends Conv2d(C → out_channels, kernel_size × kernel_size, stride, padding) on the current
 * (C, H, W) output; bias: 0 or 1; init: SN_INIT_*; seed seeds the initialisation. Parameters
 * "<i>.weight" (out, C, k, k) and "<i>.bias" (out). SN_ERR_INVALID_ARGUMENT for kernel_size
 * outside 1..15, stride outside 1..15, padding outside 0..kernel_size-1; SN_ERR_SHAPE_MISMATCH
 * when the current output is not (C, H, W) or is smaller than the kernel. */
sn_status sn_model_add_conv2d(sn_model *model, int32_t out_channels, int32_t kernel_size, int32_t stride,
                              int32_t padding, int32_t bias, int32_t init, uint64_t seed);

/* Appends MaxPool2d(kernel_size, stride) (stride 0: kernel_size), no padding, floor rounding. */
sn_status sn_model_add_maxpool2d(sn_model *model, int32_t kernel_size, int32_t stride);

/* Appends AvgPool2d(kernel_size, stride) (stride 0: kernel_size), no padding, floor rounding. */
sn_status sn_model_add_avgpool2d(sn_model *model, int32_t kernel_size, int32_t stride);

/* Appends global average pooling: (N, C, H, W) → (N, C). */
sn_status sn_model_add_globalavgpool2d(sn_model *model);

/* Appends BatchNorm2d over the channels of the current (C, H, W) output (momentum in [0, 1],
 * eps > 0). Parameters and buffers named as for BatchNorm1d. */
sn_status sn_model_add_batchnorm2d(sn_model *model, float momentum, float eps);

/* Options of sn_model_create_fcn. */
typedef struct sn_fcn_params {
    uint32_t struct_size;
    int32_t channels, height, width; /* input shape; default 1, 28, 28 */
    int32_t classes;                 /* default 10 */
    const int32_t *hidden;           /* explicit hidden widths (borrowed during the call), or NULL */
    size_t n_hidden;                 /* number of entries of hidden */
    int64_t param_budget;            /* used when hidden is NULL: widths sized to land within ±2 % */
    float dropout;                   /* after each hidden ReLU; < 0: the recipe's choice (default) */
    int32_t batchnorm;               /* 1: BatchNorm1d after each hidden Linear (default), 0: none */
    int32_t init;                    /* SN_INIT_*; default SN_INIT_KAIMING */
    uint64_t seed;                   /* seeds the initialisation; default 0 */
} sn_fcn_params;

/* Fills *out with the defaults of `smallnet train --arch fcn` (budget 100,000). */
sn_status sn_fcn_params_default(sn_fcn_params *out);

/* Builds Flatten → [Linear → BatchNorm1d → ReLU → Dropout] × hidden → Linear(classes), from
 * explicit widths or from params->param_budget. Caller owns *out; free with sn_model_free.
 * Returns SN_ERR_INVALID_ARGUMENT (also for a budget too small for the shape),
 * SN_ERR_OUT_OF_MEMORY. */
sn_status sn_model_create_fcn(const sn_fcn_params *params, sn_model **out);

/* CNN heads. */
#define SN_CNN_HEAD_LINEAR 0         /* Flatten → Linear */
#define SN_CNN_HEAD_GLOBAL_AVERAGE 1 /* global average pooling → Linear */

/* Options of sn_model_create_cnn. */
typedef struct sn_cnn_params {
    uint32_t struct_size;
    int32_t channels, height, width; /* input shape; default 1, 28, 28 */
    int32_t classes;                 /* default 10 */
    const int32_t *widths;           /* explicit block widths (borrowed during the call), or NULL */
    size_t n_blocks;                 /* number of entries of widths */
    int64_t param_budget;            /* used when widths is NULL: widths 1:2:4 sized to land within ±2 % */
    int32_t head;                    /* SN_CNN_HEAD_*; default SN_CNN_HEAD_LINEAR */
    float dropout;                   /* before the head's Linear; < 0: the recipe's choice (default) */
    int32_t init;                    /* SN_INIT_*; default SN_INIT_KAIMING */
    uint64_t seed;                   /* seeds the initialisation; default 0 */
} sn_cnn_params;

/* Fills *out with the defaults of `smallnet train --arch cnn` (budget 100,000). */
sn_status sn_cnn_params_default(sn_cnn_params *out);

/* Builds [Conv2d 3×3 (pad 1, no bias) → BatchNorm2d → ReLU → MaxPool2d(2)] per block, then the
 * head, from explicit widths or from params->param_budget (any budget from 5,000 up).
 * Caller owns *out; free with sn_model_free. */
sn_status sn_model_create_cnn(const sn_cnn_params *params, sn_model **out);

/* Frees a model. NULL is a no-op; a double free is reported through sn_last_error. */
void sn_model_free(sn_model *model);

/* Number of trainable parameters (PyTorch's sum of numel over parameters()). */
sn_status sn_model_n_params(const sn_model *model, int64_t *out);

/* The per-sample input shape. */
sn_status sn_model_input_shape(const sn_model *model, int32_t *channels, int32_t *height, int32_t *width);

/* Number of outputs per sample (the number of classes for a classifier). */
sn_status sn_model_n_outputs(const sn_model *model, int64_t *out);

/* Number of layers. */
sn_status sn_model_n_layers(const sn_model *model, size_t *out);

/* Description of one layer. Set out->struct_size = sizeof(sn_layer_info) before the call. */
typedef struct sn_layer_info {
    uint32_t struct_size;
    int32_t kind;         /* SN_LAYER_* */
    int64_t n_params;     /* trainable parameters of this layer */
    int32_t rank;         /* number of entries of shape */
    int64_t shape[4];     /* per-sample output shape */
    char summary[96];     /* e.g. "Linear(784 → 117)", NUL-terminated UTF-8 */
} sn_layer_info;

/* Fills *out for layer `index` (0-based). SN_ERR_INVALID_ARGUMENT for an index out of range. */
sn_status sn_model_layer_info(const sn_model *model, size_t index, sn_layer_info *out);

/* Training mode (1: batch statistics, dropout active; the default) or eval mode (0). */
sn_status sn_model_set_training(sn_model *model, int32_t training);
sn_status sn_model_is_training(const sn_model *model, int32_t *out);

/* ========================================================= Parameters and state === */

/* Number of named tensors: trainable parameters and buffers (BatchNorm running statistics),
 * in the order of a PyTorch state_dict. */
sn_status sn_model_n_tensors(const sn_model *model, size_t *out);

/* Description of one named tensor. Set out->struct_size = sizeof(sn_tensor_info) first. */
typedef struct sn_tensor_info {
    uint32_t struct_size;
    char name[64];        /* PyTorch name, e.g. "1.weight", NUL-terminated */
    int32_t rank;         /* entries of shape (0 for a scalar such as num_batches_tracked) */
    int64_t shape[8];
    int64_t count;        /* number of elements */
    int32_t trainable;    /* 1: parameter, 0: buffer */
} sn_tensor_info;

/* Fills *out for tensor `index` (0-based). */
sn_status sn_model_tensor_info(const sn_model *model, size_t index, sn_tensor_info *out);

/* Copies tensor `name` (its count elements, row-major, PyTorch shape) into dst, which holds
 * capacity floats. SN_ERR_NOT_FOUND for an unknown name, SN_ERR_SHAPE_MISMATCH when capacity
 * is smaller than the tensor. */
sn_status sn_model_get_tensor(const sn_model *model, const char *name, float *dst, size_t capacity);

/* Overwrites tensor `name` with count floats from src; count must equal the tensor's size
 * (SN_ERR_SHAPE_MISMATCH otherwise; nothing is changed). Non-finite values are refused. */
sn_status sn_model_set_tensor(sn_model *model, const char *name, const float *src, size_t count);

/* Copies the gradient of trainable parameter `name` into dst (capacity floats). */
sn_status sn_model_get_grad(const sn_model *model, const char *name, float *dst, size_t capacity);

/* ============================================================= Low-level loop === */

/* Forward pass of n samples: input holds n·C·H·W floats (N, C, H, W), output receives n·outputs
 * logits (capacity ≥ that). Uses the model's current mode. SN_ERR_INVALID_ARGUMENT for n = 0, or
 * when a BatchNorm would take batch statistics (training mode, or track_running_stats 0) from one
 * value per channel, as PyTorch refuses: a batch of one through BatchNorm1d, or through
 * BatchNorm2d on 1×1 maps (BatchNorm2d accepts a batch of one when H·W > 1).
 * SN_ERR_SHAPE_MISMATCH for a small capacity. */
sn_status sn_model_forward(sn_model *model, const float *input, size_t n, float *output, size_t capacity);

/* Mean softmax cross-entropy of n rows of `classes` logits against labels (0..classes-1), with
 * label smoothing in [0, 1). Writes *loss, and (p − q)/n into dlogits (n·classes floats) when
 * dlogits is not NULL. SN_ERR_INVALID_ARGUMENT for a label out of range. */
sn_status sn_cross_entropy(const float *logits, const int32_t *labels, size_t n, size_t classes,
                           float label_smoothing, float *loss, float *dlogits);

/* Back-propagates dlogits (n·outputs floats, for the last forward's n samples), accumulating
 * into the parameter gradients. SN_ERR_BAD_STATE without a forward since the model was
 * created, loaded or changed; SN_ERR_SHAPE_MISMATCH for another n. */
sn_status sn_model_backward(sn_model *model, const float *dlogits, size_t n);

/* Sets every parameter gradient to zero. */
sn_status sn_model_zero_grad(sn_model *model);

/* =================================================================== Optimizers === */

typedef struct sn_optimizer sn_optimizer;

#define SN_OPTIMIZER_SGD 0
#define SN_OPTIMIZER_RMSPROP 1
#define SN_OPTIMIZER_ADAM 2
#define SN_OPTIMIZER_ADAMW 3
/* (SN_OPTIMIZER_ADAGRAD 4 under "Losses, optimizers, schedules, initialisation") */

/* Hyper-parameters; each optimizer reads the ones its PyTorch counterpart has. */
typedef struct sn_optimizer_params {
    uint32_t struct_size;
    int32_t kind;         /* SN_OPTIMIZER_* */
    float lr;
    float momentum;       /* SGD, RMSProp */
    float dampening;      /* SGD */
    int32_t nesterov;     /* SGD: 0 or 1 */
    float weight_decay;   /* L2 (SGD, RMSProp, Adam) or decoupled (AdamW) */
    float alpha;          /* RMSProp smoothing constant */
    int32_t centered;     /* RMSProp: 0 or 1 */
    float beta1, beta2;   /* Adam, AdamW */
    float eps;            /* RMSProp, Adam, AdamW */
} sn_optimizer_params;

/* Fills *out with PyTorch's defaults for `kind` (e.g. SGD lr 0.001 momentum 0; Adam lr 0.001,
 * betas 0.9/0.999, eps 1e-8; AdamW weight decay 0.01; RMSProp lr 0.01, alpha 0.99).
 * SN_ERR_INVALID_ARGUMENT for an unknown kind. */
sn_status sn_optimizer_params_default(int32_t kind, sn_optimizer_params *out);

/* Creates an optimizer over all trainable parameters of `model`. It keeps those parameters
 * alive, so model and optimizer may be freed in either order. Caller owns *out; free with
 * sn_optimizer_free. SN_ERR_INVALID_ARGUMENT names the first invalid hyper-parameter. */
sn_status sn_optimizer_create(sn_model *model, const sn_optimizer_params *params, sn_optimizer **out);

/* Applies one update from the current gradients. */
sn_status sn_optimizer_step(sn_optimizer *optimizer);

/* The learning rate (set by schedules during sn_fit; restored afterwards). */
sn_status sn_optimizer_get_lr(const sn_optimizer *optimizer, float *out);
sn_status sn_optimizer_set_lr(sn_optimizer *optimizer, float lr);

/* Frees an optimizer. NULL is a no-op. */
void sn_optimizer_free(sn_optimizer *optimizer);

/* ==================================================================== Schedules === */

#define SN_SCHEDULE_CONSTANT 0
#define SN_SCHEDULE_STEP 1   /* lr · gamma^floor(epoch / step_size) */
#define SN_SCHEDULE_COSINE 2 /* linear warm-up, then cosine annealing to min_lr, per step */
/* (more kinds, from 3 on, under "Losses, optimizers, schedules, initialisation") */

typedef struct sn_schedule {
    uint32_t struct_size;
    int32_t kind;          /* SN_SCHEDULE_* */
    int32_t step_size;     /* STEP: epochs per decay */
    float gamma;           /* STEP, EXPONENTIAL: decay factor */
    float warmup_epochs;   /* COSINE, the kinds from 3 on; CONSTANT and STEP only with
                            * sn_schedule_options.warmup_every_kind = 1 */
    float min_lr;          /* COSINE, REDUCE_ON_PLATEAU */
} sn_schedule;

/* Fills *out with the FCN recipe's schedule: cosine, one warm-up epoch, min_lr 0. */
sn_status sn_schedule_default(sn_schedule *out);

/* The learning rate at global step `step` (0-based) of total_steps, for base rate base_lr (the
 * kinds from 3 on with their default settings; see sn_schedule_lr_with_options). */
sn_status sn_schedule_lr(const sn_schedule *schedule, float base_lr, int64_t step, int64_t total_steps,
                         int64_t steps_per_epoch, float *out);

/* ===================================================================== Datasets === */

typedef struct sn_dataset sn_dataset;

/* Loads the FashionMNIST training (train = 1) or test (train = 0) split from `directory`
 * (NULL: $SMALLNET_DATA, else /usr/share/datasets/fashion-mnist), checking the SHA-256 of
 * each file when verify = 1. Pixels stay bytes, prepared as (x/255 − 0.2860)/0.3530 (see
 * sn_preprocessing); its class names are FashionMNIST's.
 * Caller owns *out; free with sn_dataset_free. SN_ERR_NOT_FOUND (with how to get the data),
 * SN_ERR_IO (checksum mismatch, malformed file). */
sn_status sn_dataset_load_fashion_mnist(const char *directory, int32_t train, int32_t verify, sn_dataset **out);

/* Loads an IDX image file (N, H, W) and label file (N) of unsigned bytes, raw or .gz, with
 * `classes` classes; pixels are normalised to (x/255 − mean)/std (std > 0).
 * Caller owns *out. SN_ERR_NOT_FOUND, SN_ERR_IO naming the file and the problem. */
sn_status sn_dataset_load_idx(const char *images_path, const char *labels_path, int32_t classes,
                              float mean, float std, sn_dataset **out);

/* Copies n images (n·C·H·W floats, (N, C, H, W), used as given) and n labels (0..classes-1)
 * into a new dataset. Caller owns *out. SN_ERR_INVALID_ARGUMENT for a label out of range or
 * a non-finite pixel. */
sn_status sn_dataset_from_memory(const float *images, const int32_t *labels, size_t n, int32_t channels,
                                 int32_t height, int32_t width, int32_t classes, sn_dataset **out);

/* Number of samples. */
sn_status sn_dataset_size(const sn_dataset *dataset, size_t *out);

/* Per-sample shape and number of classes; any output pointer may be NULL. */
sn_status sn_dataset_shape(const sn_dataset *dataset, int32_t *channels, int32_t *height, int32_t *width,
                           int32_t *classes);

/* Copies samples start..start+count-1, normalised as the model sees them, into images
 * (count·C·H·W floats, images_capacity ≥ that) and labels (count, labels_capacity ≥ count).
 * Either buffer may be NULL. SN_ERR_INVALID_ARGUMENT for a range out of bounds. */
sn_status sn_dataset_get(const sn_dataset *dataset, size_t start, size_t count, float *images,
                         size_t images_capacity, int32_t *labels, size_t labels_capacity);

/* The name of class `index` (FashionMNIST: "T-shirt/top", …; otherwise its number), copied
 * NUL-terminated into dst (capacity bytes; truncated to fit). */
sn_status sn_dataset_class_name(const sn_dataset *dataset, int32_t index, char *dst, size_t capacity);

/* Samples start..start+count-1 as a new dataset. Caller owns *out. */
sn_status sn_dataset_subset(const sn_dataset *dataset, size_t start, size_t count, sn_dataset **out);

/* Splits off `holdout` samples chosen by a seeded shuffle (0 < holdout < size): *rest gets the
 * others, *held_out those. Caller owns both. */
sn_status sn_dataset_split(const sn_dataset *dataset, size_t holdout, uint64_t seed, sn_dataset **rest,
                           sn_dataset **held_out);

/* Frees a dataset. NULL is a no-op. */
void sn_dataset_free(sn_dataset *dataset);

/* ===================================================================== Training === */

/* Settings of sn_fit. */
typedef struct sn_train_params {
    uint32_t struct_size;
    int32_t epochs;              /* default 30 */
    int32_t batch_size;          /* default 64 */
    uint64_t seed;               /* shuffling, dropout, augmentation; default 0 */
    sn_schedule schedule;        /* default: sn_schedule_default */
    float label_smoothing;       /* in [0, 1); default 0.1 */
    int32_t crop_padding;        /* random-crop augmentation padding in pixels; default 0 */
    int32_t horizontal_flip;     /* random horizontal flips: 0 (default) or 1 */
    int32_t threads;             /* 0 (default): sn_get_num_threads() */
    const sn_dataset *validation;/* evaluated after each epoch (borrowed), or NULL */
} sn_train_params;

/* Fills *out with the defaults of `smallnet train --arch fcn`. */
sn_status sn_train_params_default(sn_train_params *out);

/* Model families, for the recipes below. */
#define SN_ARCH_FCN 0
#define SN_ARCH_CNN 1

/* The training settings `smallnet train --arch <arch>` uses by default at its default budget
 * (for SN_ARCH_CNN: 30 epochs, random flips and 1-pixel crops, label smoothing 0.1, cosine
 * schedule). */
sn_status sn_recipe_train_params(int32_t arch, sn_train_params *out);

/* The same for a model of `budget` trainable parameters (`smallnet train --arch <arch>
 * --params <budget>`): the CNN recipe leaves out the random crops under 15,000 weights. */
sn_status sn_recipe_train_params_for_budget(int32_t arch, int64_t budget, sn_train_params *out);

/* The optimizer `smallnet train --arch <arch>` uses by default at its default budget
 * (SN_ARCH_FCN: AdamW lr 0.002, weight decay 0.01; SN_ARCH_CNN: SGD lr 0.05, momentum 0.9,
 * weight decay 1e-4). */
sn_status sn_recipe_optimizer_params(int32_t arch, sn_optimizer_params *out);

/* The same for a model of `budget` trainable parameters (`smallnet train --arch <arch>
 * --params <budget>`; today's recipes use the same optimizer settings at every budget).
 * Returns SN_ERR_INVALID_ARGUMENT for an unknown arch or a budget outside 1...100,000,000. */
sn_status sn_recipe_optimizer_params_for_budget(int32_t arch, int64_t budget, sn_optimizer_params *out);

/* What the progress callback sees, after every training step and once more after each epoch. */
typedef struct sn_progress {
    uint32_t struct_size;
    int32_t epoch;               /* 1-based */
    int32_t epochs;
    int64_t step;                /* 1-based, within the epoch */
    int64_t steps_per_epoch;
    float loss;                  /* this batch's loss */
    float learning_rate;
    double images_per_second;    /* so far in this epoch */
    int32_t epoch_end;           /* 1 on the call after an epoch: the fields below are set */
    float train_loss, train_accuracy;
    float eval_loss, eval_accuracy; /* on params->validation; NaN without one */
    double epoch_seconds;
} sn_progress;

/* Return 0 to go on, non-zero to stop training after this step (sn_fit then returns SN_OK;
 * an epoch stopped in before its end is not recorded, and no epoch_end call follows it).
 * Called on the thread that called sn_fit. */
typedef int (*sn_progress_fn)(const sn_progress *progress, void *user);

/* One epoch of the training history. This struct never changes. */
typedef struct sn_epoch_record {
    int32_t epoch;
    float train_loss, train_accuracy;
    float eval_loss, eval_accuracy; /* NaN without validation data */
    float learning_rate;            /* at the epoch's last step */
    double seconds;
} sn_epoch_record;

/* Trains `model` on `train` with `optimizer` (which must be over this model's parameters):
 * each epoch shuffles, walks mini-batches, calls progress (may be NULL) after every step.
 * history (may be NULL) receives one record per completed epoch, up to history_capacity;
 * *n_epochs (may be NULL) the number of epochs run. The model is left in training mode.
 * A model that records no preprocessing or class names takes the training data's (see
 * sn_preprocessing). SN_ERR_INVALID_ARGUMENT for bad params, SN_ERR_SHAPE_MISMATCH for data that does not fit
 * the model, SN_ERR_DIVERGED when the loss becomes NaN or infinite or a batch's loss exceeds
 * 100× the first batch's (or ln(classes), when larger) (the history so far is written). */
sn_status sn_fit(sn_model *model, sn_optimizer *optimizer, const sn_dataset *train, const sn_train_params *params,
                 sn_progress_fn progress, void *user, sn_epoch_record *history, size_t history_capacity,
                 size_t *n_epochs);

/* Evaluates in eval mode (the mode is restored), raw pixels prepared with the model's
 * preprocessing (the data's own when the model records none): mean loss, accuracy, and the confusion matrix
 * confusion[true·classes + predicted] (classes² int64 values, confusion_capacity ≥ that).
 * Any output may be NULL. */
sn_status sn_evaluate(sn_model *model, const sn_dataset *data, float *loss, float *accuracy, int64_t *confusion,
                      size_t confusion_capacity);

/* Class probabilities (softmax) in eval mode for every sample, prepared as for sn_evaluate:
 * size·classes floats into probabilities (capacity ≥ that). */
sn_status sn_predict(sn_model *model, const sn_dataset *data, float *probabilities, size_t capacity);

/* ================================================================== Checkpoints === */

/* Saves the model as a .safetensors file: every named tensor under its PyTorch name, as F32
 * except num_batches_tracked counters, which are I64 as in PyTorch,
 * and in "__metadata__" the architecture ("smallnet.architecture", JSON), the smallnet
 * version and, when not NULL, training_config (any UTF-8 text, usually JSON). Written to a
 * temporary file then renamed, so `path` is never half-written. SN_ERR_IO on failure. */
sn_status sn_model_save(const sn_model *model, const char *path, const char *training_config);

/* Loads a model saved by sn_model_save (in eval mode). Caller owns *out; free with
 * sn_model_free. SN_ERR_NOT_FOUND, SN_ERR_IO for a malformed or foreign file. */
sn_status sn_model_load(const char *path, sn_model **out);

/* Copies metadata entry `key` of a checkpoint ("smallnet.architecture", "smallnet.version",
 * "smallnet.training_config", "smallnet.preprocessing", "smallnet.class_names") NUL-terminated into dst (capacity bytes); *length (may be NULL)
 * receives the full length in bytes. SN_ERR_NOT_FOUND for a missing key; SN_ERR_SHAPE_MISMATCH
 * when capacity ≤ length (dst then holds a truncated copy). */
sn_status sn_checkpoint_metadata(const char *path, const char *key, char *dst, size_t capacity, size_t *length);

/* ================================================= Preprocessing and class names === */

/* How raw pixels become model inputs, per channel c:
 *     x_model = (x_raw · pixel_scale − mean[c]) / std[c]
 * A model records the preprocessing it was trained with (sn_fit sets it from the training data
 * when the model has none yet) and keeps it in its checkpoints. The rule for inputs:
 *  - raw 8-bit pixels (uint8_t: sn_model_predict_u8, sn_dataset_from_u8, IDX files) are prepared
 *    with the model's own preprocessing;
 *  - float inputs are model inputs, used as given (sn_model_forward, sn_dataset_from_memory). */

/* FashionMNIST's preprocessing: the statistics of its training images. */
#define SN_FASHION_MNIST_PIXEL_SCALE (1.0f / 255.0f)
#define SN_FASHION_MNIST_MEAN 0.2860f
#define SN_FASHION_MNIST_STD 0.3530f

/* The most channels with statistics of their own. */
#define SN_MAX_CHANNELS 16

typedef struct sn_preprocessing {
    uint32_t struct_size;
    int32_t known;                /* 1: recorded; 0 (from a get): the model records none */
    float pixel_scale;            /* raw value → scaled value: 1/255 for 8-bit pixels; > 0 */
    int32_t channels;             /* entries used in mean and std: 1 (all channels alike) or the
                                   * input's channel count, at most SN_MAX_CHANNELS */
    float mean[SN_MAX_CHANNELS];
    float std[SN_MAX_CHANNELS];   /* > 0 */
} sn_preprocessing;

/* Fills *out with FashionMNIST's preprocessing (known 1, pixel scale 1/255, one channel,
 * mean 0.2860, std 0.3530). */
sn_status sn_preprocessing_default(sn_preprocessing *out);

/* The model's preprocessing; out->known is 0 when it records none. Set out->struct_size first. */
sn_status sn_model_get_preprocessing(const sn_model *model, sn_preprocessing *out);

/* Records the model's preprocessing (NULL forgets it). SN_ERR_INVALID_ARGUMENT for bad values,
 * SN_ERR_SHAPE_MISMATCH when channels is neither 1 nor the input's channel count. */
sn_status sn_model_set_preprocessing(sn_model *model, const sn_preprocessing *preprocessing);

/* The name of output class `index`, NUL-terminated into dst (capacity bytes; truncated to fit);
 * the index as text when the model's classes are unnamed. */
sn_status sn_model_class_name(const sn_model *model, int32_t index, char *dst, size_t capacity);

/* Names the model's output classes: n UTF-8 strings (borrowed during the call), n equal to
 * the number of outputs, or n = 0 to forget the names. */
sn_status sn_model_set_class_names(sn_model *model, const char *const *names, size_t n);

/* Class probabilities (softmax, eval mode; the mode is restored) for n raw 8-bit images
 * (n·C·H·W bytes, (N, C, H, W)), prepared with the model's preprocessing: n·classes floats into
 * probabilities (capacity ≥ that). SN_ERR_BAD_STATE when the model records no preprocessing
 * (set it with sn_model_set_preprocessing, or train the model). */
sn_status sn_model_predict_u8(sn_model *model, const uint8_t *pixels, size_t n, float *probabilities,
                              size_t capacity);

/* A new, independent copy of the model: architecture, parameters, buffers, mode, preprocessing
 * and class names. Caller owns *out; free with sn_model_free. */
sn_status sn_model_clone(const sn_model *model, sn_model **out);

/* The bytes sn_model_save would write, into dst (capacity bytes); *length receives their
 * number. SN_ERR_SHAPE_MISMATCH when capacity < *length (call again with a larger buffer;
 * dst may be NULL when capacity is 0). training_config as for sn_model_save. */
sn_status sn_model_save_to_buffer(const sn_model *model, const char *training_config, uint8_t *dst,
                                  size_t capacity, size_t *length);

/* Loads a model (in eval mode) from the bytes of a checkpoint, as sn_model_load does from a
 * file. Caller owns *out. SN_ERR_IO for malformed bytes. */
sn_status sn_model_load_from_buffer(const uint8_t *bytes, size_t size, sn_model **out);

/* Copies n raw 8-bit images (n·C·H·W bytes, (N, C, H, W)) and n labels into a new dataset that
 * keeps them as bytes. preprocessing (may be NULL) says how the data prepares them when no
 * model records its own; NULL: the images' own statistics (pixel scale 1/255, per-channel mean
 * and standard deviation of x/255 rounded to 4 decimals). Caller owns *out.
 * SN_ERR_INVALID_ARGUMENT for a label out of range or bad preprocessing. */
sn_status sn_dataset_from_u8(const uint8_t *images, const int32_t *labels, size_t n, int32_t channels,
                             int32_t height, int32_t width, int32_t classes,
                             const sn_preprocessing *preprocessing, sn_dataset **out);

/* How the dataset prepares raw pixels when no model records its own (known 1; pixel scale 1,
 * mean 0, std 1 for float data, which is used as given). Set out->struct_size first. */
sn_status sn_dataset_get_preprocessing(const sn_dataset *dataset, sn_preprocessing *out);

/* Names the dataset's classes: n strings (borrowed), n = classes, or 0 to forget them. A model
 * trained on the dataset takes its names. */
sn_status sn_dataset_set_class_names(sn_dataset *dataset, const char *const *names, size_t n);

/* ======================================================= Activations and normalisation === */

/* Layer kinds of this group, as reported by sn_model_layer_info. */
#define SN_LAYER_LEAKY_RELU 11
#define SN_LAYER_ELU 12
#define SN_LAYER_GELU 13
#define SN_LAYER_SILU 14
#define SN_LAYER_TANH 15
#define SN_LAYER_SIGMOID 16
#define SN_LAYER_SOFTMAX 17
#define SN_LAYER_LOG_SOFTMAX 18
#define SN_LAYER_DROPOUT2D 19
#define SN_LAYER_LAYERNORM 20

/* GELU variants (PyTorch's approximate="none" | "tanh"). */
#define SN_GELU_NONE 0 /* x·Φ(x), with erf */
#define SN_GELU_TANH 1 /* ½x·(1 + tanh(√(2/π)·(x + 0.044715x³))) */

/* Appends LeakyReLU: y = x for x > 0, negative_slope·x otherwise (PyTorch's default 0.01).
 * Returns SN_ERR_INVALID_ARGUMENT for a slope that is not finite. */
sn_status sn_model_add_leaky_relu(sn_model *model, float negative_slope);

/* Appends ELU: y = x for x > 0, alpha·(exp(x) − 1) otherwise (PyTorch's default alpha 1).
 * Returns SN_ERR_INVALID_ARGUMENT for an alpha that is not finite. */
sn_status sn_model_add_elu(sn_model *model, float alpha);

/* Appends GELU: y = x·Φ(x), exact or tanh-approximated (approximate: SN_GELU_*).
 * Returns SN_ERR_INVALID_ARGUMENT for another approximate. */
sn_status sn_model_add_gelu(sn_model *model, int32_t approximate);

/* Appends SiLU: y = x·sigmoid(x). */
sn_status sn_model_add_silu(sn_model *model);

/* Appends Tanh: y = tanh(x). */
sn_status sn_model_add_tanh(sn_model *model);

/* Appends Sigmoid: y = 1 / (1 + exp(−x)). */
sn_status sn_model_add_sigmoid(sn_model *model);

/* Appends Softmax over the features of each sample (PyTorch's nn.Softmax(dim=1)), computed
 * after subtracting each row's maximum. SN_ERR_SHAPE_MISMATCH unless the current output is
 * flat (after Flatten or Linear). */
sn_status sn_model_add_softmax(sn_model *model);

/* Appends LogSoftmax over the features of each sample (nn.LogSoftmax(dim=1)): y = x − log Σ exp(x),
 * computed after subtracting each row's maximum. SN_ERR_SHAPE_MISMATCH unless the current
 * output is flat. */
sn_status sn_model_add_log_softmax(sn_model *model);

/* Appends Dropout2d: in training mode each channel of each sample is zeroed with probability
 * p in [0, 1) and the others scaled by 1/(1 − p); identity in eval mode. Returns
 * SN_ERR_INVALID_ARGUMENT for p outside [0, 1), SN_ERR_SHAPE_MISMATCH unless the current
 * output is (C, H, W). */
sn_status sn_model_add_dropout2d(sn_model *model, float p);

/* Appends LayerNorm over the last normalized_dims (1..3) dimensions of the current per-sample
 * output, eps > 0 (PyTorch's 1e-5); elementwise_affine 0 or 1. With elementwise_affine,
 * parameters "<i>.weight" (1) and "<i>.bias" (0) of those dimensions' shape, as in
 * nn.LayerNorm. Returns SN_ERR_INVALID_ARGUMENT for normalized_dims outside 1..3 or above the
 * output's rank, eps ≤ 0, a flag not 0 or 1. */
sn_status sn_model_add_layernorm(sn_model *model, int32_t normalized_dims, float eps, int32_t elementwise_affine);

/* (end of activations and normalisation) */

/* ================================================ Convolution and pooling options === */

/* Layer kinds of this section, as reported by sn_model_layer_info. */
#define SN_LAYER_ADAPTIVEAVGPOOL2D 21

/* sn_conv2d_params.padding asking for "same" padding (PyTorch's padding="same"): stride 1 and
 * dilation·(kernel_size − 1)/2 zeros on each side, so the output keeps the input's H and W. */
#define SN_PADDING_SAME -1

/* Options of sn_model_add_conv2d_ex. */
typedef struct sn_conv2d_params {
    uint32_t struct_size;
    int32_t out_channels; /* no default (0): must be set */
    int32_t kernel_size;  /* 1..15; default 3 */
    int32_t stride;       /* 1..15; default 1 */
    int32_t padding;      /* 0..dilation·(kernel_size−1), or SN_PADDING_SAME; default 0 */
    int32_t dilation;     /* spacing of the kernel taps, 1..15; default 1 */
    int32_t groups;       /* channel groups dividing both channel counts (C: depthwise); default 1 */
    int32_t bias;         /* 0 or 1; default 1 */
    int32_t init;         /* SN_INIT_*; default SN_INIT_KAIMING */
    uint64_t seed;        /* seeds the initialisation; default 0 */
} sn_conv2d_params;

/* Fills *out with the defaults above (struct_size = sizeof(sn_conv2d_params)). */
sn_status sn_conv2d_params_default(sn_conv2d_params *out);

/* Appends Conv2d(C → out_channels) with dilation and groups on the current (C, H, W) output, as
 * PyTorch's nn.Conv2d(C, out, k, stride, padding, dilation, groups, bias): output size
 * (H + 2·padding − dilation·(k − 1) − 1)/stride + 1. Parameters "<i>.weight"
 * (out, C/groups, k, k) and "<i>.bias" (out). With dilation 1 and groups 1 it is the layer of
 * sn_model_add_conv2d. SN_ERR_INVALID_ARGUMENT for a value out of range, SN_PADDING_SAME with
 * stride > 1 or with an even dilation·(k − 1) + 1 (asymmetric), groups not dividing C and
 * out_channels, or a wrong struct_size; SN_ERR_SHAPE_MISMATCH as for sn_model_add_conv2d. */
sn_status sn_model_add_conv2d_ex(sn_model *model, const sn_conv2d_params *params);

/* Appends MaxPool2d(kernel_size, stride, padding, ceil_mode) as PyTorch's nn.MaxPool2d: stride 0
 * means kernel_size; padding (implicit −∞) in 0..kernel_size/2; ceil_mode 0 or 1 rounds the
 * output size up (a window starting past the input and its left padding is dropped).
 * padding 0 with ceil_mode 0 is sn_model_add_maxpool2d. Returns SN_ERR_INVALID_ARGUMENT,
 * SN_ERR_SHAPE_MISMATCH. */
sn_status sn_model_add_maxpool2d_ex(sn_model *model, int32_t kernel_size, int32_t stride, int32_t padding,
                                    int32_t ceil_mode);

/* Appends AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad) as PyTorch's
 * nn.AvgPool2d: zero padding in 0..kernel_size/2; count_include_pad 1 (PyTorch's default) divides
 * each window by its size within the padded input, 0 by the input pixels it covers. */
sn_status sn_model_add_avgpool2d_ex(sn_model *model, int32_t kernel_size, int32_t stride, int32_t padding,
                                    int32_t ceil_mode, int32_t count_include_pad);

/* Appends AdaptiveAvgPool2d((out_height, out_width)) on the current (C, H, W) output: output
 * (i, j) averages rows floor(i·H/h)..ceil((i+1)·H/h)−1 and the columns alike, as PyTorch.
 * SN_ERR_INVALID_ARGUMENT for a size outside 1..4096; SN_ERR_SHAPE_MISMATCH unless (C, H, W). */
sn_status sn_model_add_adaptive_avgpool2d(sn_model *model, int32_t out_height, int32_t out_width);

/* Appends BatchNorm1d / BatchNorm2d as sn_model_add_batchnorm1d / 2d, with PyTorch's affine
 * (0: no "<i>.weight" / "<i>.bias") and track_running_stats (0: batch statistics in eval mode
 * too, and no running buffers). Both 1 give the layers of sn_model_add_batchnorm1d / 2d. */
sn_status sn_model_add_batchnorm1d_ex(sn_model *model, float momentum, float eps, int32_t affine,
                                      int32_t track_running_stats);
sn_status sn_model_add_batchnorm2d_ex(sn_model *model, float momentum, float eps, int32_t affine,
                                      int32_t track_running_stats);

/* (end of convolution and pooling options) */

/* ================================== Losses, optimizers, schedules, initialisation === */

/* Losses */

#define SN_LOSS_CROSS_ENTROPY 0   /* softmax cross-entropy on logits, labels; weights, ignore_index, smoothing */
#define SN_LOSS_NLL 1             /* -w[y]·x[y] on log-probabilities (after a LogSoftmax), labels */
#define SN_LOSS_MSE 2             /* (x - t)^2, float targets */
#define SN_LOSS_L1 3              /* |x - t| */
#define SN_LOSS_SMOOTH_L1 4       /* 0.5·d^2/beta where |d| < beta, else |d| - 0.5·beta */
#define SN_LOSS_HUBER 5           /* 0.5·d^2 where |d| < delta, else delta·(|d| - 0.5·delta) */
#define SN_LOSS_BCE_WITH_LOGITS 6 /* binary cross-entropy on logits, float targets; weights, pos_weight */

#define SN_REDUCTION_MEAN 0 /* mean over elements; cross-entropy, NLL: sum / Σ w[y] over rows not ignored */
#define SN_REDUCTION_SUM 1
#define SN_REDUCTION_NONE 2 /* one value per row (cross-entropy, NLL) or per element (the others) */

/* Options of a loss (SN_LOSS_*, SN_REDUCTION_*; sn_loss, sn_train_options). Fill with
 * sn_loss_params_default; each loss reads the fields its PyTorch counterpart has. Arrays are borrowed during the call that reads them. */
typedef struct sn_loss_params {
    uint32_t struct_size;
    int32_t kind;                /* SN_LOSS_*; default SN_LOSS_CROSS_ENTROPY */
    int32_t reduction;           /* SN_REDUCTION_*; default SN_REDUCTION_MEAN */
    float label_smoothing;       /* cross-entropy: in [0, 1); default 0 */
    int32_t ignore_index;        /* cross-entropy, NLL: rows with this label cost 0; default -100 */
    const float *class_weights;  /* cross-entropy, NLL: weight of each class; BCE: of each column; or NULL */
    size_t n_class_weights;      /* entries of class_weights: classes (0 when NULL) */
    float beta;                  /* smooth L1: >= 0; default 1 */
    float delta;                 /* Huber: > 0; default 1 */
    const float *pos_weight;     /* BCE with logits: weight of positive targets per column, or NULL */
    size_t n_pos_weight;         /* entries of pos_weight: classes or 1 (0 when NULL) */
} sn_loss_params;

/* Fills *out with PyTorch's defaults for loss `kind` (reduction mean, label smoothing 0,
 * ignore_index -100, no weights, beta 1, delta 1). SN_ERR_INVALID_ARGUMENT for an unknown kind. */
sn_status sn_loss_params_default(int32_t kind, sn_loss_params *out);

/* The loss of n rows of `classes` inputs (n·classes floats, row-major) against labels (n values
 * in 0..classes-1 or ignore_index; cross-entropy and NLL, targets may be NULL) or targets
 * (n·classes floats; the other losses, labels may be NULL), as PyTorch's torch.nn.*Loss.
 * out (out_capacity floats) receives 1 value, or with SN_REDUCTION_NONE n values (cross-entropy,
 * NLL) or n·classes (the others). dinput (may be NULL, else n·classes floats) receives the
 * gradient w.r.t. the input of the reduced loss, of the sum of the values for NONE. Class
 * weights: `classes` entries; pos_weight: `classes` or 1. Returns SN_ERR_INVALID_ARGUMENT for a
 * bad option, kind or label, SN_ERR_SHAPE_MISMATCH for a small out_capacity or weights that do
 * not fit. Nothing is written on failure. */
sn_status sn_loss(const sn_loss_params *params, const float *input, size_t n, size_t classes,
                  const int32_t *labels, const float *targets, float *out, size_t out_capacity, float *dinput);

/* Optimizers */

/* Adagrad (torch.optim.Adagrad): lr 0.01, lr_decay 0, weight_decay 0,
 * initial_accumulator_value 0, eps 1e-10. sn_optimizer_params_default gives lr 0.01 and eps
 * 1e-10; sn_optimizer_create makes it with the settings of sn_optimizer_options at their
 * defaults. */
#define SN_OPTIMIZER_ADAGRAD 4

/* Settings of an optimizer beyond sn_optimizer_params (sn_optimizer_create_with_options). Fill
 * with sn_optimizer_options_default; each optimizer reads the fields its PyTorch counterpart has. */
typedef struct sn_optimizer_options {
    uint32_t struct_size;
    int32_t amsgrad;                 /* Adam, AdamW: 1 divides by the largest second moment so
                                      * far (AMSGrad); default 0 */
    int32_t maximize;                /* every kind: 1 ascends the objective; default 0 */
    float lr_decay;                  /* Adagrad: the rate at step t is lr / (1 + (t − 1)·lr_decay);
                                      * default 0 */
    float initial_accumulator_value; /* Adagrad: where the sum of squared gradients starts; default 0 */
} sn_optimizer_options;

/* Fills *out with the defaults (PyTorch's: amsgrad 0, maximize 0, lr_decay 0,
 * initial_accumulator_value 0). Set out->struct_size = sizeof(sn_optimizer_options) first; a
 * smaller size from an older header gets only its fields (no more than struct_size bytes are
 * written). SN_ERR_INVALID_ARGUMENT for a NULL out or a struct_size smaller than the first
 * sn_optimizer_options (this one) or larger than this library's; nothing is written then. */
sn_status sn_optimizer_options_default(sn_optimizer_options *out);

/* sn_optimizer_create with further settings: options NULL is sn_optimizer_create. Otherwise
 * options->struct_size may be that of any sn_optimizer_options up to this library's (fields
 * beyond it read as their defaults). Caller owns *out; free with sn_optimizer_free.
 * SN_ERR_INVALID_ARGUMENT names the first invalid setting (a flag other than 0 or 1, a negative
 * or non-finite value). */
sn_status sn_optimizer_create_with_options(sn_model *model, const sn_optimizer_params *params,
                                           const sn_optimizer_options *options, sn_optimizer **out);

/* Schedules (sn_schedule.kind). Each of these warms up linearly over sn_schedule.warmup_epochs
 * first (0: none), then runs as if training began there. */
#define SN_SCHEDULE_EXPONENTIAL 3       /* lr · gamma^epoch (torch ExponentialLR, stepped per epoch) */
#define SN_SCHEDULE_ONE_CYCLE 4         /* torch OneCycleLR with max_lr = lr, stepped per step (the
                                         * rate only, as cycle_momentum=False) */
#define SN_SCHEDULE_REDUCE_ON_PLATEAU 5 /* torch ReduceLROnPlateau on the validation loss (mode min,
                                         * relative threshold), per epoch, never below min_lr; fit
                                         * needs params->validation; sn_schedule_lr gives the
                                         * rate before any reduction */

/* sn_schedule_options.anneal_strategy of SN_SCHEDULE_ONE_CYCLE. */
#define SN_ANNEAL_COS 0
#define SN_ANNEAL_LINEAR 1

/* Settings of the schedules beyond sn_schedule (sn_schedule_lr_with_options,
 * sn_train_options.schedule). Fill with sn_schedule_options_default (PyTorch's defaults). */
typedef struct sn_schedule_options {
    uint32_t struct_size;
    int32_t warmup_every_kind; /* 1: CONSTANT and STEP warm up over warmup_epochs too; 0 (default):
                                * they ignore it, as sn_schedule_lr does */
    float pct_start;           /* ONE_CYCLE: share of the steps spent rising, in [0, 1]; default 0.3 */
    int32_t anneal_strategy;   /* ONE_CYCLE: SN_ANNEAL_COS (default) or SN_ANNEAL_LINEAR */
    float div_factor;          /* ONE_CYCLE: the first rate is lr / div_factor; default 25 */
    float final_div_factor;    /* ONE_CYCLE: the last rate is lr / div_factor / final_div_factor;
                                * default 1e4 */
    float factor;              /* REDUCE_ON_PLATEAU: multiplies the rate at a reduction, in [0, 1);
                                * default 0.1 */
    int32_t patience;          /* REDUCE_ON_PLATEAU: epochs without improvement tolerated; default 10 */
    float threshold;           /* REDUCE_ON_PLATEAU: a loss improves when below best·(1 − threshold);
                                * default 1e-4 */
    int32_t cooldown;          /* REDUCE_ON_PLATEAU: epochs after a reduction before counting again;
                                * default 0 */
} sn_schedule_options;

/* Fills *out with the defaults above. Set out->struct_size = sizeof(sn_schedule_options) first;
 * a smaller size from an older header gets only its fields (no more than struct_size bytes are
 * written). SN_ERR_INVALID_ARGUMENT for a NULL out or a struct_size smaller than the first
 * sn_schedule_options (this one) or larger than this library's; nothing is written then. */
sn_status sn_schedule_options_default(sn_schedule_options *out);

/* Fills *out with schedule `kind` without warm-up: STEP step_size 10, gamma 0.1; COSINE min_lr 0;
 * EXPONENTIAL gamma 0.1 (set yours); ONE_CYCLE, REDUCE_ON_PLATEAU min_lr 0 (their other settings
 * are in sn_schedule_options). SN_ERR_INVALID_ARGUMENT for an unknown kind or a NULL out. */
sn_status sn_schedule_params_default(int32_t kind, sn_schedule *out);

/* sn_schedule_lr with further settings: options NULL reads them at their defaults (sn_schedule_lr
 * is this call with options NULL). options->struct_size as for sn_schedule_options_default. */
sn_status sn_schedule_lr_with_options(const sn_schedule *schedule, const sn_schedule_options *options, float base_lr,
                                      int64_t step, int64_t total_steps, int64_t steps_per_epoch, float *out);

/* Initialisation: more schemes for the init of sn_model_add_linear, sn_model_add_conv2d,
 * sn_conv2d_params and the builders' params (fan_in = in·k·k, fan_out = out·k·k; biases 0).
 * Random numbers come from smallnet's generator, so values differ from PyTorch's; the
 * distributions do not. */
#define SN_INIT_XAVIER_UNIFORM 2  /* U(±sqrt(6/(fan_in+fan_out))) (torch xavier_uniform_) */
#define SN_INIT_XAVIER_NORMAL 3   /* N(0, 2/(fan_in+fan_out)) (torch xavier_normal_) */
#define SN_INIT_ORTHOGONAL 4      /* orthonormal rows (or columns, for a tall weight) of the
                                   * (out, fan_in) matrix (torch orthogonal_) */
#define SN_INIT_KAIMING_FAN_OUT 5 /* N(0, 2/fan_out) (torch kaiming_normal_, mode fan_out, relu) */
#define SN_INIT_KAIMING_UNIFORM 6 /* U(±sqrt(6/fan_in)) (torch kaiming_uniform_, relu) */

/* Gradients */

/* Overwrites the gradient of trainable parameter `name` with count floats from src (count must
 * equal its size), e.g. to step an optimizer on gradients computed elsewhere.
 * SN_ERR_SHAPE_MISMATCH for another count, SN_ERR_NOT_FOUND for an unknown name,
 * SN_ERR_INVALID_ARGUMENT for a buffer or a non-finite value (the gradient is unchanged then). */
sn_status sn_model_set_grad(sn_model *model, const char *name, const float *src, size_t count);

/* torch.nn.utils.clip_grad_norm_ (norm type 2) over every parameter gradient of `model`: when
 * max_norm / (total + 1e-6) < 1, the gradients are multiplied by it. *total_norm (may be NULL)
 * receives the norm before clipping. SN_ERR_INVALID_ARGUMENT for a negative or non-finite
 * max_norm. */
sn_status sn_model_clip_grad_norm(sn_model *model, float max_norm, float *total_norm);

/* torch.nn.utils.clip_grad_value_: clamps every parameter gradient element to ±clip_value.
 * SN_ERR_INVALID_ARGUMENT for a negative or non-finite clip_value. */
sn_status sn_model_clip_grad_value(sn_model *model, float clip_value);

/* Training with another loss */

/* Further settings of sn_fit_with_options (beyond sn_train_params). Fill with
 * sn_train_options_default. */
typedef struct sn_train_options {
    uint32_t struct_size;
    sn_loss_params loss;         /* the training loss; default: cross-entropy, smoothed by
                                  * params->label_smoothing (loss.label_smoothing must be 0 or
                                  * equal to it). Losses other than cross-entropy and NLL train
                                  * against the one-hot encoding of the labels and ignore
                                  * label_smoothing; the recorded accuracy is always the share of
                                  * samples whose largest output is the label, and the evaluation
                                  * loss is this loss. Reduction must be MEAN or SUM. */
    /* Appended after the first sn_train_options (which ends with `loss`): */
    float clip_grad_norm;        /* > 0: before each step, scale the gradients to this total 2-norm at
                                  * most (torch clip_grad_norm_, + 1e-6); 0 (default): off */
    float clip_grad_value;       /* > 0: before each step, clamp each gradient element to ±this, before
                                  * any norm clipping (torch clip_grad_value_); 0 (default): off */
    sn_schedule_options schedule;/* further settings of params->schedule; default
                                  * sn_schedule_options_default */
} sn_train_options;

/* Fills *out with the defaults (sn_fit's behaviour: cross-entropy, no clipping, the schedule
 * settings of sn_schedule_options_default). Set
 * out->struct_size = sizeof(sn_train_options) first; a smaller size from an older header gets
 * only its fields (no more than struct_size bytes are written). SN_ERR_INVALID_ARGUMENT for a
 * NULL out, a struct_size smaller than the first sn_train_options (which ends with `loss`) or
 * larger than this library's sizeof(sn_train_options); nothing is written then. */
sn_status sn_train_options_default(sn_train_options *out);

/* sn_fit with further settings: options NULL trains exactly as sn_fit (sn_fit is this call
 * with options NULL); otherwise options->struct_size may be that of any sn_train_options, from
 * the first (which ends with `loss`) up to this library's sizeof(sn_train_options): only
 * struct_size bytes are read, and fields beyond them read as their defaults.
 * SN_ERR_INVALID_ARGUMENT also for a REDUCE_ON_PLATEAU schedule without params->validation. */
sn_status sn_fit_with_options(sn_model *model, sn_optimizer *optimizer, const sn_dataset *train,
                              const sn_train_params *params, const sn_train_options *options,
                              sn_progress_fn progress, void *user, sn_epoch_record *history,
                              size_t history_capacity, size_t *n_epochs);

/* Initialising one tensor (torch.nn.init) */

/* sn_tensor_init.scheme: the torch.nn.init function. */
#define SN_TENSOR_INIT_KAIMING_NORMAL 0  /* N(0, std²), std = gain / sqrt(fan) (kaiming_normal_) */
#define SN_TENSOR_INIT_KAIMING_UNIFORM 1 /* U(±gain·sqrt(3/fan)) (kaiming_uniform_) */
#define SN_TENSOR_INIT_XAVIER_NORMAL 2   /* N(0, std²), std = gain·sqrt(2/(fan_in+fan_out)) (xavier_normal_) */
#define SN_TENSOR_INIT_XAVIER_UNIFORM 3  /* U(±gain·sqrt(6/(fan_in+fan_out))) (xavier_uniform_) */
#define SN_TENSOR_INIT_ORTHOGONAL 4      /* gain·Q, Q with orthonormal rows (or columns, when the
                                          * (dim 0, rest) matrix is tall) (orthogonal_) */
#define SN_TENSOR_INIT_UNIFORM 5         /* U(low, high) (uniform_) */
#define SN_TENSOR_INIT_NORMAL 6          /* N(mean, std²) (normal_) */
#define SN_TENSOR_INIT_CONSTANT 7        /* every element = value (constant_, zeros_, ones_) */

/* sn_tensor_init.mode of Kaiming: the fan whose variance is preserved. For a tensor (d0, d1, k…),
 * fan_in = d1·∏k, fan_out = d0·∏k (torch's _calculate_fan_in_and_fan_out). */
#define SN_FAN_IN 0
#define SN_FAN_OUT 1

/* sn_tensor_init.nonlinearity of Kaiming: its gain, as torch.nn.init.calculate_gain. torch's
 * conv1d/2d/3d and conv_transpose1d/2d/3d have gain 1: use SN_NONLINEARITY_LINEAR. */
#define SN_NONLINEARITY_LINEAR 0     /* 1 */
#define SN_NONLINEARITY_SIGMOID 1    /* 1 */
#define SN_NONLINEARITY_TANH 2       /* 5/3 */
#define SN_NONLINEARITY_RELU 3       /* sqrt(2) */
#define SN_NONLINEARITY_LEAKY_RELU 4 /* sqrt(2/(1 + a²)), a the negative slope */
#define SN_NONLINEARITY_SELU 5       /* 3/4 */

/* How sn_model_init_tensor fills a tensor. Fill with sn_tensor_init_default; each scheme reads
 * the fields its torch.nn.init function has (and seed). */
typedef struct sn_tensor_init {
    uint32_t struct_size;
    int32_t scheme;       /* SN_TENSOR_INIT_* */
    int32_t mode;         /* Kaiming: SN_FAN_IN (default) or SN_FAN_OUT */
    int32_t nonlinearity; /* Kaiming: SN_NONLINEARITY_*; default SN_NONLINEARITY_LEAKY_RELU */
    float a;              /* Kaiming: the negative slope of SN_NONLINEARITY_LEAKY_RELU; default 0 */
    float gain;           /* Xavier: >= 0, orthogonal: any; default 1 */
    float low, high;      /* UNIFORM: low <= high; default 0, 1 */
    float mean, std;      /* NORMAL: std >= 0; default 0, 1 */
    float value;          /* CONSTANT: default 0 */
    uint64_t seed;        /* seeds smallnet's generator: the same seed gives the same values; default 0 */
} sn_tensor_init;

/* Fills *out with torch.nn.init's defaults for `scheme` (SN_TENSOR_INIT_*): Kaiming a 0,
 * SN_FAN_IN, SN_NONLINEARITY_LEAKY_RELU (gain sqrt(2)); gain 1; low 0, high 1; mean 0, std 1;
 * value 0; seed 0. Set out->struct_size = sizeof(sn_tensor_init) first; a smaller size from an
 * older header gets only its fields. SN_ERR_INVALID_ARGUMENT for an unknown scheme, a NULL out
 * or a struct_size smaller than the first sn_tensor_init (this one) or larger than this
 * library's; nothing is written then. */
sn_status sn_tensor_init_default(int32_t scheme, sn_tensor_init *out);

/* Refills tensor `name` of `model` (a parameter or buffer by its PyTorch name, "0.weight") in
 * place as params says, with random numbers from smallnet's generator seeded with params->seed
 * (values differ from PyTorch's; the distributions do not). params->struct_size as for
 * sn_tensor_init_default. SN_ERR_NOT_FOUND for an unknown name; SN_ERR_INVALID_ARGUMENT for an
 * unknown scheme, mode or nonlinearity, a non-finite field, a negative std or Xavier gain,
 * low > high, Kaiming, Xavier or orthogonal on a tensor of fewer than 2 dimensions (as torch
 * raises), values that overflow a float, or a batch counter (num_batches_tracked) set to other
 * than a whole number >= 0. The tensor is unchanged on failure. */
sn_status sn_model_init_tensor(sn_model *model, const char *name, const sn_tensor_init *params);

/* (end of losses, optimizers, schedules, initialisation) */

/* ==================================================================== Profiling === */

/* One layer's part of a training step (sn_model_profile). This struct never changes. */
typedef struct sn_layer_profile {
    double forward_seconds;  /* per batch: the median over the steps measured */
    double backward_seconds; /* 0 for layers before the first one with parameters (not run) */
    int64_t forward_flops;   /* matrix-product FLOPs of the batch's forward pass */
    int64_t backward_flops;  /* twice forward_flops (weight and input gradients); once for a layer
                              * that computes no input gradient */
} sn_layer_profile;

/* A training step taken apart (sn_model_profile). Set out->struct_size first. */
typedef struct sn_step_profile {
    uint32_t struct_size;
    int32_t batch_size;
    int32_t threads;
    int32_t steps;            /* steps measured, after one warm-up step */
    double step_seconds;      /* the layers' forward and backward, the loss and the optimizer */
    double loss_seconds;      /* softmax cross-entropy and its gradient */
    double optimizer_seconds; /* zeroing the gradients and the update */
    double fma_limit_gflops;  /* this machine's limit on these threads, measured in the same call:
                               * a register-only loop of fused multiply-adds */
} sn_step_profile;

/* Times training steps of a copy of `model` (the model itself is not changed) on random
 * inputs and labels, batch_size (1..65536) per step, with optimizer `optimizer_kind`
 * (SN_OPTIMIZER_*) as `smallnet train` sets it up, at learning rate lr (> 0), for about `seconds` (0..3600;
 * at least 3 steps), on sn_get_num_threads() threads. layers (may be NULL when capacity is 0)
 * receives one entry per layer, in order, up to capacity; *n_layers (may be NULL) the model's
 * layer count. Layers computed in one fused pass have their figures on the first one's entry
 * and zeros on the others: a BatchNorm2d → ReLU → MaxPool2d(2) run on its BatchNorm2d's entry,
 * or, with the single-channel Conv2d before it, on that Conv2d's; a Linear → BatchNorm1d → ReLU
 * run on its Linear's; any other BatchNorm2d → ReLU pair on its BatchNorm2d's. The step's GFLOP/s are the sum of the layers' FLOPs over step_seconds.
 * SN_ERR_INVALID_ARGUMENT for a bad argument or a batch BatchNorm refuses in training mode. */
sn_status sn_model_profile(const sn_model *model, int32_t optimizer_kind, float lr, int32_t batch_size,
                           double seconds, sn_step_profile *out, sn_layer_profile *layers,
                           size_t capacity, size_t *n_layers);

/* (end of profiling) */

/* ============================================================= Instruction sets === */

/* The kernel variant this process runs, chosen by CPUID when the library is first used:
 * "avx512" (x86-64-v4: AVX-512F/BW/CD/DQ/VL), "avx2" (x86-64-v3: AVX2 and FMA) or "baseline"
 * (x86-64-v2: SSE4.2 and POPCNT; without FMA its results may differ from the others' in the
 * last bits). The environment variable SMALLNET_ISA=avx512|avx2|baseline, read at that moment,
 * forces one (for tests). "none" when no variant can run: the CPU lacks x86-64-v2, or
 * SMALLNET_ISA names a variant it lacks or none at all; then sn_last_error() says why (sn_isa
 * counts as a failing call) and every function returning sn_status fails with
 * SN_ERR_UNSUPPORTED_CPU and that message. Static storage; never NULL. */
const char *sn_isa(void);

#ifdef __cplusplus
}
#endif

#endif /* SMALLNET_H */
