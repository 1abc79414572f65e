NG__TODO(mixed)
