/* ======================================================================================== */
/* @@TENSOR  tensors and parameter groups                                                   */
/* ======================================================================================== */

#define NG_MAX_DIMS 4

typedef enum ng_device { NG_CPU = 0, NG_CUDA = 1 } ng_device;

/* A shape of 0..4 dimensions; unused trailing entries are 1. Build with ng_shape1..4. */
typedef struct ng_shape {
    int ndim;
    int64_t d[NG_MAX_DIMS];
} ng_shape;
ng_shape ng_shape1(int64_t a);
ng_shape ng_shape2(int64_t a, int64_t b);
ng_shape ng_shape3(int64_t a, int64_t b, int64_t c);
ng_shape ng_shape4(int64_t a, int64_t b, int64_t c, int64_t d);
int64_t ng_shape_numel(ng_shape s);  /* -1 on overflow or negative size */
int ng_shape_eq(ng_shape a, ng_shape b);

typedef struct ng_params ng_params;

/* float32, row-major (C order), NCHW for images. */
typedef struct ng_tensor {
    ng_shape shape;
    int64_t numel;
    float *data;
    float *grad;         /* parameters: slice of the group's gradient block; activations:
                            allocated in the step arena when a gradient first reaches it */
    ng_params *owner;    /* parameter group, or NULL for activations and inputs */
    int requires_grad;   /* activations/inputs: a gradient must flow to this tensor */
    int device;          /* ng_device */
    const char *name;
} ng_tensor;

/* Persistent parameters: one flat data block (and, if trainable, one flat gradient block) per
   group, so an optimizer step on a group is one loop. Declare every tensor with
   ng_params_add, then ng_params_alloc once; tensor pointers stay valid until ng_params_free. */
struct ng_params {
    char name[64];
    int trainable;       /* 1: has a gradient block and takes optimizer steps; 0: buffers */
    int64_t numel;
    float *data;         /* (numel) */
    float *grad;         /* (numel), NULL for buffer groups */
    int n, cap;
    ng_tensor **tensors;
    int64_t *offsets;    /* element offset of each tensor in the block */
    int allocated;
    int device;          /* ng_device where data/grad live (ng_params_to_device) */
    float *host_data;    /* NG_CUDA: the host blocks kept while data/grad point to device */
    float *host_grad;
};

ng_params *ng_params_create(const char *name, int trainable);
void ng_params_free(ng_params *g);
/* Returns NULL (with ng_last_error) on a bad shape, a duplicate name or after allocation. */
ng_tensor *ng_params_add(ng_params *g, const char *name, ng_shape shape);
ng_status ng_params_alloc(ng_params *g);             /* zero-filled data and grad */
void ng_params_zero_grad(ng_params *g);
ng_tensor *ng_params_find(const ng_params *g, const char *name);
/* Copy values (data only) from a group of identical layout; NG_ERR_MISMATCH otherwise. */
ng_status ng_params_copy(ng_params *dst, const ng_params *src);
/* Same names, shapes and order. */
int ng_params_same_layout(const ng_params *a, const ng_params *b);
