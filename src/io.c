/* ======================================================================================== */
/* @@IO                                                                                     */
/* ======================================================================================== */

/* ---- CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), one table lookup per byte ---- */
static const uint32_t ng__crc_table[256] = {
    0x00000000u, 0x77073096u, 0xEE0E612Cu, 0x990951BAu, 0x076DC419u, 0x706AF48Fu,
    0xE963A535u, 0x9E6495A3u, 0x0EDB8832u, 0x79DCB8A4u, 0xE0D5E91Eu, 0x97D2D988u,
    0x09B64C2Bu, 0x7EB17CBDu, 0xE7B82D07u, 0x90BF1D91u, 0x1DB71064u, 0x6AB020F2u,
    0xF3B97148u, 0x84BE41DEu, 0x1ADAD47Du, 0x6DDDE4EBu, 0xF4D4B551u, 0x83D385C7u,
    0x136C9856u, 0x646BA8C0u, 0xFD62F97Au, 0x8A65C9ECu, 0x14015C4Fu, 0x63066CD9u,
    0xFA0F3D63u, 0x8D080DF5u, 0x3B6E20C8u, 0x4C69105Eu, 0xD56041E4u, 0xA2677172u,
    0x3C03E4D1u, 0x4B04D447u, 0xD20D85FDu, 0xA50AB56Bu, 0x35B5A8FAu, 0x42B2986Cu,
    0xDBBBC9D6u, 0xACBCF940u, 0x32D86CE3u, 0x45DF5C75u, 0xDCD60DCFu, 0xABD13D59u,
    0x26D930ACu, 0x51DE003Au, 0xC8D75180u, 0xBFD06116u, 0x21B4F4B5u, 0x56B3C423u,
    0xCFBA9599u, 0xB8BDA50Fu, 0x2802B89Eu, 0x5F058808u, 0xC60CD9B2u, 0xB10BE924u,
    0x2F6F7C87u, 0x58684C11u, 0xC1611DABu, 0xB6662D3Du, 0x76DC4190u, 0x01DB7106u,
    0x98D220BCu, 0xEFD5102Au, 0x71B18589u, 0x06B6B51Fu, 0x9FBFE4A5u, 0xE8B8D433u,
    0x7807C9A2u, 0x0F00F934u, 0x9609A88Eu, 0xE10E9818u, 0x7F6A0DBBu, 0x086D3D2Du,
    0x91646C97u, 0xE6635C01u, 0x6B6B51F4u, 0x1C6C6162u, 0x856530D8u, 0xF262004Eu,
    0x6C0695EDu, 0x1B01A57Bu, 0x8208F4C1u, 0xF50FC457u, 0x65B0D9C6u, 0x12B7E950u,
    0x8BBEB8EAu, 0xFCB9887Cu, 0x62DD1DDFu, 0x15DA2D49u, 0x8CD37CF3u, 0xFBD44C65u,
    0x4DB26158u, 0x3AB551CEu, 0xA3BC0074u, 0xD4BB30E2u, 0x4ADFA541u, 0x3DD895D7u,
    0xA4D1C46Du, 0xD3D6F4FBu, 0x4369E96Au, 0x346ED9FCu, 0xAD678846u, 0xDA60B8D0u,
    0x44042D73u, 0x33031DE5u, 0xAA0A4C5Fu, 0xDD0D7CC9u, 0x5005713Cu, 0x270241AAu,
    0xBE0B1010u, 0xC90C2086u, 0x5768B525u, 0x206F85B3u, 0xB966D409u, 0xCE61E49Fu,
    0x5EDEF90Eu, 0x29D9C998u, 0xB0D09822u, 0xC7D7A8B4u, 0x59B33D17u, 0x2EB40D81u,
    0xB7BD5C3Bu, 0xC0BA6CADu, 0xEDB88320u, 0x9ABFB3B6u, 0x03B6E20Cu, 0x74B1D29Au,
    0xEAD54739u, 0x9DD277AFu, 0x04DB2615u, 0x73DC1683u, 0xE3630B12u, 0x94643B84u,
    0x0D6D6A3Eu, 0x7A6A5AA8u, 0xE40ECF0Bu, 0x9309FF9Du, 0x0A00AE27u, 0x7D079EB1u,
    0xF00F9344u, 0x8708A3D2u, 0x1E01F268u, 0x6906C2FEu, 0xF762575Du, 0x806567CBu,
    0x196C3671u, 0x6E6B06E7u, 0xFED41B76u, 0x89D32BE0u, 0x10DA7A5Au, 0x67DD4ACCu,
    0xF9B9DF6Fu, 0x8EBEEFF9u, 0x17B7BE43u, 0x60B08ED5u, 0xD6D6A3E8u, 0xA1D1937Eu,
    0x38D8C2C4u, 0x4FDFF252u, 0xD1BB67F1u, 0xA6BC5767u, 0x3FB506DDu, 0x48B2364Bu,
    0xD80D2BDAu, 0xAF0A1B4Cu, 0x36034AF6u, 0x41047A60u, 0xDF60EFC3u, 0xA867DF55u,
    0x316E8EEFu, 0x4669BE79u, 0xCB61B38Cu, 0xBC66831Au, 0x256FD2A0u, 0x5268E236u,
    0xCC0C7795u, 0xBB0B4703u, 0x220216B9u, 0x5505262Fu, 0xC5BA3BBEu, 0xB2BD0B28u,
    0x2BB45A92u, 0x5CB36A04u, 0xC2D7FFA7u, 0xB5D0CF31u, 0x2CD99E8Bu, 0x5BDEAE1Du,
    0x9B64C2B0u, 0xEC63F226u, 0x756AA39Cu, 0x026D930Au, 0x9C0906A9u, 0xEB0E363Fu,
    0x72076785u, 0x05005713u, 0x95BF4A82u, 0xE2B87A14u, 0x7BB12BAEu, 0x0CB61B38u,
    0x92D28E9Bu, 0xE5D5BE0Du, 0x7CDCEFB7u, 0x0BDBDF21u, 0x86D3D2D4u, 0xF1D4E242u,
    0x68DDB3F8u, 0x1FDA836Eu, 0x81BE16CDu, 0xF6B9265Bu, 0x6FB077E1u, 0x18B74777u,
    0x88085AE6u, 0xFF0F6A70u, 0x66063BCAu, 0x11010B5Cu, 0x8F659EFFu, 0xF862AE69u,
    0x616BFFD3u, 0x166CCF45u, 0xA00AE278u, 0xD70DD2EEu, 0x4E048354u, 0x3903B3C2u,
    0xA7672661u, 0xD06016F7u, 0x4969474Du, 0x3E6E77DBu, 0xAED16A4Au, 0xD9D65ADCu,
    0x40DF0B66u, 0x37D83BF0u, 0xA9BCAE53u, 0xDEBB9EC5u, 0x47B2CF7Fu, 0x30B5FFE9u,
    0xBDBDF21Cu, 0xCABAC28Au, 0x53B39330u, 0x24B4A3A6u, 0xBAD03605u, 0xCDD70693u,
    0x54DE5729u, 0x23D967BFu, 0xB3667A2Eu, 0xC4614AB8u, 0x5D681B02u, 0x2A6F2B94u,
    0xB40BBE37u, 0xC30C8EA1u, 0x5A05DF1Bu, 0x2D02EF8Du,
};

uint32_t ng_crc32(uint32_t crc, const void *buf, size_t n) {
    const unsigned char *p = (const unsigned char *)buf;
    crc = ~crc;
    while (n--) crc = ng__crc_table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

/* ---- whole-file read ---- */
ng_status ng_file_read_all(const char *path, size_t max_bytes, unsigned char **data, size_t *n) {
    unsigned char *buf = NULL;
    size_t cap, len = 0;
#ifndef _WIN32
    int fd;
    struct stat st;
#else
    FILE *f;
#endif
    *data = NULL;
    *n = 0;
#ifndef _WIN32
    do fd = open(path, O_RDONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) return ng_fail(NG_ERR_IO, "cannot open '%s' for reading: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ng_fail(NG_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ng_fail(NG_ERR_IO, "cannot read '%s': it is a directory", path);
    }
    if (S_ISREG(st.st_mode)) {
        if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_bytes) {
            close(fd);
            return ng_fail(NG_ERR_IO, "cannot read '%s': it is %lld bytes, more than the limit of %zu bytes",
                           path, (long long)st.st_size, max_bytes);
        }
        cap = (size_t)st.st_size + 1; /* one spare byte: a file that grew is noticed, not cut */
    } else {
        cap = 1 << 16;
    }
#else
    f = fopen(path, "rb");
    if (!f) return ng_fail(NG_ERR_IO, "cannot open '%s' for reading: %s", path, strerror(errno));
    cap = 1 << 16;
#endif
    if (max_bytes < SIZE_MAX && cap > max_bytes + 1) cap = max_bytes + 1;
    buf = (unsigned char *)malloc(cap);
    if (!buf) {
#ifndef _WIN32
        close(fd);
#else
        fclose(f);
#endif
        return ng_fail(NG_ERR_NOMEM, "cannot read '%s': out of memory for %zu bytes", path, cap);
    }
    for (;;) {
        size_t want;
        if (len == cap) {
            size_t ncap;
            unsigned char *nb;
            if (len > max_bytes) break; /* reported below */
            ncap = cap <= SIZE_MAX / 2 ? 2 * cap : SIZE_MAX;
            if (max_bytes < SIZE_MAX && ncap > max_bytes + 1) ncap = max_bytes + 1;
            if (ncap <= cap) break;
            nb = (unsigned char *)realloc(buf, ncap);
            if (!nb) {
                free(buf);
#ifndef _WIN32
                close(fd);
#else
                fclose(f);
#endif
                return ng_fail(NG_ERR_NOMEM, "cannot read '%s': out of memory for %zu bytes", path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        want = cap - len;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
#ifndef _WIN32
        {
            ssize_t r = read(fd, buf + len, want);
            if (r < 0) {
                int e = errno;
                if (e == EINTR) continue;
                free(buf);
                close(fd);
                return ng_fail(NG_ERR_IO, "read error on '%s' at offset %zu: %s", path, len, strerror(e));
            }
            if (r == 0) break;
            len += (size_t)r;
        }
#else
        {
            size_t r = fread(buf + len, 1, want, f);
            len += r;
            if (r < want) {
                if (ferror(f)) {
                    free(buf);
                    fclose(f);
                    return ng_fail(NG_ERR_IO, "read error on '%s' at offset %zu", path, len);
                }
                break;
            }
        }
#endif
    }
#ifndef _WIN32
    close(fd);
#else
    fclose(f);
#endif
    if (len > max_bytes) {
        free(buf);
        return ng_fail(NG_ERR_IO, "cannot read '%s': it is more than the limit of %zu bytes", path, max_bytes);
    }
    *data = buf;
    *n = len;
    return NG_OK;
}

/* ---- atomic write ---- */
#ifndef _WIN32
static ng_status ng__fsync_dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    size_t dn;
    int fd, rc, e;
    if (!slash) { dir = (char *)malloc(2); if (dir) strcpy(dir, "."); }
    else {
        dn = slash == path ? 1 : (size_t)(slash - path);
        dir = (char *)malloc(dn + 1);
        if (dir) { memcpy(dir, path, dn); dir[dn] = 0; }
    }
    if (!dir) return ng_fail(NG_ERR_NOMEM, "'%s' was written, but syncing its directory ran out of memory", path);
    do fd = open(dir, O_RDONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        e = errno;
        ng_fail(NG_ERR_IO, "'%s' was written, but its directory '%s' could not be opened to sync it: %s",
                path, dir, strerror(e));
        free(dir);
        return NG_ERR_IO;
    }
    rc = fsync(fd);
    e = errno;
    close(fd);
    /* Some file systems cannot sync directories (EINVAL): the rename is then as durable as
       that file system makes it. */
    if (rc != 0 && e != EINVAL && e != EROFS) {
        ng_fail(NG_ERR_IO, "'%s' was written, but syncing its directory '%s' failed: %s", path, dir, strerror(e));
        free(dir);
        return NG_ERR_IO;
    }
    free(dir);
    return NG_OK;
}
#endif

ng_status ng_file_write_atomic(const char *path, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    size_t plen = strlen(path), tlen = plen + 48, off = 0;
    char *tmp = (char *)malloc(tlen);
    ng_status st = NG_OK;
#ifndef _WIN32
    int fd = -1, k, e;
#else
    FILE *f;
#endif
    if (!tmp) return ng_fail(NG_ERR_NOMEM, "cannot write '%s': out of memory", path);
#ifndef _WIN32
    for (k = 0; k < 100; k++) {
        if (k == 0) snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
        else snprintf(tmp, tlen, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        do fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666); while (fd < 0 && errno == EINTR);
        if (fd >= 0 || errno != EEXIST) break;
    }
    if (fd < 0) {
        e = errno;
        ng_fail(NG_ERR_IO, "cannot write '%s': cannot create temporary file '%s': %s", path, tmp, strerror(e));
        free(tmp);
        return NG_ERR_IO;
    }
    while (off < n) {
        size_t want = n - off;
        ssize_t r;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
        r = write(fd, p + off, want);
        if (r < 0) {
            e = errno;
            if (e == EINTR) continue;
            st = ng_fail(NG_ERR_IO, "cannot write '%s': writing temporary file '%s' failed at offset %zu of %zu: %s",
                         path, tmp, off, n, strerror(e));
            break;
        }
        off += (size_t)r;
    }
    if (st == NG_OK && fsync(fd) != 0) {
        e = errno;
        st = ng_fail(NG_ERR_IO, "cannot write '%s': fsync of temporary file '%s' failed: %s", path, tmp, strerror(e));
    }
    if (close(fd) != 0 && st == NG_OK) {
        e = errno;
        st = ng_fail(NG_ERR_IO, "cannot write '%s': closing temporary file '%s' failed: %s", path, tmp, strerror(e));
    }
    if (st == NG_OK && rename(tmp, path) != 0) {
        e = errno;
        st = ng_fail(NG_ERR_IO, "cannot write '%s': renaming '%s' over it failed: %s", path, tmp, strerror(e));
    }
    if (st != NG_OK) {
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return ng__fsync_dir_of(path);
#else
    /* Windows: no atomic replace through the C library; write fully, then swap names. */
    snprintf(tmp, tlen, "%s.tmp.w", path);
    f = fopen(tmp, "wb");
    if (!f) {
        ng_fail(NG_ERR_IO, "cannot write '%s': cannot create temporary file '%s': %s", path, tmp, strerror(errno));
        free(tmp);
        return NG_ERR_IO;
    }
    if (fwrite(p, 1, n, f) != n || fflush(f) != 0) st = ng_fail(NG_ERR_IO, "cannot write '%s': writing '%s' failed", path, tmp);
    if (fclose(f) != 0 && st == NG_OK) st = ng_fail(NG_ERR_IO, "cannot write '%s': closing '%s' failed", path, tmp);
    if (st == NG_OK) {
        remove(path);
        if (rename(tmp, path) != 0) st = ng_fail(NG_ERR_IO, "cannot write '%s': renaming '%s' failed", path, tmp);
    }
    if (st != NG_OK) remove(tmp);
    (void)off;
    free(tmp);
    return st;
#endif
}

/* ---- checkpoints ---- */
typedef struct ng__ckrec {
    char *key;                 /* NUL-terminated copy */
    uint32_t kind;             /* ng_ckpt_kind */
    const unsigned char *data; /* payload: into `own` (put) or into the checkpoint's buffer (parsed) */
    size_t n;
    unsigned char *own;
} ng__ckrec;

struct ng_ckpt {
    char *name;                /* file name for messages; NULL for a checkpoint being built */
    int n, cap;
    ng__ckrec *recs;
    unsigned char *buf;        /* contents of a parsed file; records point into it */
};

/* little-endian encoding, byte by byte */
static void ng__le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void ng__le64(unsigned char *p, uint64_t v) {
    ng__le32(p, (uint32_t)v);
    ng__le32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t ng__rd32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t ng__rd64(const unsigned char *p) { return (uint64_t)ng__rd32(p) | ((uint64_t)ng__rd32(p + 4) << 32); }
static uint32_t ng__f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float ng__bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* writer cursor over a buffer sized exactly beforehand */
typedef struct ng__wr { unsigned char *p; size_t pos; } ng__wr;
static void ng__w32(ng__wr *w, uint32_t v) { ng__le32(w->p + w->pos, v); w->pos += 4; }
static void ng__w64(ng__wr *w, uint64_t v) { ng__le64(w->p + w->pos, v); w->pos += 8; }
static void ng__wbytes(ng__wr *w, const void *b, size_t n) { if (n) memcpy(w->p + w->pos, b, n); w->pos += n; }
static void ng__wstr(ng__wr *w, const char *s) { size_t n = strlen(s); ng__w32(w, (uint32_t)n); ng__wbytes(w, s, n); }
static void ng__wf32s(ng__wr *w, const float *x, size_t n) {
    unsigned char *p = w->p + w->pos;
    size_t i;
    for (i = 0; i < n; i++) ng__le32(p + 4 * i, ng__f32_bits(x[i]));
    w->pos += 4 * n;
}
/* ng__wf32s for a block on `device`: a GPU block is copied into the output, then put in
   little-endian order in place. */
static void ng__wf32s_on(ng__wr *w, const float *x, size_t n, int device) {
    unsigned char *p = w->p + w->pos;
    size_t i;
    if (device != NG_CUDA) { ng__wf32s(w, x, n); return; }
    ng__cuda_copy(p, x, 4 * n, 2);
    for (i = 0; i < n; i++) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        ng__le32(p + 4 * i, ng__f32_bits(f));
    }
    w->pos += 4 * n;
}

/* reader cursor: every read is bounded by what remains; returns 0 on success, -1 if short */
typedef struct ng__rd { const unsigned char *p; size_t n, pos; } ng__rd;
static size_t ng__rleft(const ng__rd *r) { return r->n - r->pos; }
static int ng__r32(ng__rd *r, uint32_t *v) {
    if (ng__rleft(r) < 4) return -1;
    *v = ng__rd32(r->p + r->pos); r->pos += 4; return 0;
}
static int ng__r64(ng__rd *r, uint64_t *v) {
    if (ng__rleft(r) < 8) return -1;
    *v = ng__rd64(r->p + r->pos); r->pos += 8; return 0;
}
static int ng__rbytes(ng__rd *r, size_t n, const unsigned char **b) {
    if (ng__rleft(r) < n) return -1;
    *b = r->p + r->pos; r->pos += n; return 0;
}
static void ng__rf32s(const unsigned char *p, float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = ng__bits_f32(ng__rd32(p + 4 * i));
}
/* ng__rf32s into a block on `device` (a GPU block is filled through a host copy). */
static ng_status ng__rf32s_on(const unsigned char *p, float *x, size_t n, int device, const char *what) {
    float *h;
    if (device != NG_CUDA) { ng__rf32s(p, x, n); return NG_OK; }
    h = (float *)malloc(n ? 4 * n : 4);
    if (!h) return ng_fail(NG_ERR_NOMEM, "checkpoint: %s: cannot allocate %zu bytes of host staging", what, 4 * n);
    ng__rf32s(p, h, n);
    ng__cuda_copy(x, h, 4 * n, 1);
    free(h);
    return NG_OK;
}

static int ng__add_size(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return -1;
    *out = a + b;
    return 0;
}

/* Copy the current error message (truncated to fit) before composing a new one from it. */
static void ng__copy_err(char *dst, size_t cap) {
    const char *e = ng_last_error();
    size_t l = strlen(e);
    if (l >= cap) l = cap - 1;
    memcpy(dst, e, l);
    dst[l] = 0;
}

static const char *ng__ck_name(const ng_ckpt *ck) { return ck->name ? ck->name : "(unsaved checkpoint)"; }
static const char *ng__ck_kind_name(uint32_t k) {
    switch (k) {
    case NG_CKPT_RAW: return "raw";
    case NG_CKPT_I64: return "i64";
    case NG_CKPT_PARAMS: return "params";
    case NG_CKPT_ADAM: return "adam";
    case NG_CKPT_SGD: return "sgd";
    case NG_CKPT_EMA: return "ema";
    case NG_CKPT_RNG: return "rng";
    }
    return "unknown";
}

ng_ckpt *ng_ckpt_new(void) {
    ng_ckpt *ck = (ng_ckpt *)calloc(1, sizeof *ck);
    if (!ck) ng_fail(NG_ERR_NOMEM, "checkpoint: out of memory");
    return ck;
}

void ng_ckpt_free(ng_ckpt *ck) {
    int i;
    if (!ck) return;
    for (i = 0; i < ck->n; i++) {
        free(ck->recs[i].key);
        free(ck->recs[i].own);
    }
    free(ck->recs);
    free(ck->buf);
    free(ck->name);
    free(ck);
}

static const ng__ckrec *ng__ck_find(const ng_ckpt *ck, const char *key) {
    int i;
    if (!ck || !key) return NULL;
    for (i = 0; i < ck->n; i++)
        if (strcmp(ck->recs[i].key, key) == 0) return &ck->recs[i];
    return NULL;
}

int ng_ckpt_count(const ng_ckpt *ck) { return ck ? ck->n : 0; }
const char *ng_ckpt_key_at(const ng_ckpt *ck, int i) {
    return ck && i >= 0 && i < ck->n ? ck->recs[i].key : NULL;
}
ng_ckpt_kind ng_ckpt_kind_of(const ng_ckpt *ck, const char *key) {
    const ng__ckrec *r = ng__ck_find(ck, key);
    return r ? (ng_ckpt_kind)r->kind : (ng_ckpt_kind)0;
}
const void *ng_ckpt_get(const ng_ckpt *ck, const char *key, size_t *n) {
    const ng__ckrec *r = ng__ck_find(ck, key);
    if (n) *n = r ? r->n : 0;
    return r ? (const void *)r->data : NULL;
}

/* Append a record, taking ownership of `own` (freed on failure). */
static ng_status ng__ck_add(ng_ckpt *ck, const char *key, uint32_t kind, unsigned char *own, size_t n) {
    size_t klen;
    char *kc;
    if (!ck || !key) { free(own); return ng_fail(NG_ERR_ARG, "checkpoint put: NULL checkpoint or key"); }
    klen = strlen(key);
    if (klen == 0 || klen > NG_CKPT_MAX_KEY) {
        free(own);
        return ng_fail(NG_ERR_ARG, "checkpoint put: key length %zu is out of range (1..%u)", klen, NG_CKPT_MAX_KEY);
    }
    if (ng__ck_find(ck, key)) { free(own); return ng_fail(NG_ERR_ARG, "checkpoint put: duplicate key '%s'", key); }
    if (ck->n == ck->cap) {
        int cap = ck->cap ? 2 * ck->cap : 16;
        ng__ckrec *nr = (ng__ckrec *)realloc(ck->recs, (size_t)cap * sizeof *nr);
        if (!nr) { free(own); return ng_fail(NG_ERR_NOMEM, "checkpoint put '%s': out of memory", key); }
        ck->recs = nr;
        ck->cap = cap;
    }
    kc = (char *)malloc(klen + 1);
    if (!kc) { free(own); return ng_fail(NG_ERR_NOMEM, "checkpoint put '%s': out of memory", key); }
    memcpy(kc, key, klen + 1);
    ck->recs[ck->n].key = kc;
    ck->recs[ck->n].kind = kind;
    ck->recs[ck->n].own = own;
    ck->recs[ck->n].data = own;
    ck->recs[ck->n].n = n;
    ck->n++;
    return NG_OK;
}

static unsigned char *ng__ck_alloc(const char *key, size_t n) {
    unsigned char *p = (unsigned char *)malloc(n ? n : 1);
    if (!p) ng_fail(NG_ERR_NOMEM, "checkpoint put '%s': cannot allocate %zu bytes", key ? key : "", n);
    return p;
}

ng_status ng_ckpt_put(ng_ckpt *ck, const char *key, const void *data, size_t n) {
    unsigned char *p;
    if (n && !data) return ng_fail(NG_ERR_ARG, "checkpoint put '%s': NULL data", key ? key : "");
    p = ng__ck_alloc(key, n);
    if (!p) return NG_ERR_NOMEM;
    if (n) memcpy(p, data, n);
    return ng__ck_add(ck, key, NG_CKPT_RAW, p, n);
}

ng_status ng_ckpt_put_i64(ng_ckpt *ck, const char *key, int64_t v) {
    unsigned char *p = ng__ck_alloc(key, 8);
    if (!p) return NG_ERR_NOMEM;
    ng__le64(p, (uint64_t)v);
    return ng__ck_add(ck, key, NG_CKPT_I64, p, 8);
}

ng_status ng_ckpt_put_rng(ng_ckpt *ck, const char *key, const ng_rng *r) {
    unsigned char *p = ng__ck_alloc(key, 32);
    int i;
    if (!p) return NG_ERR_NOMEM;
    for (i = 0; i < 4; i++) ng__le64(p + 8 * i, r->s[i]);
    return ng__ck_add(ck, key, NG_CKPT_RNG, p, 32);
}

/* Bytes of `blocks` float blocks of `numel` elements, overflow-checked. */
static int ng__ck_f32_bytes(int64_t numel, size_t blocks, size_t *out) {
    size_t b;
    if (numel < 0 || (uint64_t)numel > (uint64_t)(SIZE_MAX / 4)) return -1;
    if (ng_mul_size((size_t)numel * 4, blocks, &b)) return -1;
    *out = b;
    return 0;
}

ng_status ng_ckpt_put_params(ng_ckpt *ck, const ng_params *g) {
    char key[8 + sizeof g->name];
    size_t size = 4 + 8, data_bytes, nl;
    unsigned char *p;
    ng__wr w;
    int i, d;
    if (!g || !g->allocated) return ng_fail(NG_ERR_ARG, "checkpoint put params: group '%s' is not allocated", g ? g->name : "(null)");
    snprintf(key, sizeof key, "params/%s", g->name);
    for (i = 0; i < g->n; i++) {
        nl = strlen(g->tensors[i]->name);
        if (nl == 0 || nl > NG_CKPT_MAX_KEY)
            return ng_fail(NG_ERR_ARG, "checkpoint put params '%s': tensor name '%s' is too long", g->name, g->tensors[i]->name);
        if (ng__add_size(size, 4 + nl + 4 + 8 * (size_t)g->tensors[i]->shape.ndim, &size))
            return ng_fail(NG_ERR_NOMEM, "checkpoint put params '%s': size overflow", g->name);
    }
    if (ng__ck_f32_bytes(g->numel, 1, &data_bytes) || ng__add_size(size, data_bytes, &size))
        return ng_fail(NG_ERR_NOMEM, "checkpoint put params '%s': size overflow", g->name);
    p = ng__ck_alloc(key, size);
    if (!p) return NG_ERR_NOMEM;
    w.p = p; w.pos = 0;
    ng__w32(&w, (uint32_t)g->n);
    for (i = 0; i < g->n; i++) {
        const ng_tensor *t = g->tensors[i];
        ng__wstr(&w, t->name);
        ng__w32(&w, (uint32_t)t->shape.ndim);
        for (d = 0; d < t->shape.ndim; d++) ng__w64(&w, (uint64_t)t->shape.d[d]);
    }
    ng__w64(&w, (uint64_t)g->numel);
    ng__wf32s_on(&w, g->data, (size_t)g->numel, g->device);
    NG_ASSERT(w.pos == size);
    return ng__ck_add(ck, key, NG_CKPT_PARAMS, p, size);
}

/* Shared encoder for the optimizer-like records: group name, hyperparameters (f32), an
   optional nesterov word, an optional step count, numel, an optional has_buf word, blocks. */
static ng_status ng__ck_put_state(ng_ckpt *ck, const char *key, uint32_t kind, const ng_params *g,
                                  const float *hp, int nhp, const int *nesterov, const int64_t *t,
                                  const float *const *blocks, int nblocks, int with_has_buf, int device) {
    size_t size, bytes, gl;
    unsigned char *p;
    ng__wr w;
    int i;
    const char *what = ng__ck_kind_name(kind);
    if (!g) return ng_fail(NG_ERR_ARG, "checkpoint put %s '%s': the state has no parameter group", what, key ? key : "");
    for (i = 0; i < nblocks; i++)
        if (g->numel > 0 && !blocks[i])
            return ng_fail(NG_ERR_ARG, "checkpoint put %s '%s': state block %d is not allocated", what, key ? key : "", i);
    gl = strlen(g->name);
    size = 4 + gl + 4 * (size_t)nhp + (nesterov ? 4 : 0) + (t ? 8 : 0) + 8 + (with_has_buf ? 4 : 0);
    if (ng__ck_f32_bytes(g->numel, (size_t)nblocks, &bytes) || ng__add_size(size, bytes, &size))
        return ng_fail(NG_ERR_NOMEM, "checkpoint put %s '%s': size overflow", what, key ? key : "");
    p = ng__ck_alloc(key, size);
    if (!p) return NG_ERR_NOMEM;
    w.p = p; w.pos = 0;
    ng__wstr(&w, g->name);
    for (i = 0; i < nhp; i++) ng__w32(&w, ng__f32_bits(hp[i]));
    if (nesterov) ng__w32(&w, *nesterov ? 1u : 0u);
    if (t) ng__w64(&w, (uint64_t)*t);
    ng__w64(&w, (uint64_t)g->numel);
    if (with_has_buf) ng__w32(&w, (uint32_t)nblocks);
    for (i = 0; i < nblocks; i++) ng__wf32s_on(&w, blocks[i], (size_t)g->numel, device);
    NG_ASSERT(w.pos == size);
    return ng__ck_add(ck, key, kind, p, size);
}

ng_status ng_ckpt_put_adam(ng_ckpt *ck, const char *key, const ng_adam *opt) {
    float hp[5];
    const float *blocks[2];
    hp[0] = opt->lr; hp[1] = opt->beta1; hp[2] = opt->beta2; hp[3] = opt->eps; hp[4] = opt->weight_decay;
    blocks[0] = opt->m; blocks[1] = opt->v;
    return ng__ck_put_state(ck, key, NG_CKPT_ADAM, opt->group, hp, 5, NULL, &opt->t, blocks, 2, 0, opt->device);
}

ng_status ng_ckpt_put_sgd(ng_ckpt *ck, const char *key, const ng_sgd *opt) {
    float hp[4];
    const float *blocks[1];
    hp[0] = opt->lr; hp[1] = opt->momentum; hp[2] = opt->dampening; hp[3] = opt->weight_decay;
    blocks[0] = opt->buf;
    return ng__ck_put_state(ck, key, NG_CKPT_SGD, opt->group, hp, 4, &opt->nesterov, &opt->t, blocks,
                            opt->buf ? 1 : 0, 1, opt->device);
}

ng_status ng_ckpt_put_ema(ng_ckpt *ck, const char *key, const ng_ema *e) {
    float hp[1];
    const float *blocks[1];
    hp[0] = e->decay;
    blocks[0] = e->shadow;
    return ng__ck_put_state(ck, key, NG_CKPT_EMA, e->group, hp, 1, NULL, NULL, blocks, 1, 0, e->device);
}

ng_status ng_ckpt_serialize(const ng_ckpt *ck, unsigned char **out, size_t *n) {
    size_t size = 12 + 4, i;
    unsigned char *p;
    ng__wr w;
    *out = NULL;
    *n = 0;
    if (!ck) return ng_fail(NG_ERR_ARG, "checkpoint serialize: NULL checkpoint");
    for (i = 0; i < (size_t)ck->n; i++) {
        size_t rs;
        if (ng__add_size(4 + strlen(ck->recs[i].key) + 4 + 8, ck->recs[i].n, &rs) || ng__add_size(size, rs, &size))
            return ng_fail(NG_ERR_NOMEM, "checkpoint serialize: size overflow");
    }
    p = (unsigned char *)malloc(size);
    if (!p) return ng_fail(NG_ERR_NOMEM, "checkpoint serialize: cannot allocate %zu bytes", size);
    w.p = p; w.pos = 0;
    ng__wbytes(&w, "NGCK", 4);
    ng__w32(&w, NG_CKPT_VERSION);
    ng__w32(&w, (uint32_t)ck->n);
    for (i = 0; i < (size_t)ck->n; i++) {
        const ng__ckrec *r = &ck->recs[i];
        ng__wstr(&w, r->key);
        ng__w32(&w, r->kind);
        ng__w64(&w, (uint64_t)r->n);
        ng__wbytes(&w, r->data, r->n);
    }
    ng__w32(&w, ng_crc32(0, p, w.pos));
    NG_ASSERT(w.pos == size);
    *out = p;
    *n = size;
    return NG_OK;
}

ng_status ng_ckpt_save(const ng_ckpt *ck, const char *path) {
    unsigned char *buf;
    size_t n;
    ng_status st = ng_ckpt_serialize(ck, &buf, &n);
    if (st != NG_OK) {
        char why[900];
        ng__copy_err(why, sizeof why); /* ng_fail writes the buffer it would read */
        return ng_fail(st, "cannot save checkpoint '%s': %s", path, why);
    }
    st = ng_file_write_atomic(path, buf, n);
    free(buf);
    return st;
}

/* ---- typed payload checks (parse time and getters) ---- */

/* Decoded header of an adam/sgd/ema payload. */
typedef struct ng__ckstate {
    const unsigned char *gname;
    uint32_t glen;
    float hp[5];
    uint32_t nesterov, has_buf;
    int64_t t;
    int64_t numel;
    const unsigned char *blocks;   /* nblocks x numel x f32 */
    int nblocks;
} ng__ckstate;

static ng_status ng__ck_bad(const ng_ckpt *ck, const ng__ckrec *rec, const char *what) {
    return ng_fail(NG_ERR_FORMAT, "checkpoint '%s': %s record '%s' (%zu bytes) is malformed: %s",
                   ng__ck_name(ck), ng__ck_kind_name(rec->kind), rec->key, rec->n, what);
}

/* Reads a u64 element count and checks it fits int64 (callers then check the exact payload
   size; an element count alone never sizes an allocation). */
static int ng__ck_numel(ng__rd *r, int64_t *numel) {
    uint64_t u;
    if (ng__r64(r, &u)) return -1;
    if (u > (uint64_t)INT64_MAX) return -1;
    *numel = (int64_t)u;
    return 0;
}

static ng_status ng__ck_state_check(const ng_ckpt *ck, const ng__ckrec *rec, ng__ckstate *s) {
    ng__rd r;
    int nhp, i;
    uint32_t u;
    uint64_t t;
    size_t need;
    r.p = rec->data; r.n = rec->n; r.pos = 0;
    memset(s, 0, sizeof *s);
    nhp = rec->kind == NG_CKPT_ADAM ? 5 : rec->kind == NG_CKPT_SGD ? 4 : 1;
    if (ng__r32(&r, &s->glen) || s->glen > NG_CKPT_MAX_KEY || ng__rbytes(&r, s->glen, &s->gname))
        return ng__ck_bad(ck, rec, "bad group name");
    if (memchr(s->gname, 0, s->glen)) return ng__ck_bad(ck, rec, "group name contains a NUL byte");
    for (i = 0; i < nhp; i++) {
        if (ng__r32(&r, &u)) return ng__ck_bad(ck, rec, "truncated hyperparameters");
        s->hp[i] = ng__bits_f32(u);
    }
    if (rec->kind == NG_CKPT_SGD) {
        if (ng__r32(&r, &s->nesterov) || s->nesterov > 1) return ng__ck_bad(ck, rec, "bad nesterov flag");
    }
    if (rec->kind != NG_CKPT_EMA) {
        if (ng__r64(&r, &t) || t > (uint64_t)INT64_MAX) return ng__ck_bad(ck, rec, "bad step count");
        s->t = (int64_t)t;
    }
    if (ng__ck_numel(&r, &s->numel)) return ng__ck_bad(ck, rec, "element count missing or out of range");
    if (rec->kind == NG_CKPT_SGD) {
        if (ng__r32(&r, &s->has_buf) || s->has_buf > 1) return ng__ck_bad(ck, rec, "bad momentum-buffer flag");
        s->nblocks = (int)s->has_buf;
    } else {
        s->nblocks = rec->kind == NG_CKPT_ADAM ? 2 : 1;
    }
    if (ng__ck_f32_bytes(s->numel, (size_t)s->nblocks, &need) || need != ng__rleft(&r))
        return ng__ck_bad(ck, rec, "state size does not match the element count");
    s->blocks = r.p + r.pos;
    return NG_OK;
}

/* Walks a params payload: tensor count, entries, numel; returns the float data position. */
static ng_status ng__ck_params_check(const ng_ckpt *ck, const ng__ckrec *rec, uint32_t *count,
                                     int64_t *numel, const unsigned char **values) {
    ng__rd r;
    uint32_t T, i, len, nd, d;
    uint64_t dim;
    int64_t sum = 0, tn;
    const unsigned char *name;
    size_t need;
    r.p = rec->data; r.n = rec->n; r.pos = 0;
    if (ng__r32(&r, &T)) return ng__ck_bad(ck, rec, "missing tensor count");
    if (T > ng__rleft(&r) / 8) return ng__ck_bad(ck, rec, "tensor count larger than the payload");
    for (i = 0; i < T; i++) {
        if (ng__r32(&r, &len) || len == 0 || len > NG_CKPT_MAX_KEY || ng__rbytes(&r, len, &name))
            return ng__ck_bad(ck, rec, "bad tensor name");
        if (memchr(name, 0, len)) return ng__ck_bad(ck, rec, "tensor name contains a NUL byte");
        if (ng__r32(&r, &nd) || nd > NG_MAX_DIMS) return ng__ck_bad(ck, rec, "bad number of dimensions");
        tn = 1;
        for (d = 0; d < nd; d++) {
            if (ng__r64(&r, &dim) || dim > (uint64_t)INT64_MAX || ng_mul_i64(tn, (int64_t)dim, &tn))
                return ng__ck_bad(ck, rec, "bad or overflowing dimension");
        }
        if (sum > INT64_MAX - tn) return ng__ck_bad(ck, rec, "element count overflows");
        sum += tn;
    }
    if (ng__ck_numel(&r, numel) || *numel != sum)
        return ng__ck_bad(ck, rec, "element count missing or different from the tensor shapes");
    if (ng__ck_f32_bytes(*numel, 1, &need) || need != ng__rleft(&r))
        return ng__ck_bad(ck, rec, "value bytes do not match the element count");
    *count = T;
    *values = r.p + r.pos;
    return NG_OK;
}

static ng_status ng__ck_check_record(const ng_ckpt *ck, const ng__ckrec *rec) {
    switch (rec->kind) {
    case NG_CKPT_RAW: return NG_OK;
    case NG_CKPT_I64: return rec->n == 8 ? NG_OK : ng__ck_bad(ck, rec, "payload must be 8 bytes");
    case NG_CKPT_RNG: return rec->n == 32 ? NG_OK : ng__ck_bad(ck, rec, "payload must be 32 bytes");
    case NG_CKPT_PARAMS: {
        uint32_t c;
        int64_t ne;
        const unsigned char *v;
        return ng__ck_params_check(ck, rec, &c, &ne, &v);
    }
    case NG_CKPT_ADAM: case NG_CKPT_SGD: case NG_CKPT_EMA: {
        ng__ckstate s;
        return ng__ck_state_check(ck, rec, &s);
    }
    }
    return ng_fail(NG_ERR_FORMAT, "checkpoint '%s': record '%s' has unknown kind %u", ng__ck_name(ck), rec->key, rec->kind);
}

/* ---- parsing ---- */
static int ng__ck_keycmp(const void *a, const void *b) {
    const ng__ckrec *const *x = (const ng__ckrec *const *)a, *const *y = (const ng__ckrec *const *)b;
    return strcmp((*x)->key, (*y)->key);
}

/* Walks the record framing only (no allocation): 0 if it fits, else the index of the record
   that runs past `end` plus 1, with its offset. Used to tell truncation from corruption. */
static uint32_t ng__ck_probe(const unsigned char *buf, size_t end, size_t *at) {
    uint32_t count = ng__rd32(buf + 8), i;
    ng__rd r;
    r.p = buf; r.n = end; r.pos = 12;
    for (i = 0; i < count; i++) {
        uint32_t k, kind;
        uint64_t p;
        const unsigned char *b;
        *at = r.pos;
        if (ng__r32(&r, &k) || ng__rbytes(&r, k, &b) || ng__r32(&r, &kind) || ng__r64(&r, &p) ||
            p > ng__rleft(&r) || ng__rbytes(&r, (size_t)p, &b))
            return i + 1;
    }
    return 0;
}

/* Parse, taking ownership of `buf` (a malloc'd block of n >= 1 bytes). */
static ng_status ng__ck_parse_owned(unsigned char *buf, size_t n, const char *name, ng_ckpt **out) {
    static const unsigned char magic[4] = {'N', 'G', 'C', 'K'};
    uint32_t version, count, stored, computed, i;
    size_t end, at = 0;
    ng_ckpt *ck;
    ng__rd r;
    ng__ckrec **order = NULL;
    ng_status st = NG_OK;
    *out = NULL;
    if (n == 0) { free(buf); return ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is empty", name); }
    if (memcmp(buf, magic, n < 4 ? n : 4) != 0) {
        ng_fail(NG_ERR_FORMAT, "'%s' is not a nasgan checkpoint: bad magic (expected \"NGCK\", found bytes %02x %02x %02x %02x)",
                name, buf[0], n > 1 ? buf[1] : 0, n > 2 ? buf[2] : 0, n > 3 ? buf[3] : 0);
        free(buf);
        return NG_ERR_FORMAT;
    }
    if (n < 8) {
        free(buf);
        return ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: %zu bytes, the header alone needs 16", name, n);
    }
    version = ng__rd32(buf + 4);
    if (version != NG_CKPT_VERSION) {
        ng_fail(NG_ERR_FORMAT, "checkpoint '%s' has format version %u; this build reads version %u%s", name, version,
                NG_CKPT_VERSION, version > NG_CKPT_VERSION ? " (written by a newer nasgan?)" : "");
        free(buf);
        return NG_ERR_FORMAT;
    }
    if (n < 16) {
        free(buf);
        return ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: %zu bytes, the header and checksum need 16", name, n);
    }
    end = n - 4;
    stored = ng__rd32(buf + end);
    computed = ng_crc32(0, buf, end);
    if (stored != computed) {
        uint32_t bad = ng__ck_probe(buf, end, &at);
        if (bad)
            ng_fail(NG_ERR_CHECKSUM, "checkpoint '%s' is truncated or corrupt: record %u of %u (offset %zu) runs past "
                    "the end of the %zu-byte file, and the CRC32 does not match (stored 0x%08x, computed 0x%08x)",
                    name, bad - 1, ng__rd32(buf + 8), at, n, stored, computed);
        else
            ng_fail(NG_ERR_CHECKSUM, "checkpoint '%s' is corrupt: CRC32 mismatch (stored 0x%08x, computed 0x%08x over %zu bytes)",
                    name, stored, computed, end);
        free(buf);
        return NG_ERR_CHECKSUM;
    }
    count = ng__rd32(buf + 8);
    /* each record takes at least 17 bytes (4 key length, 1 key byte, 4 kind, 8 payload length) */
    if (count > (end - 12) / 17 || count > (uint32_t)(INT32_MAX / 2)) {
        ng_fail(NG_ERR_FORMAT, "checkpoint '%s': record count %u is impossible for a %zu-byte file", name, count, n);
        free(buf);
        return NG_ERR_FORMAT;
    }
    ck = (ng_ckpt *)calloc(1, sizeof *ck);
    if (ck) {
        size_t nl = strlen(name);
        ck->buf = buf;
        ck->name = (char *)malloc(nl + 1);
        if (ck->name) memcpy(ck->name, name, nl + 1);
        ck->recs = (ng__ckrec *)calloc(count ? count : 1, sizeof *ck->recs);
        ck->cap = (int)count;
    }
    if (!ck || !ck->name || !ck->recs) {
        if (!ck) free(buf);
        ng_ckpt_free(ck);
        return ng_fail(NG_ERR_NOMEM, "checkpoint '%s': out of memory", name);
    }
    r.p = buf; r.n = end; r.pos = 12;
    for (i = 0; i < count && st == NG_OK; i++) {
        uint32_t klen, kind;
        uint64_t plen;
        const unsigned char *kb, *pb;
        ng__ckrec *rec = &ck->recs[ck->n];
        at = r.pos;
        if (ng__r32(&r, &klen)) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: record %u at offset %zu runs past the end", name, i, at);
            break;
        }
        if (klen == 0 || klen > NG_CKPT_MAX_KEY) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s': record %u at offset %zu: key length %u is out of range (1..%u)",
                         name, i, at, klen, NG_CKPT_MAX_KEY);
            break;
        }
        if (ng__rbytes(&r, klen, &kb) || ng__r32(&r, &kind) || ng__r64(&r, &plen)) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: record %u header at offset %zu runs past the end", name, i, at);
            break;
        }
        if (memchr(kb, 0, klen)) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s': record %u at offset %zu: key contains a NUL byte", name, i, at);
            break;
        }
        if (plen > ng__rleft(&r)) {
            st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s' is truncated: record %u ('%.*s') at offset %zu claims %llu payload "
                         "bytes, only %zu remain", name, i, (int)klen, (const char *)kb, at, (unsigned long long)plen, ng__rleft(&r));
            break;
        }
        ng__rbytes(&r, (size_t)plen, &pb);
        rec->key = (char *)malloc(klen + 1);
        if (!rec->key) { st = ng_fail(NG_ERR_NOMEM, "checkpoint '%s': out of memory", name); break; }
        memcpy(rec->key, kb, klen);
        rec->key[klen] = 0;
        rec->kind = kind;
        rec->data = pb;
        rec->n = (size_t)plen;
        ck->n++;
        st = ng__ck_check_record(ck, rec);
    }
    if (st == NG_OK && r.pos != end)
        st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s': %zu unexpected bytes after the last record (offset %zu)", name,
                     end - r.pos, r.pos);
    if (st == NG_OK && ck->n > 1) {
        int k;
        order = (ng__ckrec **)malloc((size_t)ck->n * sizeof *order);
        if (!order) st = ng_fail(NG_ERR_NOMEM, "checkpoint '%s': out of memory", name);
        else {
            for (k = 0; k < ck->n; k++) order[k] = &ck->recs[k];
            qsort(order, (size_t)ck->n, sizeof *order, ng__ck_keycmp);
            for (k = 1; k < ck->n; k++)
                if (strcmp(order[k - 1]->key, order[k]->key) == 0) {
                    st = ng_fail(NG_ERR_FORMAT, "checkpoint '%s': duplicate key '%s'", name, order[k]->key);
                    break;
                }
            free(order);
        }
    }
    if (st != NG_OK) {
        ng_ckpt_free(ck);
        return st;
    }
    *out = ck;
    return NG_OK;
}

ng_status ng_ckpt_parse(const unsigned char *buf, size_t n, const char *name, ng_ckpt **out) {
    unsigned char *copy;
    *out = NULL;
    if (!name) name = "(memory)";
    if (!buf && n) return ng_fail(NG_ERR_ARG, "checkpoint '%s': NULL buffer", name);
    copy = (unsigned char *)malloc(n ? n : 1);
    if (!copy) return ng_fail(NG_ERR_NOMEM, "checkpoint '%s': cannot allocate %zu bytes", name, n);
    if (n) memcpy(copy, buf, n);
    return ng__ck_parse_owned(copy, n, name, out);
}

ng_status ng_ckpt_load(const char *path, ng_ckpt **out) {
    unsigned char *buf;
    size_t n;
    ng_status st;
    *out = NULL;
    st = ng_file_read_all(path, NG_CKPT_MAX_BYTES, &buf, &n);
    if (st != NG_OK) return st;
    return ng__ck_parse_owned(buf, n, path, out);
}

/* ---- typed getters ---- */
static const ng__ckrec *ng__ck_want(const ng_ckpt *ck, const char *key, uint32_t kind, ng_status *st) {
    const ng__ckrec *rec;
    if (!ck || !key) { *st = ng_fail(NG_ERR_ARG, "checkpoint get: NULL checkpoint or key"); return NULL; }
    rec = ng__ck_find(ck, key);
    if (!rec) {
        *st = ng_fail(NG_ERR_MISMATCH, "checkpoint '%s' has no record '%s'", ng__ck_name(ck), key);
        return NULL;
    }
    if (rec->kind != kind) {
        *st = ng_fail(NG_ERR_MISMATCH, "checkpoint '%s': record '%s' is a %s record, not %s", ng__ck_name(ck), key,
                      ng__ck_kind_name(rec->kind), ng__ck_kind_name(kind));
        return NULL;
    }
    *st = NG_OK;
    return rec;
}

ng_status ng_ckpt_get_i64(const ng_ckpt *ck, const char *key, int64_t *v) {
    ng_status st;
    const ng__ckrec *rec = ng__ck_want(ck, key, NG_CKPT_I64, &st);
    if (!rec) return st;
    if ((st = ng__ck_check_record(ck, rec)) != NG_OK) return st;
    *v = (int64_t)ng__rd64(rec->data);
    return NG_OK;
}

ng_status ng_ckpt_get_rng(const ng_ckpt *ck, const char *key, ng_rng *rng) {
    ng_status st;
    int i;
    const ng__ckrec *rec = ng__ck_want(ck, key, NG_CKPT_RNG, &st);
    if (!rec) return st;
    if ((st = ng__ck_check_record(ck, rec)) != NG_OK) return st;
    for (i = 0; i < 4; i++) rng->s[i] = ng__rd64(rec->data + 8 * i);
    return NG_OK;
}

static void ng__fmt_dims(char *out, size_t cap, int nd, const uint64_t *d) {
    size_t pos = 0;
    int i;
    pos += (size_t)snprintf(out, cap, "(");
    for (i = 0; i < nd && pos < cap; i++)
        pos += (size_t)snprintf(out + pos, cap - pos, i ? ", %llu" : "%llu", (unsigned long long)d[i]);
    if (pos < cap) snprintf(out + pos, cap - pos, ")");
}

ng_status ng_ckpt_get_params(const ng_ckpt *ck, ng_params *g) {
    char key[8 + sizeof g->name];
    ng_status st;
    const ng__ckrec *rec;
    const unsigned char *values;
    uint32_t count, i, len, nd, d;
    int64_t numel;
    ng__rd r;
    if (!g) return ng_fail(NG_ERR_ARG, "checkpoint get params: NULL group");
    snprintf(key, sizeof key, "params/%s", g->name);
    rec = ng__ck_want(ck, key, NG_CKPT_PARAMS, &st);
    if (!rec) {
        if (st == NG_ERR_MISMATCH) {
            char why[900];
            ng__copy_err(why, sizeof why);
            return ng_fail(st, "%s (parameters of group '%s')", why, g->name);
        }
        return st;
    }
    if (!g->allocated) return ng_fail(NG_ERR_ARG, "checkpoint '%s': group '%s' must be allocated before restoring", ng__ck_name(ck), g->name);
    if ((st = ng__ck_params_check(ck, rec, &count, &numel, &values)) != NG_OK) return st;
    r.p = rec->data; r.n = rec->n; r.pos = 4;
    for (i = 0; i < count && (int64_t)i < (int64_t)g->n; i++) {
        const unsigned char *name = NULL;
        const ng_tensor *t = g->tensors[i];
        uint64_t dims[NG_MAX_DIMS] = {0, 0, 0, 0};
        int same;
        /* the payload was validated by ng__ck_params_check: these reads cannot fail */
        if (ng__r32(&r, &len) || ng__rbytes(&r, len, &name) || ng__r32(&r, &nd) || nd > NG_MAX_DIMS)
            return ng__ck_bad(ck, rec, "tensor table");
        for (d = 0; d < nd; d++)
            if (ng__r64(&r, &dims[d])) return ng__ck_bad(ck, rec, "tensor table");
        if (strlen(t->name) != len || memcmp(t->name, name, len) != 0)
            return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': tensor #%u is '%.*s' in the checkpoint but '%s' in the group",
                           ng__ck_name(ck), g->name, i, (int)len, (const char *)name, t->name);
        same = (int)nd == t->shape.ndim;
        for (d = 0; same && d < nd; d++) same = dims[d] == (uint64_t)t->shape.d[d];
        if (!same) {
            char a[128], b[128];
            uint64_t gd[NG_MAX_DIMS];
            int k;
            for (k = 0; k < t->shape.ndim; k++) gd[k] = (uint64_t)t->shape.d[k];
            ng__fmt_dims(a, sizeof a, (int)nd, dims);
            ng__fmt_dims(b, sizeof b, t->shape.ndim, gd);
            return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': tensor '%s' has shape %s in the checkpoint but %s in the group",
                           ng__ck_name(ck), g->name, t->name, a, b);
        }
    }
    if ((int64_t)count != (int64_t)g->n) {
        if ((int64_t)count > (int64_t)g->n) {
            const unsigned char *name = NULL;
            if (ng__r32(&r, &len) || ng__rbytes(&r, len, &name)) return ng__ck_bad(ck, rec, "tensor table");
            return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': the checkpoint has %u tensors, the group %d; first differing: '%.*s' (only in the checkpoint)",
                           ng__ck_name(ck), g->name, count, g->n, (int)len, (const char *)name);
        }
        return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': the checkpoint has %u tensors, the group %d; first differing: '%s' (only in the group)",
                       ng__ck_name(ck), g->name, count, g->n, g->tensors[count]->name);
    }
    if (numel != g->numel)
        return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s', group '%s': %lld values in the checkpoint, %lld in the group",
                       ng__ck_name(ck), g->name, (long long)numel, (long long)g->numel);
    return ng__rf32s_on(values, g->data, (size_t)numel, g->device, g->name);
}

/* Common checks of an optimizer-like record against its target group. */
static const ng__ckrec *ng__ck_state_for(const ng_ckpt *ck, const char *key, uint32_t kind, const ng_params *g,
                                         ng__ckstate *s, ng_status *st) {
    const ng__ckrec *rec = ng__ck_want(ck, key, kind, st);
    if (!rec) return NULL;
    if ((*st = ng__ck_state_check(ck, rec, s)) != NG_OK) return NULL;
    if (!g) {
        *st = ng_fail(NG_ERR_ARG, "checkpoint '%s': restoring %s '%s' into a state without a parameter group",
                      ng__ck_name(ck), ng__ck_kind_name(kind), key);
        return NULL;
    }
    if (strlen(g->name) != s->glen || memcmp(g->name, s->gname, s->glen) != 0) {
        *st = ng_fail(NG_ERR_MISMATCH, "checkpoint '%s': %s record '%s' belongs to group '%.*s', the target steps group '%s'",
                      ng__ck_name(ck), ng__ck_kind_name(kind), key, (int)s->glen, (const char *)s->gname, g->name);
        return NULL;
    }
    if (s->numel != g->numel) {
        *st = ng_fail(NG_ERR_MISMATCH, "checkpoint '%s': %s record '%s' holds state for %lld elements, group '%s' has %lld",
                      ng__ck_name(ck), ng__ck_kind_name(kind), key, (long long)s->numel, g->name, (long long)g->numel);
        return NULL;
    }
    return rec;
}

ng_status ng_ckpt_get_adam(const ng_ckpt *ck, const char *key, ng_adam *opt) {
    ng__ckstate s;
    ng_status st;
    size_t ne;
    if (!ng__ck_state_for(ck, key, NG_CKPT_ADAM, opt->group, &s, &st)) return st;
    ne = (size_t)s.numel;
    if (ne && (!opt->m || !opt->v))
        return ng_fail(NG_ERR_ARG, "checkpoint '%s': adam '%s': target state blocks are not allocated (ng_adam_init first)", ng__ck_name(ck), key);
    opt->lr = s.hp[0]; opt->beta1 = s.hp[1]; opt->beta2 = s.hp[2]; opt->eps = s.hp[3]; opt->weight_decay = s.hp[4];
    opt->t = s.t;
    st = ng__rf32s_on(s.blocks, opt->m, ne, opt->device, key);
    return st == NG_OK ? ng__rf32s_on(s.blocks + 4 * ne, opt->v, ne, opt->device, key) : st;
}

ng_status ng_ckpt_get_sgd(const ng_ckpt *ck, const char *key, ng_sgd *opt) {
    ng__ckstate s;
    ng_status st;
    if (!ng__ck_state_for(ck, key, NG_CKPT_SGD, opt->group, &s, &st)) return st;
    if ((s.has_buf != 0) != (opt->buf != NULL))
        return ng_fail(NG_ERR_MISMATCH, "checkpoint '%s': sgd '%s': the checkpoint %s a momentum buffer but the target %s",
                       ng__ck_name(ck), key, s.has_buf ? "has" : "has no", opt->buf ? "has one" : "has none");
    opt->lr = s.hp[0]; opt->momentum = s.hp[1]; opt->dampening = s.hp[2]; opt->weight_decay = s.hp[3];
    opt->nesterov = (int)s.nesterov;
    opt->t = s.t;
    return s.has_buf ? ng__rf32s_on(s.blocks, opt->buf, (size_t)s.numel, opt->device, key) : NG_OK;
}

ng_status ng_ckpt_get_ema(const ng_ckpt *ck, const char *key, ng_ema *e) {
    ng__ckstate s;
    ng_status st;
    if (!ng__ck_state_for(ck, key, NG_CKPT_EMA, e->group, &s, &st)) return st;
    if (s.numel && !e->shadow)
        return ng_fail(NG_ERR_ARG, "checkpoint '%s': ema '%s': target shadow block is not allocated (ng_ema_init first)", ng__ck_name(ck), key);
    e->decay = s.hp[0];
    return ng__rf32s_on(s.blocks, e->shadow, (size_t)s.numel, e->device, key);
}
