NG__TODO(batch_norm) NG__TODO(spectral_norm)
