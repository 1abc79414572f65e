/* NGFX fixture reader: the whole file is read, checked (magic, version, sizes, CRC-32, exact
   end) and decoded byte by byte, so it does not depend on the host's endianness or alignment. */
#include "fixture.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t fx_crc32(const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    static uint32_t table[256];
    static int ready;
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    if (!ready) {
        uint32_t k, b, v;
        for (k = 0; k < 256; k++) {
            v = k;
            for (b = 0; b < 8; b++) v = (v & 1u) ? 0xEDB88320u ^ (v >> 1) : v >> 1;
            table[k] = v;
        }
        ready = 1;
    }
    for (i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t fx_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void fx_free(fx_file *f) {
    int k;
    if (!f) return;
    for (k = 0; k < f->n; k++) { free(f->a[k].f); free(f->a[k].i); }
    free(f->a);
    free(f);
}

/* Parse `buf` (`len` bytes) into f; on failure record a message and return the status. */
static ng_status fx_parse(fx_file *f, const unsigned char *buf, size_t len) {
    const char *path = f->path;
    size_t off = 12, body;
    uint32_t version, count, crc_file, crc_calc, k;
    if (len < 16) return ng_fail(NG_ERR_FORMAT, "%s: truncated: %zu bytes, a fixture has at least 16", path, len);
    if (memcmp(buf, "NGFX", 4) != 0) return ng_fail(NG_ERR_FORMAT, "%s: offset 0: bad magic (expected \"NGFX\")", path);
    version = fx_u32(buf + 4);
    if (version != FX_VERSION)
        return ng_fail(NG_ERR_FORMAT, "%s: offset 4: format version %u, this reader knows %d (regenerate with `make fixtures`)",
                       path, (unsigned)version, FX_VERSION);
    body = len - 4;
    crc_file = fx_u32(buf + body);
    crc_calc = fx_crc32(buf, body);
    if (crc_file != crc_calc)
        return ng_fail(NG_ERR_CHECKSUM, "%s: CRC-32 mismatch (stored %08x, computed %08x): truncated or corrupt",
                       path, (unsigned)crc_file, (unsigned)crc_calc);
    count = fx_u32(buf + 8);
    if (count > 100000) return ng_fail(NG_ERR_FORMAT, "%s: offset 8: implausible array count %u", path, (unsigned)count);
    f->a = (fx_array *)calloc(count ? count : 1, sizeof *f->a);
    if (!f->a) return ng_fail(NG_ERR_NOMEM, "%s: out of memory", path);
    for (k = 0; k < count; k++) {
        fx_array *a = &f->a[k];
        uint32_t nlen, dtype, ndim, d;
        size_t bytes;
        int64_t n = 1;
        if (body - off < 4) return ng_fail(NG_ERR_FORMAT, "%s: offset %zu: truncated before array %u", path, off, (unsigned)k);
        nlen = fx_u32(buf + off);
        off += 4;
        if (nlen < 1 || nlen >= sizeof a->name || body - off < nlen + 8)
            return ng_fail(NG_ERR_FORMAT, "%s: offset %zu: array %u has a bad name length %u", path, off - 4, (unsigned)k, (unsigned)nlen);
        memcpy(a->name, buf + off, nlen);
        a->name[nlen] = '\0';
        off += nlen;
        dtype = fx_u32(buf + off);
        ndim = fx_u32(buf + off + 4);
        off += 8;
        if (dtype != FX_F32 && dtype != FX_I32)
            return ng_fail(NG_ERR_FORMAT, "%s: offset %zu: array \"%s\" has dtype %u (expected 1 float32 or 2 int32)", path, off - 8, a->name, (unsigned)dtype);
        if (ndim > 4 || body - off < 4u * ndim)
            return ng_fail(NG_ERR_FORMAT, "%s: offset %zu: array \"%s\" has ndim %u (expected 0..4) or is truncated", path, off - 4, a->name, (unsigned)ndim);
        a->dtype = (int)dtype;
        a->ndim = (int)ndim;
        for (d = 0; d < 4; d++) a->dims[d] = 1;
        for (d = 0; d < ndim; d++) {
            a->dims[d] = fx_u32(buf + off + 4 * d);
            if (ng_mul_i64(n, a->dims[d], &n) != 0 || n > (int64_t)(len / 4))
                return ng_fail(NG_ERR_FORMAT, "%s: offset %zu: array \"%s\" is larger than the file", path, off, a->name);
        }
        off += 4u * ndim;
        a->n = n;
        bytes = (size_t)n * 4;
        if (body - off < bytes)
            return ng_fail(NG_ERR_FORMAT, "%s: offset %zu: array \"%s\" is truncated: needs %zu data bytes, %zu remain", path, off, a->name, bytes, body - off);
        if (dtype == FX_F32) {
            int64_t j;
            a->f = (float *)malloc(bytes ? bytes : 4);
            if (!a->f) return ng_fail(NG_ERR_NOMEM, "%s: out of memory", path);
            for (j = 0; j < n; j++) {
                uint32_t u = fx_u32(buf + off + 4 * (size_t)j);
                memcpy(&a->f[j], &u, 4);
            }
        } else {
            int64_t j;
            a->i = (int32_t *)malloc(bytes ? bytes : 4);
            if (!a->i) return ng_fail(NG_ERR_NOMEM, "%s: out of memory", path);
            for (j = 0; j < n; j++) a->i[j] = (int32_t)fx_u32(buf + off + 4 * (size_t)j);
        }
        f->n = (int)k + 1;
        off += bytes;
    }
    if (off != body)
        return ng_fail(NG_ERR_FORMAT, "%s: offset %zu: %zu unexpected bytes after the last array", path, off, body - off);
    return NG_OK;
}

fx_file *fx_load_path(const char *path) {
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL;
    long len;
    fx_file *f;
    if (!fp) { ng_fail(NG_ERR_IO, "%s: cannot open (regenerate fixtures with `make fixtures`)", path); return NULL; }
    if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        ng_fail(NG_ERR_IO, "%s: cannot determine the size", path);
        return NULL;
    }
    buf = (unsigned char *)malloc((size_t)len + 1);
    f = (fx_file *)calloc(1, sizeof *f);
    if (!buf || !f) { fclose(fp); free(buf); free(f); ng_fail(NG_ERR_NOMEM, "%s: out of memory", path); return NULL; }
    if (fread(buf, 1, (size_t)len, fp) != (size_t)len) {
        fclose(fp); free(buf); free(f);
        ng_fail(NG_ERR_IO, "%s: read failed", path);
        return NULL;
    }
    fclose(fp);
    snprintf(f->path, sizeof f->path, "%s", path);
    if (fx_parse(f, buf, (size_t)len) != NG_OK) { free(buf); fx_free(f); return NULL; }
    free(buf);
    return f;
}

fx_file *fx_open(const char *name) {
    const char *dirs[3];
    char path[512];
    int k;
    dirs[0] = getenv("NG_FIXTURES");
    dirs[1] = "../tests/fixtures";
    dirs[2] = "tests/fixtures";
    for (k = 0; k < 3; k++) {
        FILE *fp;
        if (!dirs[k] || !dirs[k][0]) continue;
        snprintf(path, sizeof path, "%s/%s.ngfx", dirs[k], name);
        if ((fp = fopen(path, "rb")) != NULL) { fclose(fp); return fx_load_path(path); }
    }
    ng_fail(NG_ERR_IO, "fixture %s.ngfx not found in $NG_FIXTURES, ../tests/fixtures or tests/fixtures "
            "(run the tests from build/ or the repository root; regenerate with `make fixtures`)", name);
    return NULL;
}

const fx_array *fx_find(const fx_file *f, const char *name) {
    int k;
    if (!f) return NULL;
    for (k = 0; k < f->n; k++)
        if (strcmp(f->a[k].name, name) == 0) return &f->a[k];
    return NULL;
}

ng_shape fx_shape(const fx_array *a) {
    ng_shape s;
    int d;
    s.ndim = a->ndim;
    for (d = 0; d < NG_MAX_DIMS; d++) s.d[d] = a->dims[d];
    return s;
}
