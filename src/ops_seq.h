/* ======================================================================================== */
/* @@OPS sequence ops (TextNAS): embedding, masking, conv1d, pools, batch norm, pooling      */
/* ======================================================================================== */
/* Layout: sequences are CHANNEL-LAST (N, L, D) = (batch, length, features), so every op
   reads whole feature rows; this is PyTorch's (N, C, L) transposed, with the same numbers.
   Weights keep PyTorch's layouts (nn.Embedding (V, D), nn.Conv1d (Cout, Cin, K)), so
   checkpoints map one to one. A mask is an (N, L) float tensor, 1 at real tokens and 0 at
   padding (ng_seq_mask_from_lengths builds it); it never receives a gradient. */

/* mask[n, t] = t < lengths[n] ? 1 : 0, as an (N, L) tensor (no gradient). */
ng_tensor *ng_seq_mask_from_lengths(ng_ctx *ctx, const int32_t *lengths /* (N) */, int64_t N, int64_t L);
/* nn.Embedding: out[n, t, :] = table[ids[n, t], :] -> (N, L, D). ids (N*L values, copied) must
   lie in [0, V). Gradients scatter-add into the table rows in a fixed order (deterministic);
   padding_idx >= 0: that row gets no gradient (its value is still looked up), as PyTorch's
   padding_idx; padding_idx < 0: none. */
ng_tensor *ng_embedding(ng_ctx *ctx, ng_tensor *table /* (V, D) */, const int32_t *ids /* (N, L) */,
                        int64_t N, int64_t L, int64_t padding_idx);
/* Select, not multiply: out[n, t, :] = mask[n, t] != 0 ? x[n, t, :] : 0, so padded positions
   are exactly 0 (NaN/Inf included) and their input gradient is 0. */
ng_tensor *ng_seq_mask(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */, ng_tensor *mask /* (N, L) */);
/* nn.Conv1d(Cin, Cout, K, stride 1, padding (K-1)/2) on channel-last sequences: K odd, zero
   padding beyond [0, L) ("same" length). out[n, t, o] = b[o] + sum_{c,k} w[o, c, k]
   x[n, t + k - (K-1)/2, c]. b may be NULL. */
ng_tensor *ng_conv1d(ng_ctx *ctx, ng_tensor *x /* (N, L, Cin) */, ng_tensor *w /* (Cout, Cin, K) */,
                     ng_tensor *b /* (Cout) */);
/* F.avg_pool1d / F.max_pool1d with kernel 3, stride 1, padding 1 along L (same length).
   avg: count_include_pad=True, the divisor is always 3 (also at t = 0 and t = L-1).
   max: the border padding is -inf (never chosen); ties go to the earliest position, as
   PyTorch's CPU kernel. Padded tokens inside [0, L) take part as the values they hold. */
ng_tensor *ng_seq_avg_pool3(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */);
ng_tensor *ng_seq_max_pool3(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */);
/* nn.BatchNorm1d over the feature dimension of (N, L, D) (= BatchNorm1d on (N, D, L)):
   statistics per feature over all N*L positions, padded positions INCLUDED (TextNAS: they
   hold zeros). Same semantics, arguments and failure rules as ng_batch_norm. */
ng_tensor *ng_seq_batch_norm(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */, ng_tensor *gamma /* (D) */,
                             ng_tensor *beta /* (D) */, ng_tensor *running_mean /* (D) */,
                             ng_tensor *running_var /* (D) */, float momentum, float eps);
/* TextNAS GlobalAvgPool: out[n, :] = sum_t x[n, t, :] / cnt[n], cnt = sum_t mask[n, t], with
   cnt replaced by 1e-12 when 0. The sum runs over all L positions (as the reference; exact
   masked mean when x is 0 at pads) -> (N, D). */
ng_tensor *ng_seq_mean_pool(ng_ctx *ctx, ng_tensor *x /* (N, L, D) */, ng_tensor *mask /* (N, L) */);
/* TextNAS multi-head attention core on projected sequences (the caller applies the three
   Linear + ReLU projections, e.g. ng_relu(ng_linear(...)) on the (N*L, H) view). Heads take
   contiguous channel blocks of d = H/heads. Per sequence and head: S = Q_h K_h^T / sqrt(d);
   S[:, j] = -1e10 (replaced) where key j is padding; P = softmax over keys; rows of padding
   queries set to 0; inverted dropout with probability p on P (training only; ctx->rng);
   out_h = P V_h, heads concatenated in channel order -> (N, L, H). No output projection.
   Gradients to q, k, v (never to the mask). */
ng_tensor *ng_seq_attention(ng_ctx *ctx, ng_tensor *q /* (N, L, H) */, ng_tensor *k /* (N, L, H) */,
                            ng_tensor *v /* (N, L, H) */, ng_tensor *mask /* (N, L) */, int heads, float p);
/* One direction of nn.GRU (1 layer, bias=True, batch_first) over each sequence's TRUE length
   (packed-sequence semantics): lengths are the mask's row sums (mask must be 1s then 0s);
   reverse = 0 runs t = 0..len-1, reverse = 1 runs t = len-1..0 starting from h = 0 at the
   sequence's own last token. Gate rows in PyTorch's order (r, z, n):
   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h. Output h_t at real
   positions, exactly 0 at pads -> (N, L, H). TextNAS's BiGRU is ng_add of the two directions
   (each with its own weights). Gradients to x and all four weights (not the mask). */
ng_tensor *ng_seq_gru(ng_ctx *ctx, ng_tensor *x /* (N, L, I) */, ng_tensor *mask /* (N, L) */,
                      ng_tensor *w_ih /* (3H, I) */, ng_tensor *w_hh /* (3H, H) */,
                      ng_tensor *b_ih /* (3H) */, ng_tensor *b_hh /* (3H) */, int reverse);
/* The same with the true lengths also given on the host (mask must be their mask, as from
   ng_seq_mask_from_lengths): the mask's values are not read, so a device mask costs no copy
   back to the host, which would wait for every kernel queued before it. */
ng_tensor *ng_seq_gru_lengths(ng_ctx *ctx, ng_tensor *x, ng_tensor *mask, const int32_t *lengths /* (N), in [0, L] */,
                              ng_tensor *w_ih, ng_tensor *w_hh, ng_tensor *b_ih, ng_tensor *b_hh, int reverse);
