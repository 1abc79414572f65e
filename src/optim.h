/* ======================================================================================== */
/* @@OPTIM  optimizers, EMA, learning-rate schedules, clipping, initialisers                 */
/* ======================================================================================== */
/* Each optimizer steps ONE parameter group (a flat block), reading group->grad. State blocks
   have the group's numel and are owned by the optimizer. They live where the group lives and
   follow it: when the group moves (ng_params_to_device) the next step, reset or update moves
   the state too, so an optimizer made before or after the move works the same. On the GPU
   the step is one fused kernel with the same float arithmetic; checkpoints read and write the
   state on either device. */

/* torch.optim.Adam (amsgrad off): g += wd p (coupled L2); m = b1 m + (1-b1) g;
   v = b2 v + (1-b2) g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
   Elementwise work is float in PyTorch's order; scalars such as 1 - b2 and lr / (1 - b1^t) are
   formed in double from the shortest decimal of each float setting (0.999f -> 0.999), as Python
   would. The gradient block is not modified (weight decay is applied to a copy). Change lr
   between steps for a schedule. */
typedef struct ng_adam {
    ng_params *group;
    float lr, beta1, beta2, eps, weight_decay;
    int64_t t;          /* steps taken */
    float *m, *v;       /* (numel), on `device` */
    int device;         /* where m and v are (ng_device) */
} ng_adam;
ng_status ng_adam_init(ng_adam *opt, ng_params *g, float lr, float beta1, float beta2, float eps, float weight_decay);
ng_status ng_adam_step(ng_adam *opt);  /* NG_ERR_NOMEM when the state cannot follow its group */
void ng_adam_reset(ng_adam *opt);   /* t = 0, m = v = 0 (a fresh optimizer) */
void ng_adam_free(ng_adam *opt);

/* torch.optim.SGD: g += wd p; buf = momentum buf + (1 - dampening) g (buf = g on the first
   step); nesterov: g + momentum buf; p -= lr * that. */
typedef struct ng_sgd {
    ng_params *group;
    float lr, momentum, dampening, weight_decay;
    int nesterov;
    int64_t t;
    float *buf;         /* (numel), NULL when momentum == 0; on `device` */
    int device;
} ng_sgd;
ng_status ng_sgd_init(ng_sgd *opt, ng_params *g, float lr, float momentum, float dampening, float weight_decay, int nesterov);
ng_status ng_sgd_step(ng_sgd *opt);
void ng_sgd_free(ng_sgd *opt);

/* Exponential moving average of a group's values: shadow = decay shadow + (1 - decay) p. */
typedef struct ng_ema {
    ng_params *group;
    float decay;
    float *shadow;      /* (numel), starts as a copy of the group; on `device` */
    int device;
} ng_ema;
ng_status ng_ema_init(ng_ema *e, ng_params *g, float decay);
ng_status ng_ema_update(ng_ema *e);
ng_status ng_ema_swap(ng_ema *e);        /* exchange shadow and live values (evaluate with the EMA) */
void ng_ema_free(ng_ema *e);

/* Learning rate at `step` of `total`: constant; cosine from base to final
   (final + (base - final)(1 + cos(pi step/total))/2, CosineAnnealingLR's closed form); linear
   from base to final. step is clamped to [0, total]; total <= 0 gives base. */
typedef enum ng_lr_kind { NG_LR_CONSTANT = 0, NG_LR_COSINE = 1, NG_LR_LINEAR = 2 } ng_lr_kind;
float ng_lr_at(ng_lr_kind kind, float base, float final_lr, int64_t step, int64_t total);

/* torch.nn.utils.clip_grad_norm_ over several groups: total L2 norm of all gradients; if it
   exceeds max_norm, scale every gradient by max_norm / (norm + 1e-6). Returns the norm. The
   norm is summed in double (deterministic for any thread count); groups without gradients are
   skipped. A NaN or infinite norm is returned as it is and the gradients are left unscaled
   (PyTorch would multiply them by 0 or NaN): check the result to skip such a step. */
float ng_clip_grad_norm(ng_params *const *groups, int n, float max_norm);

/* Initialisers. Fans as torch.nn.init: fan_in = shape[1] * receptive field, fan_out =
   shape[0] * receptive field (receptive field = product of dims 2..). */
void ng_init_constant(ng_tensor *t, float v);
void ng_init_uniform(ng_tensor *t, float lo, float hi, ng_rng *r);
void ng_init_normal(ng_tensor *t, float mean, float std, ng_rng *r);
void ng_init_xavier_uniform(ng_tensor *t, float gain, ng_rng *r);   /* bound gain*sqrt(6/(fi+fo)) */
/* PyTorch's default for Linear/Conv weights: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)). */
void ng_init_kaiming_uniform_default(ng_tensor *w, ng_rng *r);
/* PyTorch's default bias init: U(+-1/sqrt(fan_in)) with the weight's fan_in. */
void ng_init_bias_default(ng_tensor *b, const ng_tensor *weight, ng_rng *r);
void ng_init_fans(const ng_tensor *t, int64_t *fan_in, int64_t *fan_out);
