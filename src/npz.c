/* ======================================================================================== */
/* @@NPZ                                                                                    */
/* ======================================================================================== */

static uint32_t ng__rd16(const unsigned char *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static void ng__le16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

void ng_npy_free(ng_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- .npy header: a Python dict literal such as
   {'descr': '<f8', 'fortran_order': False, 'shape': (2048, 2048), }                      ---- */
typedef struct ng__npy_hdr {
    const char *p, *end;    /* cursor and end of the header text */
    char descr[16];
    int fortran, have_descr, have_order, have_shape, ndim;
    int64_t shape[NG_NPY_MAX_DIMS];
} ng__npy_hdr;

static void ng__npy_space(ng__npy_hdr *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}
static int ng__npy_take(ng__npy_hdr *h, char c) {
    ng__npy_space(h);
    if (h->p < h->end && *h->p == c) { h->p++; return 1; }
    return 0;
}
/* a quoted string into out (cap bytes); 0 if malformed or too long */
static int ng__npy_string(ng__npy_hdr *h, char *out, size_t cap) {
    char q;
    size_t l = 0;
    ng__npy_space(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return 0;
    q = *h->p++;
    while (h->p < h->end && *h->p != q) {
        if (l + 1 >= cap) return 0;
        out[l++] = *h->p++;
    }
    if (h->p >= h->end) return 0;
    h->p++;
    out[l] = '\0';
    return 1;
}
static int ng__npy_word(ng__npy_hdr *h, const char *w) {
    size_t l = strlen(w);
    ng__npy_space(h);
    if ((size_t)(h->end - h->p) < l || memcmp(h->p, w, l) != 0) return 0;
    h->p += l;
    return 1;
}
/* (a, b, ...) with an optional trailing comma; () is a 0-d array */
static int ng__npy_shape(ng__npy_hdr *h) {
    h->ndim = 0;
    if (!ng__npy_take(h, '(')) return 0;
    for (;;) {
        int64_t v = 0;
        int digits = 0;
        if (ng__npy_take(h, ')')) return 1;
        if (h->ndim == NG_NPY_MAX_DIMS) return 0;
        ng__npy_space(h);
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return 0;
            v = v * 10 + (*h->p++ - '0');
            digits++;
        }
        if (h->p < h->end && *h->p == 'L') h->p++;   /* Python 2's long literals */
        if (!digits) return 0;
        h->shape[h->ndim++] = v;
        if (!ng__npy_take(h, ',')) return ng__npy_take(h, ')');
    }
}
static ng_status ng__npy_header(ng__npy_hdr *h, const char *name) {
    if (!ng__npy_take(h, '{')) return ng_fail(NG_ERR_FORMAT, "'%s': the .npy header is not a dict", name);
    for (;;) {
        char key[32];
        if (ng__npy_take(h, '}')) break;
        if (!ng__npy_string(h, key, sizeof key) || !ng__npy_take(h, ':'))
            return ng_fail(NG_ERR_FORMAT, "'%s': malformed .npy header near offset %d", name, (int)(h->end - h->p));
        if (!strcmp(key, "descr") && !h->have_descr) {
            if (!ng__npy_string(h, h->descr, sizeof h->descr))
                return ng_fail(NG_ERR_FORMAT, "'%s': .npy 'descr' is not a plain dtype string (structured arrays are not supported)", name);
            h->have_descr = 1;
        } else if (!strcmp(key, "fortran_order") && !h->have_order) {
            if (ng__npy_word(h, "True")) h->fortran = 1;
            else if (ng__npy_word(h, "False")) h->fortran = 0;
            else return ng_fail(NG_ERR_FORMAT, "'%s': .npy 'fortran_order' is neither True nor False", name);
            h->have_order = 1;
        } else if (!strcmp(key, "shape") && !h->have_shape) {
            if (!ng__npy_shape(h))
                return ng_fail(NG_ERR_FORMAT, "'%s': .npy 'shape' is not a tuple of at most %d sizes", name, NG_NPY_MAX_DIMS);
            h->have_shape = 1;
        } else {
            return ng_fail(NG_ERR_FORMAT, "'%s': unexpected or repeated key '%s' in the .npy header", name, key);
        }
        if (!ng__npy_take(h, ',')) {
            if (!ng__npy_take(h, '}')) return ng_fail(NG_ERR_FORMAT, "'%s': malformed .npy header", name);
            break;
        }
    }
    if (!h->have_descr || !h->have_order || !h->have_shape)
        return ng_fail(NG_ERR_FORMAT, "'%s': the .npy header lacks '%s'", name,
                       !h->have_descr ? "descr" : !h->have_order ? "fortran_order" : "shape");
    return NG_OK;
}

static double ng__npy_value(const unsigned char *p, int size, int big_endian) {
    unsigned char b[8];
    int i;
    for (i = 0; i < size; i++) b[i] = big_endian ? p[size - 1 - i] : p[i];
    if (size == 4) {
        float f;
        memcpy(&f, b, 4);
        return (double)f;
    } else {
        double d;
        memcpy(&d, b, 8);
        return d;
    }
}

ng_status ng_npy_parse(const unsigned char *buf, size_t n, const char *name, ng_npy *out) {
    ng__npy_hdr h;
    size_t hlen, off, count = 1, bytes;
    int major, size, big, i;
    int64_t k;
    ng_status st;
    if (!out) return ng_fail(NG_ERR_ARG, "npy_parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (!buf || n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s' is not a .npy array: it does not start with \\x93NUMPY", name);
    major = buf[6];
    if (major < 1 || major > 3) return ng_fail(NG_ERR_FORMAT, "'%s': .npy format version %d.%d is not supported (1-3)", name, major, buf[7]);
    if (major == 1) { hlen = ng__rd16(buf + 8); off = 10; }
    else if (n < 12) return ng_fail(NG_ERR_FORMAT, "'%s': truncated .npy header", name);
    else { hlen = ng__rd32(buf + 8); off = 12; }
    if (hlen > n - off) return ng_fail(NG_ERR_FORMAT, "'%s': the .npy header (%zu bytes) runs past the end of the %zu-byte array", name, hlen, n);
    memset(&h, 0, sizeof h);
    h.p = (const char *)buf + off;
    h.end = h.p + hlen;
    if ((st = ng__npy_header(&h, name)) != NG_OK) return st;
    if (strlen(h.descr) != 3 || (h.descr[0] != '<' && h.descr[0] != '>' && h.descr[0] != '=') || h.descr[1] != 'f' ||
        (h.descr[2] != '4' && h.descr[2] != '8'))
        return ng_fail(NG_ERR_FORMAT, "'%s': .npy dtype '%s' is not supported (float32 or float64: '<f4', '<f8', '>f4', '>f8')", name, h.descr);
    size = h.descr[2] - '0';
    big = h.descr[0] == '>';   /* '=' is native: numpy writes it only on little-endian machines */
    off += hlen;
    for (i = 0; i < h.ndim; i++)
        if ((uint64_t)h.shape[i] > (uint64_t)SIZE_MAX || ng_mul_size(count, (size_t)h.shape[i], &count))
            return ng_fail(NG_ERR_FORMAT, "'%s': .npy shape overflows", name);
    if (ng_mul_size(count, (size_t)size, &bytes))
        return ng_fail(NG_ERR_FORMAT, "'%s': .npy shape overflows", name);
    if (bytes != n - off)
        return ng_fail(NG_ERR_FORMAT, "'%s': the .npy data is %zu bytes, its shape and dtype '%s' need %zu", name, n - off, h.descr, bytes);
    out->data = (double *)malloc((count ? count : 1) * sizeof(double));
    if (!out->data) return ng_fail(NG_ERR_NOMEM, "'%s': cannot allocate %zu doubles", name, count);
    out->ndim = h.ndim;
    for (i = 0; i < h.ndim; i++) out->shape[i] = h.shape[i];
    out->count = (int64_t)count;
    /* Fortran order: element (i0, .., id-1) sits at sum i_j * prod_{l<j} shape_l; walk the C
       order index and keep the Fortran offset alongside */
    for (k = 0; k < (int64_t)count; k++) {
        size_t src = (size_t)k;
        if (h.fortran && h.ndim > 1) {
            int64_t rest = k, stride = 1;
            int j;
            int64_t idx[NG_NPY_MAX_DIMS] = {0};
            for (j = h.ndim - 1; j >= 0; j--) { idx[j] = rest % h.shape[j]; rest /= h.shape[j]; }
            src = 0;
            for (j = 0; j < h.ndim; j++) { src += (size_t)(idx[j] * stride); stride *= h.shape[j]; }
        }
        out->data[k] = ng__npy_value(buf + off + src * (size_t)size, size, big);
    }
    return NG_OK;
}

/* ---- ZIP (PKWARE APPNOTE 6.3): the end record, the central directory, one member ---- */
typedef struct ng__zip_entry {
    const unsigned char *name;
    size_t name_len;
    uint32_t flags, method, crc;
    uint64_t csize, usize, local;   /* compressed and uncompressed sizes, local header offset */
} ng__zip_entry;

typedef struct ng__zip_dir {
    uint64_t count, offset, size;   /* central directory: entries, start, bytes */
} ng__zip_dir;

static ng_status ng__zip_find_dir(const unsigned char *b, size_t n, const char *name, ng__zip_dir *dir) {
    size_t at, lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
    int found = 0;
    if (n < 22) return ng_fail(NG_ERR_FORMAT, "'%s' is not a .npz (ZIP) archive: %zu bytes", name, n);
    for (at = n - 22;; at--) {   /* the last end record whose comment ends the file */
        if (memcmp(b + at, "PK\5\6", 4) == 0 && at + 22 + ng__rd16(b + at + 20) == n) { found = 1; break; }
        if (at == lowest) break;
    }
    if (!found) return ng_fail(NG_ERR_FORMAT, "'%s' is not a .npz (ZIP) archive: no end of central directory record", name);
    dir->count = ng__rd16(b + at + 10);
    dir->size = ng__rd32(b + at + 12);
    dir->offset = ng__rd32(b + at + 16);
    if (dir->count == 0xffff || dir->size == 0xffffffffu || dir->offset == 0xffffffffu) {   /* ZIP64 */
        uint64_t z;
        if (at < 20 || memcmp(b + at - 20, "PK\6\7", 4) != 0)
            return ng_fail(NG_ERR_FORMAT, "'%s': ZIP64 fields without a ZIP64 end of central directory locator", name);
        z = ng__rd64(b + at - 20 + 8);
        if (n < 56 || z > n - 56 || memcmp(b + z, "PK\6\6", 4) != 0)
            return ng_fail(NG_ERR_FORMAT, "'%s': the ZIP64 end of central directory record is missing", name);
        dir->count = ng__rd64(b + z + 32);
        dir->size = ng__rd64(b + z + 40);
        dir->offset = ng__rd64(b + z + 48);
    }
    if (dir->offset > n || dir->size > n - dir->offset)
        return ng_fail(NG_ERR_FORMAT, "'%s': the central directory (offset %llu, %llu bytes) lies outside the %zu-byte file", name,
                       (unsigned long long)dir->offset, (unsigned long long)dir->size, n);
    return NG_OK;
}

/* The central directory entry at *pos (advanced past it). ZIP64 extra fields replace the
   sizes and offset that are 0xffffffff, in that order. */
static ng_status ng__zip_entry_at(const unsigned char *b, size_t end, size_t *pos, const char *name, ng__zip_entry *e) {
    const unsigned char *p = b + *pos, *x, *xend;
    size_t elen, clen;
    if (end - *pos < 46 || memcmp(p, "PK\1\2", 4) != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s': bad central directory entry at offset %zu", name, *pos);
    e->flags = ng__rd16(p + 8);
    e->method = ng__rd16(p + 10);
    e->crc = ng__rd32(p + 16);
    e->csize = ng__rd32(p + 20);
    e->usize = ng__rd32(p + 24);
    e->name_len = ng__rd16(p + 28);
    elen = ng__rd16(p + 30);
    clen = ng__rd16(p + 32);
    e->local = ng__rd32(p + 42);
    if (end - *pos - 46 < e->name_len + elen + clen)
        return ng_fail(NG_ERR_FORMAT, "'%s': central directory entry at offset %zu runs past the directory", name, *pos);
    e->name = p + 46;
    x = e->name + e->name_len;
    xend = x + elen;
    while (xend - x >= 4) {
        uint32_t id = ng__rd16(x), len = ng__rd16(x + 2);
        const unsigned char *v = x + 4;
        if ((size_t)(xend - v) < len) break;
        if (id == 1) {
            const unsigned char *vend = v + len;
            uint64_t *fields[3];
            int f;
            fields[0] = &e->usize; fields[1] = &e->csize; fields[2] = &e->local;
            for (f = 0; f < 3; f++) {
                if (*fields[f] != 0xffffffffu) continue;
                if (vend - v < 8) return ng_fail(NG_ERR_FORMAT, "'%s': short ZIP64 extra field at offset %zu", name, *pos);
                *fields[f] = ng__rd64(v);
                v += 8;
            }
        }
        x += 4 + len;
    }
    *pos += 46 + e->name_len + elen + clen;
    return NG_OK;
}

/* inflate a raw deflate stream of exactly `usize` bytes */
static ng_status ng__zip_inflate(const unsigned char *in, size_t csize, unsigned char *out, size_t usize, const char *name,
                                 const char *member) {
#ifdef NG_NO_ZLIB
    (void)in; (void)csize; (void)out; (void)usize;
    return ng_fail(NG_ERR_UNSUPPORTED, "'%s': member '%s' is compressed and this build has no zlib (NG_NO_ZLIB); "
                   "save it with np.savez instead of np.savez_compressed", name, member);
#else
    z_stream zs;
    int ret;
    unsigned char spare;
    memset(&zs, 0, sizeof zs);
    if (csize > 0xffffffffu || usize > 0xffffffffu)
        return ng_fail(NG_ERR_UNSUPPORTED, "'%s': compressed member '%s' is larger than 4 GiB", name, member);
    if (inflateInit2(&zs, -15) != Z_OK) return ng_fail(NG_ERR_NOMEM, "'%s': zlib initialisation failed", name);
    zs.next_in = (Bytef *)(uintptr_t)in;   /* zlib does not write through next_in */
    zs.avail_in = (uInt)csize;
    zs.next_out = usize ? out : &spare;
    zs.avail_out = usize ? (uInt)usize : 1;
    ret = inflate(&zs, Z_FINISH);
    if (ret == Z_STREAM_END && zs.total_out == usize) {
        inflateEnd(&zs);
        return NG_OK;
    }
    inflateEnd(&zs);
    if (ret == Z_STREAM_END || ret == Z_BUF_ERROR)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' does not inflate to the %zu bytes its directory entry gives", name, member, usize);
    return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' has corrupt compressed data: %s", name, member, zs.msg ? zs.msg : "invalid data");
#endif
}

/* the bytes of member `e` (malloc'd), its local header checked, inflated, CRC-checked */
static ng_status ng__zip_extract(const unsigned char *b, size_t n, const char *name, const ng__zip_entry *e, const char *member,
                                 unsigned char **out) {
    const unsigned char *lh, *data;
    size_t skip;
    ng_status st = NG_OK;
    *out = NULL;
    if (e->flags & 1) return ng_fail(NG_ERR_UNSUPPORTED, "'%s': member '%s' is encrypted", name, member);
    if (e->method != 0 && e->method != 8)
        return ng_fail(NG_ERR_UNSUPPORTED, "'%s': member '%s' uses ZIP compression method %u (only stored and deflate are read)", name,
                       member, (unsigned)e->method);
    if (e->local > n || n - e->local < 30 || memcmp(b + e->local, "PK\3\4", 4) != 0)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' has no local header at offset %llu", name, member, (unsigned long long)e->local);
    lh = b + e->local;
    skip = 30 + (size_t)ng__rd16(lh + 26) + ng__rd16(lh + 28);
    if (n - e->local < skip || e->csize > n - e->local - skip)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' (%llu bytes) runs past the end of the file", name, member,
                       (unsigned long long)e->csize);
    data = lh + skip;
    if (e->usize > NG_NPZ_MAX_BYTES || (e->method == 0 && e->usize != e->csize))
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' has an impossible size (%llu bytes)", name, member, (unsigned long long)e->usize);
    if (e->method == 8 && e->csize < 2 && e->usize > 0)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' has no compressed data", name, member);
    /* deflate expands by at most ~1032:1: a larger claim is corrupt, and would only waste memory */
    if (e->method == 8 && e->usize / 1032 > e->csize)
        return ng_fail(NG_ERR_FORMAT, "'%s': member '%s' claims %llu bytes from %llu compressed", name, member,
                       (unsigned long long)e->usize, (unsigned long long)e->csize);
    *out = (unsigned char *)malloc(e->usize ? (size_t)e->usize : 1);
    if (!*out) return ng_fail(NG_ERR_NOMEM, "'%s': cannot allocate %llu bytes for member '%s'", name, (unsigned long long)e->usize, member);
    if (e->method == 0) memcpy(*out, data, (size_t)e->usize);
    else st = ng__zip_inflate(data, (size_t)e->csize, *out, (size_t)e->usize, name, member);
    if (st == NG_OK && ng_crc32(0, *out, (size_t)e->usize) != e->crc)
        st = ng_fail(NG_ERR_FORMAT, "'%s': member '%s' fails its CRC-32 check (corrupt file)", name, member);
    if (st != NG_OK) { free(*out); *out = NULL; }
    return st;
}

ng_status ng_npz_parse_member(const unsigned char *buf, size_t n, const char *name, const char *key, ng_npy *out) {
    ng__zip_dir dir = {0, 0, 0};
    ng__zip_entry e;
    char want[256], seen[512];
    size_t pos, end, klen, used = 0;
    uint64_t i;
    ng_status st;
    if (!out) return ng_fail(NG_ERR_ARG, "npz: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (!buf || !key || !key[0]) return ng_fail(NG_ERR_ARG, "npz '%s': NULL buffer or empty key", name);
    klen = strlen(key);
    if (klen + 5 > sizeof want) return ng_fail(NG_ERR_ARG, "npz '%s': key too long", name);
    memcpy(want, key, klen + 1);
    if (klen < 4 || strcmp(key + klen - 4, ".npy") != 0) memcpy(want + klen, ".npy", 5);
    if ((st = ng__zip_find_dir(buf, n, name, &dir)) != NG_OK) return st;
    seen[0] = '\0';
    memset(&e, 0, sizeof e);
    pos = (size_t)dir.offset;
    end = (size_t)(dir.offset + dir.size);
    for (i = 0; i < dir.count; i++) {
        if ((st = ng__zip_entry_at(buf, end, &pos, name, &e)) != NG_OK) return st;
        if (e.name_len == strlen(want) && memcmp(e.name, want, e.name_len) == 0) {
            unsigned char *member;
            if ((st = ng__zip_extract(buf, n, name, &e, want, &member)) != NG_OK) return st;
            {
                char label[4352];
                snprintf(label, sizeof label, "%s:%s", name, want);
                st = ng_npy_parse(member, (size_t)e.usize, label, out);
            }
            free(member);
            return st;
        }
        if (used + e.name_len + 5 < sizeof seen) {
            used += (size_t)snprintf(seen + used, sizeof seen - used, "%s'%.*s'", used ? ", " : "", (int)e.name_len, (const char *)e.name);
        }
    }
    return ng_fail(NG_ERR_FORMAT, "'%s' has no array '%s' (members: %s)", name, key, used ? seen : "none");
}

ng_status ng_npz_load_member(const char *path, const char *key, ng_npy *out) {
    unsigned char *buf = NULL;
    size_t n = 0;
    ng_status st;
    if (out) memset(out, 0, sizeof *out);
    if (!path) return ng_fail(NG_ERR_ARG, "npz: NULL path");
    if ((st = ng_file_read_all(path, NG_NPZ_MAX_BYTES, &buf, &n)) != NG_OK) return st;
    st = ng_npz_parse_member(buf, n, path, key, out);
    free(buf);
    return st;
}

/* ---- writer ---- */

/* the .npy header for a '<f8' C-order array, padded with spaces and ended by '\n' so that
   magic + version + length + header is a multiple of 64 (numpy's alignment); returns its
   total length including the 10 leading bytes, or 0 if it does not fit */
static size_t ng__npy_write_header(unsigned char *out, size_t cap, const ng_npy *a) {
    char dict[512];
    size_t l, total;
    int i;
    l = (size_t)snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    for (i = 0; i < a->ndim; i++) l += (size_t)snprintf(dict + l, sizeof dict - l, "%lld%s", (long long)a->shape[i], a->ndim == 1 ? "," : i + 1 < a->ndim ? ", " : "");
    l += (size_t)snprintf(dict + l, sizeof dict - l, "), }");
    total = (10 + l + 1 + 63) / 64 * 64;
    if (total > cap || total - 10 > 0xffff) return 0;
    memcpy(out, "\x93NUMPY\1\0", 8);
    ng__le16(out + 8, (uint32_t)(total - 10));
    memcpy(out + 10, dict, l);
    memset(out + 10 + l, ' ', total - 10 - l - 1);
    out[total - 1] = '\n';
    return total;
}

ng_status ng_npz_save(const char *path, int count, const char *const *keys, const ng_npy *arrays) {
    unsigned char *buf, *p;
    size_t total = 22, *offs, *sizes, i;
    uint32_t *crcs;
    ng_status st;
    if (!path || count < 1 || count > 0xffff || !keys || !arrays) return ng_fail(NG_ERR_ARG, "npz_save: bad arguments");
    for (i = 0; i < (size_t)count; i++) {
        size_t bytes;
        if (!keys[i] || !keys[i][0] || strlen(keys[i]) > 200 || arrays[i].ndim < 0 || arrays[i].ndim > NG_NPY_MAX_DIMS ||
            (!arrays[i].data && arrays[i].count > 0) || ng_mul_size((size_t)arrays[i].count, 8, &bytes) || bytes > 0xf0000000u)
            return ng_fail(NG_ERR_ARG, "npz_save '%s': bad array %zu", path, i);
        total += 2 * (30 + strlen(keys[i]) + 4) + 16 + 512 + bytes;   /* local + central headers, npy header */
        if (total > 0xf0000000u) return ng_fail(NG_ERR_ARG, "npz_save '%s': larger than 4 GiB (ZIP64 is not written)", path);
    }
    buf = (unsigned char *)malloc(total);
    offs = (size_t *)malloc((size_t)count * sizeof *offs);
    sizes = (size_t *)malloc((size_t)count * sizeof *sizes);
    crcs = (uint32_t *)malloc((size_t)count * sizeof *crcs);
    if (!buf || !offs || !sizes || !crcs) {
        free(buf); free(offs); free(sizes); free(crcs);
        return ng_fail(NG_ERR_NOMEM, "npz_save '%s': cannot allocate %zu bytes", path, total);
    }
    p = buf;
    for (i = 0; i < (size_t)count; i++) {   /* local header, then the .npy bytes */
        const ng_npy *a = &arrays[i];
        size_t nl = strlen(keys[i]) + 4, h;
        unsigned char *npy = p + 30 + nl;
        int64_t k;
        offs[i] = (size_t)(p - buf);
        h = ng__npy_write_header(npy, 512, a);
        if (h == 0) {   /* cannot happen within NG_NPY_MAX_DIMS sizes; kept as a guard */
            free(buf); free(offs); free(sizes); free(crcs);
            return ng_fail(NG_ERR_ARG, "npz_save '%s': array %zu's header does not fit", path, i);
        }
        for (k = 0; k < a->count; k++) { uint64_t u; memcpy(&u, &a->data[k], 8); ng__le64(npy + h + 8 * (size_t)k, u); }
        sizes[i] = h + 8 * (size_t)a->count;
        crcs[i] = ng_crc32(0, npy, sizes[i]);
        memcpy(p, "PK\3\4", 4);
        ng__le16(p + 4, 20);                   /* version needed: 2.0 */
        ng__le16(p + 6, 0);                    /* flags */
        ng__le16(p + 8, 0);                    /* stored */
        ng__le16(p + 10, 0);                   /* time 00:00:00 */
        ng__le16(p + 12, 0x21);                /* date 1980-01-01: fixed, so output is reproducible */
        ng__le32(p + 14, crcs[i]);
        ng__le32(p + 18, (uint32_t)sizes[i]);
        ng__le32(p + 22, (uint32_t)sizes[i]);
        ng__le16(p + 26, (uint32_t)nl);
        ng__le16(p + 28, 0);
        memcpy(p + 30, keys[i], nl - 4);
        memcpy(p + 30 + nl - 4, ".npy", 4);
        p = npy + sizes[i];
    }
    {
        unsigned char *cd = p;
        for (i = 0; i < (size_t)count; i++) {
            size_t nl = strlen(keys[i]) + 4;
            memcpy(p, "PK\1\2", 4);
            ng__le16(p + 4, 0x314);            /* made by: Unix, 2.0 (as Python's zipfile) */
            memcpy(p + 6, buf + offs[i] + 4, 26);   /* version needed .. name length, as the local header */
            ng__le16(p + 30, 0);               /* extra */
            ng__le16(p + 32, 0);               /* comment */
            ng__le16(p + 34, 0);               /* disk */
            ng__le16(p + 36, 0);               /* internal attributes */
            ng__le32(p + 38, 0600u << 16);      /* external: -rw------- */
            ng__le32(p + 42, (uint32_t)offs[i]);
            memcpy(p + 46, buf + offs[i] + 30, nl);
            p += 46 + nl;
        }
        memcpy(p, "PK\5\6", 4);
        ng__le16(p + 4, 0);
        ng__le16(p + 6, 0);
        ng__le16(p + 8, (uint32_t)count);
        ng__le16(p + 10, (uint32_t)count);
        ng__le32(p + 12, (uint32_t)(p - cd));
        ng__le32(p + 16, (uint32_t)(cd - buf));
        ng__le16(p + 20, 0);
        p += 22;
    }
    st = ng_file_write_atomic(path, buf, (size_t)(p - buf));
    free(buf); free(offs); free(sizes); free(crcs);
    return st;
}

/* ---- feature statistics ---- */

ng_status ng_feat_stats_save_npz(const ng_feat_stats *s, const char *path) {
    static const char *const keys[2] = {"mu", "sigma"};
    ng_npy a[2];
    if (!s || !s->finished || !s->mean || !s->cov) return ng_fail(NG_ERR_ARG, "feat_stats_save_npz '%s': statistics missing or not finished", path ? path : "");
    memset(a, 0, sizeof a);
    a[0].ndim = 1; a[0].shape[0] = s->d; a[0].count = s->d; a[0].data = s->mean;
    a[1].ndim = 2; a[1].shape[0] = s->d; a[1].shape[1] = s->d; a[1].count = s->d * s->d; a[1].data = s->cov;
    return ng_npz_save(path, 2, keys, a);
}

ng_status ng_feat_stats_load_npz(ng_feat_stats *s, const char *path, const char *net_id, int64_t expect_d) {
    ng_npy mu, sigma;
    ng_feat_stats t;
    int64_t d, i, j;
    ng_status st;
    if (!s || !path) return ng_fail(NG_ERR_ARG, "feat_stats_load_npz: NULL argument");
    if ((st = ng_npz_load_member(path, "mu", &mu)) != NG_OK) return st;
    if ((st = ng_npz_load_member(path, "sigma", &sigma)) != NG_OK) { ng_npy_free(&mu); return st; }
    d = mu.count;
    if (mu.ndim != 1 || sigma.ndim != 2 || sigma.shape[0] != d || sigma.shape[1] != d || d < 1)
        st = ng_fail(NG_ERR_FORMAT, "'%s': 'mu' must be (D) and 'sigma' (D, D); found %d-d mu of %lld values and %d-d sigma (%lld x %lld)", path,
                     mu.ndim, (long long)d, sigma.ndim, (long long)sigma.shape[0], (long long)(sigma.ndim > 1 ? sigma.shape[1] : 0));
    else if (expect_d > 0 && d != expect_d)
        st = ng_fail(NG_ERR_MISMATCH, "'%s': statistics of %lld features, expected %lld", path, (long long)d, (long long)expect_d);
    for (i = 0; st == NG_OK && i < d * d; i++)
        if (!isfinite(sigma.data[i]) || (i < d && !isfinite(mu.data[i])))
            st = ng_fail(NG_ERR_FORMAT, "'%s': non-finite statistics ('%s' element %lld)", path, isfinite(sigma.data[i]) ? "mu" : "sigma",
                         (long long)i);
    if (st == NG_OK) st = ng_feat_stats_init(&t, d, net_id);
    if (st == NG_OK) {
        memcpy(t.mean, mu.data, (size_t)d * sizeof(double));
        for (i = 0; i < d; i++)
            for (j = 0; j <= i; j++) t.cov[i * d + j] = t.cov[j * d + i] = sigma.data[i * d + j];
        t.n = 0;
        t.finished = 1;
        *s = t;
    }
    ng_npy_free(&mu);
    ng_npy_free(&sigma);
    return st;
}
