/* ======================================================================================== */
/* @@DATA                                                                                   */
/* ======================================================================================== */

ng_status ng_gunzip(const unsigned char *buf, size_t n, const char *name, size_t max_out,
                    unsigned char **out, size_t *out_n) {
#ifdef NG_NO_ZLIB
    (void)buf; (void)n; (void)max_out;
    *out = NULL;
    *out_n = 0;
    return ng_fail(NG_ERR_UNSUPPORTED, "cannot decompress '%s': this build has no zlib (NG_NO_ZLIB); "
                   "gunzip the file first", name ? name : "(memory)");
#else
    z_stream zs;
    unsigned char *o = NULL;
    size_t cap, len = 0, in_off = 0, guess;
    ng_status st = NG_OK;
    int ret;
    *out = NULL;
    *out_n = 0;
    if (!name) name = "(memory)";
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "gzip file '%s' is empty", name);
    if (n < 2 || buf[0] != 0x1f || buf[1] != 0x8b)
        return ng_fail(NG_ERR_FORMAT, "'%s' is not gzip data: first bytes %02x %02x, expected 1f 8b", name, buf[0],
                       n > 1 ? buf[1] : 0);
    /* First guess at the output size: the trailer's ISIZE (size mod 2^32 of the last member),
       bounded by deflate's best ratio (~1032:1) and the cap, so hostile trailers cannot force
       a large allocation. The buffer grows if the guess was short. */
    guess = n >= 18 ? (size_t)ng__rd32(buf + n - 4) : 0;
    if (n <= SIZE_MAX / 1032 && guess > n * 1032) guess = n * 1032;
    if (guess > max_out) guess = max_out;
    cap = guess < 64 ? 64 : guess;
    if (cap < SIZE_MAX) cap++; /* room to see the stream end, and to notice output beyond the cap */
    o = (unsigned char *)malloc(cap);
    if (!o) return ng_fail(NG_ERR_NOMEM, "gunzip '%s': cannot allocate %zu bytes", name, cap);
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        free(o);
        return ng_fail(NG_ERR_NOMEM, "gunzip '%s': zlib initialisation failed", name);
    }
    for (;;) {
        uInt before;
        if (zs.avail_in == 0 && in_off < n) {
            size_t chunk = n - in_off;
            if (chunk > 0x40000000u) chunk = 0x40000000u;
            zs.next_in = (Bytef *)(uintptr_t)(buf + in_off); /* zlib does not write through next_in */
            zs.avail_in = (uInt)chunk;
            in_off += chunk;
        }
        if (len == cap) {
            size_t ncap = cap <= SIZE_MAX / 2 ? 2 * cap : SIZE_MAX;
            unsigned char *no;
            if (max_out < SIZE_MAX && ncap > max_out + 1) ncap = max_out + 1;
            if (ncap <= cap) { st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' decompresses to more than the limit of %zu bytes", name, max_out); break; }
            no = (unsigned char *)realloc(o, ncap);
            if (!no) { st = ng_fail(NG_ERR_NOMEM, "gunzip '%s': cannot allocate %zu bytes", name, ncap); break; }
            o = no;
            cap = ncap;
        }
        zs.next_out = o + len;
        zs.avail_out = (uInt)(cap - len > 0x40000000u ? 0x40000000u : cap - len);
        before = zs.avail_out;
        ret = inflate(&zs, Z_NO_FLUSH);
        len += before - zs.avail_out;
        if (len > max_out) {
            st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' decompresses to more than the limit of %zu bytes", name, max_out);
            break;
        }
        if (ret == Z_STREAM_END) {
            size_t rest = (n - in_off) + zs.avail_in, at = n - rest;
            if (rest == 0) break;
            if (rest >= 2 && buf[at] == 0x1f && buf[at + 1] == 0x8b) { /* another gzip member */
                if (inflateReset(&zs) != Z_OK) { st = ng_fail(NG_ERR_FORMAT, "gunzip '%s': zlib reset failed", name); break; }
                continue;
            }
            st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' has %zu unexpected bytes after the end of the compressed data (offset %zu)",
                         name, rest, at);
            break;
        }
        if (ret == Z_OK) continue;
        if (ret == Z_BUF_ERROR) {
            if (zs.avail_out == 0) continue;         /* needs more room: grow */
            if (zs.avail_in == 0 && in_off == n) {
                st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' is truncated: the %zu bytes end before the compressed data does",
                             name, n);
                break;
            }
        }
        if (ret == Z_MEM_ERROR) { st = ng_fail(NG_ERR_NOMEM, "gunzip '%s': zlib is out of memory", name); break; }
        st = ng_fail(NG_ERR_FORMAT, "gzip file '%s' is corrupt near input offset %zu: %s", name,
                     (size_t)(n - ((n - in_off) + zs.avail_in)), zs.msg ? zs.msg : "invalid compressed data");
        break;
    }
    inflateEnd(&zs);
    if (st != NG_OK) { free(o); return st; }
    *out = o;
    *out_n = len;
    return NG_OK;
#endif
}

ng_status ng_idx_parse(const unsigned char *buf, size_t n, const char *name, ng_idx *out) {
    int nd, i;
    int64_t count = 1;
    size_t header, data_n;
    char dims[96];
    size_t pos = 0;
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (n == 0) return ng_fail(NG_ERR_FORMAT, "IDX file '%s' is empty", name);
    if (n < 4) return ng_fail(NG_ERR_FORMAT, "IDX file '%s' is truncated: %zu bytes, the header needs at least 4", name, n);
    if (buf[0] != 0 || buf[1] != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s' is not an IDX file: magic 0x%02x%02x%02x%02x does not start with two zero bytes "
                       "(expected 0x00000803 for images, 0x00000801 for labels)", name, buf[0], buf[1], buf[2], buf[3]);
    if (buf[2] != 0x08)
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s': data type 0x%02x is not supported (only 0x08, unsigned bytes)", name, buf[2]);
    nd = buf[3];
    if (nd < 1 || nd > 4)
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s': %d dimensions in the magic 0x%02x%02x%02x%02x (this reader takes 1..4)",
                       name, nd, buf[0], buf[1], buf[2], buf[3]);
    header = 4 + 4 * (size_t)nd;
    if (n < header)
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s' is truncated: the header needs %zu bytes for %d dimensions, the file has %zu",
                       name, header, nd, n);
    dims[0] = 0;
    for (i = 0; i < nd; i++) {
        const unsigned char *p = buf + 4 + 4 * i;
        int64_t d = (int64_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
        out->dims[i] = d;
        pos += (size_t)snprintf(dims + pos, sizeof dims - pos, i ? " x %lld" : "%lld", (long long)d);
        if (count >= 0 && ng_mul_i64(count, d, &count)) count = -1;
    }
    if (count < 0 || (uint64_t)count > (uint64_t)(SIZE_MAX - header)) {
        memset(out, 0, sizeof *out);
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s': dimensions (%s) overflow", name, dims);
    }
    data_n = n - header;
    if (data_n < (size_t)count) {
        memset(out, 0, sizeof *out);
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s' is truncated: dimensions (%s) need %lld data bytes, found %zu",
                       name, dims, (long long)count, data_n);
    }
    if (data_n > (size_t)count) {
        memset(out, 0, sizeof *out);
        return ng_fail(NG_ERR_FORMAT, "IDX file '%s' has %zu bytes of trailing garbage after the %lld data bytes of dimensions (%s)",
                       name, data_n - (size_t)count, (long long)count, dims);
    }
    out->data = (unsigned char *)malloc(count ? (size_t)count : 1);
    if (!out->data) {
        memset(out, 0, sizeof *out);
        return ng_fail(NG_ERR_NOMEM, "IDX file '%s': cannot allocate %lld bytes", name, (long long)count);
    }
    if (count) memcpy(out->data, buf + header, (size_t)count);
    out->ndim = nd;
    out->count = count;
    for (i = nd; i < 4; i++) out->dims[i] = 1;
    return NG_OK;
}

ng_status ng_idx_load(const char *path, ng_idx *out) {
    unsigned char *raw, *z;
    size_t n, zn;
    ng_status st;
    memset(out, 0, sizeof *out);
    st = ng_file_read_all(path, NG_IDX_MAX_BYTES, &raw, &n);
    if (st != NG_OK) return st;
    if (n >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        st = ng_gunzip(raw, n, path, NG_IDX_MAX_BYTES, &z, &zn);
        free(raw);
        if (st != NG_OK) return st;
        raw = z;
        n = zn;
    }
    st = ng_idx_parse(raw, n, path, out);
    free(raw);
    return st;
}

void ng_idx_free(ng_idx *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

ng_status ng_mnist_load(const char *images_path, const char *labels_path, int num_classes, ng_mnist *out) {
    ng_idx im, lb;
    ng_status st;
    int64_t i;
    memset(out, 0, sizeof *out);
    if (num_classes < 1 || num_classes > 256)
        return ng_fail(NG_ERR_ARG, "mnist load: num_classes %d is out of range (1..256)", num_classes);
    st = ng_idx_load(images_path, &im);
    if (st != NG_OK) return st;
    if (im.ndim != 3) {
        ng_fail(NG_ERR_FORMAT, "images file '%s' has %d dimensions; expected 3 (N, H, W)", images_path, im.ndim);
        ng_idx_free(&im);
        return NG_ERR_FORMAT;
    }
    st = ng_idx_load(labels_path, &lb);
    if (st != NG_OK) { ng_idx_free(&im); return st; }
    if (lb.ndim != 1) {
        st = ng_fail(NG_ERR_FORMAT, "labels file '%s' has %d dimensions; expected 1 (N)", labels_path, lb.ndim);
    } else if (lb.dims[0] != im.dims[0]) {
        st = ng_fail(NG_ERR_FORMAT, "image/label count mismatch: images file '%s' has %lld images but labels file '%s' has %lld labels",
                     images_path, (long long)im.dims[0], labels_path, (long long)lb.dims[0]);
    } else {
        for (i = 0; i < lb.count; i++)
            if (lb.data[i] >= num_classes) {
                st = ng_fail(NG_ERR_FORMAT, "labels file '%s': label %d at index %lld is not below num_classes %d",
                             labels_path, lb.data[i], (long long)i, num_classes);
                break;
            }
    }
    if (st != NG_OK) {
        ng_idx_free(&im);
        ng_idx_free(&lb);
        return st;
    }
    out->n = im.dims[0];
    out->h = im.dims[1];
    out->w = im.dims[2];
    out->images = im.data;
    out->labels = lb.data;
    return NG_OK;
}

void ng_mnist_free(ng_mnist *m) {
    if (!m) return;
    free(m->images);
    free(m->labels);
    memset(m, 0, sizeof *m);
}
