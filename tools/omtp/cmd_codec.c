/*
 * cmd_codec.c - `omtp codec decode|encode`: OMTP frames and Tars structs as
 * JSON lines, for debugging, scripting and the @tars/stream interop test.
 *
 *   decode   frames (binary, or --hex text) on stdin -> one JSON object per
 *            frame per line: {"header":{...},"payload":{...}}
 *   encode   JSON lines on stdin -> frames (binary, or one hex line each)
 *
 * With --struct NAME both work on bare top-level structs instead of frames;
 * with --hex, every input line is then one struct (so a test can batch many
 * cases in one process). A broken frame stops decoding with a message on
 * stderr and exit status 1; a broken --struct line prints {"error": "..."}
 * for that line, goes on, and exits 1 at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omtp_cli.h"
#include "proto/omtp_json.h"
#include "proto/omtp_packet.h"

struct codec_opts {
    bool hex;
    bool raw;
    const char *strct;
    const tars_struct_desc *desc;
    omtp_crypto_key key;
    uint32_t max_frame;
    bool pretty;
};

static void codec_usage(FILE *out)
{
    fprintf(out,
            "usage: omtp codec decode [options] < frames\n"
            "       omtp codec encode [options] < json-lines\n"
            "\n"
            "decode  reads OMTP frames (4-byte length + OTIMPack) from stdin and prints one\n"
            "        JSON object per frame per line:\n"
            "          {\"header\":{\"type\":..,\"version\":..,\"flags\":..,\"packId\":\"..\"},\n"
            "           \"payload\":{...}}\n"
            "        The payload is unwrapped (zlib/AES per header.flags) and decoded with\n"
            "        the packet type's struct; when that is impossible it is shown as hex,\n"
            "        with \"payloadError\" saying why.\n"
            "encode  reads JSON objects, one per line, in the same shape and writes frames.\n"
            "        A payload given as an object is encoded and then compressed/encrypted\n"
            "        as header.flags say; given as a hex string it is used as is. A\n"
            "        missing header.version is 1, a missing packId a fresh UUID.\n"
            "\n"
            "options:\n"
            "  --hex            frames/structs as hex text instead of binary (input:\n"
            "                   whitespace ignored; with --struct, one struct per line)\n"
            "  --struct NAME    a bare top-level Tars struct (e.g. MsgReq) instead of frames\n"
            "  --key HEX        AES-256 key (64 hex digits) for CRYPTO=1 payloads\n"
            "  --max-frame N    largest frame accepted/produced (default %d)\n"
            "  --raw-payload    (decode) show payloads as hex, do not decode them\n"
            "  --pretty         (decode) indent the JSON\n"
            "  -h, --help       this text\n"
            "\n"
            "example:\n"
            "  echo '{\"header\":{\"type\":10,\"flags\":0,\"packId\":\"p1\"}}' |\n"
            "    omtp codec encode --hex | omtp codec decode --hex\n",
            OMTP_DEFAULT_MAX_FRAME);
}

static int parse_opts(int argc, char **argv, struct codec_opts *o)
{
    static const struct option lopts[] = {
        {"hex", no_argument, NULL, 'x'},         {"struct", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},   {"max-frame", required_argument, NULL, 'm'},
        {"raw-payload", no_argument, NULL, 'r'}, {"pretty", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->max_frame = OMTP_DEFAULT_MAX_FRAME;
    optind = 0; /* full reset of getopt's state */
    opterr = 0; /* unknown options: said below, with the closest one */
    int c;
    while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
        switch (c) {
        case 'x':
            o->hex = true;
            break;
        case 's':
            o->strct = optarg;
            o->desc = omtp_desc_by_name(optarg);
            if (!o->desc) {
                fprintf(stderr, "omtp codec: unknown struct '%s'; known:", optarg);
                for (unsigned i = 0; i < omtp_all_descs_count; i++)
                    fprintf(stderr, " %s", omtp_all_descs[i]->name);
                fprintf(stderr, "\n");
                return 2;
            }
            break;
        case 'k':
            if (omtp_crypto_key_from_hex(&o->key, optarg)) {
                fprintf(stderr, "omtp codec: --key needs 64 hex digits (a 32-byte key)\n");
                return 2;
            }
            break;
        case 'm': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 4 || v > 0x7fffffffUL) {
                fprintf(stderr, "omtp codec: bad --max-frame '%s'\n", optarg);
                return 2;
            }
            o->max_frame = (uint32_t)v;
            break;
        }
        case 'r':
            o->raw = true;
            break;
        case 'p':
            o->pretty = true;
            break;
        case 'h':
            codec_usage(stdout);
            return 1;
        case '?':
            if (optopt && optopt != '?') {
                char s[3] = {'-', (char)optopt, 0};
                return omtp_cli_unknown_option("codec", s, lopts);
            }
            return omtp_cli_unknown_option("codec", argv[optind - 1], lopts);
        default:
            fprintf(stderr, "omtp codec: %s needs a value (run omtp codec --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "omtp codec: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

static void print_json(const json_t *j, const struct codec_opts *o)
{
    size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    if (o->pretty)
        flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER;
    json_dumpf(j, stdout, flags);
    fputc('\n', stdout);
}

static void print_error_line(const char *msg)
{
    json_t *e = json_pack("{s:s}", "error", msg);
    if (e)
        json_dumpf(e, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(e);
}

/* Splits buf into lines in place; calls fn for every non-blank line. */
static int for_each_line(char *buf, size_t len,
                         int (*fn)(char *line, size_t n, unsigned lineno,
                                   const struct codec_opts *o),
                         const struct codec_opts *o)
{
    int status = 0;
    unsigned lineno = 0;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r')
            n--;
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
            blank = p[i] == ' ' || p[i] == '\t';
        if (!blank) {
            p[n] = 0;
            if (fn(p, n, lineno, o))
                status = 1;
        }
        p = le + 1;
    }
    return status;
}

/* ----------------------------------------------------------------- decode */

static int decode_struct_bytes(const uint8_t *b, size_t n, unsigned lineno,
                               const struct codec_opts *o)
{
    void *v = malloc(o->desc->size);
    if (!v) {
        fprintf(stderr, "omtp codec decode: out of memory\n");
        return 1;
    }
    tars_err err;
    int rc = tars_decode(o->desc, v, b, n, &err);
    if (rc) {
        fprintf(stderr, "omtp codec decode: line %u: %s\n", lineno, err.msg);
        print_error_line(err.msg);
        free(v);
        return 1;
    }
    omtp_json_opts jo = {.key = &o->key, .max_payload = o->max_frame, .raw_payload = o->raw};
    json_t *j = omtp_json_from_struct(o->desc, v, &jo);
    tars_free(o->desc, v);
    free(v);
    if (!j) {
        fprintf(stderr, "omtp codec decode: out of memory\n");
        return 1;
    }
    print_json(j, o);
    json_decref(j);
    return 0;
}

static int decode_struct_line(char *line, size_t n, unsigned lineno, const struct codec_opts *o)
{
    uint8_t *b;
    size_t bl;
    if (omtp_hex_decode(line, n, &b, &bl)) {
        fprintf(stderr, "omtp codec decode: line %u: not hex\n", lineno);
        print_error_line("not hex");
        return 1;
    }
    int rc = decode_struct_bytes(b, bl, lineno, o);
    free(b);
    return rc;
}

static int decode_frames(const uint8_t *in, size_t len, const struct codec_opts *o)
{
    omtp_frame_reader fr;
    omtp_frame_reader_init(&fr, o->max_frame);
    if (omtp_frame_reader_feed(&fr, in, len)) {
        fprintf(stderr, "omtp codec decode: out of memory\n");
        return 1;
    }
    omtp_json_opts jo = {.key = &o->key, .max_payload = o->max_frame, .raw_payload = o->raw};
    int status = 0;
    unsigned nframe = 0;
    size_t off = 0;
    for (;;) {
        const uint8_t *f;
        size_t flen;
        int rc = omtp_frame_reader_next(&fr, &f, &flen);
        if (rc == 0)
            break;
        nframe++;
        if (rc < 0) {
            fprintf(stderr, "omtp codec decode: frame %u at byte %zu: length %u is outside 4..%u\n",
                    nframe, off, fr.bad_len, o->max_frame);
            status = 1;
            goto out;
        }
        omtp_OTIMPack pk;
        tars_err err;
        if (tars_decode(&omtp_OTIMPack_desc, &pk, f, flen, &err)) {
            fprintf(stderr, "omtp codec decode: frame %u at byte %zu: bad OTIMPack: %s\n", nframe,
                    off, err.msg);
            status = 1;
            goto out;
        }
        json_t *j = omtp_json_from_struct(&omtp_OTIMPack_desc, &pk, &jo);
        tars_free(&omtp_OTIMPack_desc, &pk);
        if (!j) {
            fprintf(stderr, "omtp codec decode: out of memory\n");
            status = 1;
            goto out;
        }
        print_json(j, o);
        const char *pe = json_string_value(json_object_get(j, "payloadError"));
        if (pe && !o->raw) {
            fprintf(stderr, "omtp codec decode: frame %u at byte %zu: payload: %s\n", nframe, off,
                    pe);
            status = 1;
        }
        json_decref(j);
        off += flen + OMTP_FRAME_HDR;
    }
    if (omtp_frame_reader_pending(&fr)) {
        fprintf(stderr, "omtp codec decode: input ends inside frame %u (%zu bytes left over)\n",
                nframe + 1, omtp_frame_reader_pending(&fr));
        status = 1;
    }
out:
    omtp_frame_reader_free(&fr);
    return status;
}

static int cmd_decode(const struct codec_opts *o, char *in, size_t len)
{
    if (o->desc && o->hex)
        return for_each_line(in, len, decode_struct_line, o);
    if (o->desc)
        return decode_struct_bytes((const uint8_t *)in, len, 1, o);
    if (!o->hex)
        return decode_frames((const uint8_t *)in, len, o);
    uint8_t *b;
    size_t bl;
    if (omtp_hex_decode(in, len, &b, &bl)) {
        fprintf(stderr, "omtp codec decode: --hex input is not hex (odd digit count or a "
                        "non-hex character)\n");
        return 1;
    }
    int rc = decode_frames(b, bl, o);
    free(b);
    return rc;
}

/* ----------------------------------------------------------------- encode */

static void write_out(const uint8_t *p, size_t n, const struct codec_opts *o)
{
    if (!o->hex) {
        fwrite(p, 1, n, stdout);
        return;
    }
    char *h = malloc(2 * n + 1);
    if (!h) {
        fprintf(stderr, "omtp codec encode: out of memory\n");
        return;
    }
    omtp_hex_encode(p, n, h);
    fputs(h, stdout);
    fputc('\n', stdout);
    free(h);
}

static int encode_line(char *line, size_t n, unsigned lineno, const struct codec_opts *o)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!j) {
        fprintf(stderr, "omtp codec encode: line %u: bad JSON: %s (column %d)\n", lineno, jerr.text,
                jerr.column);
        if (o->desc && o->hex)
            print_error_line(jerr.text);
        return 1;
    }
    const tars_struct_desc *d = o->desc ? o->desc : &omtp_OTIMPack_desc;
    void *v = malloc(d->size);
    char why[300];
    omtp_json_opts jo = {.key = &o->key, .max_payload = o->max_frame};
    int rc = v ? OMTP_OK : OMTP_ENOMEM;
    if (!o->desc && json_is_object(j)) {
        /* frame conveniences: version 1 and a fresh packId unless given */
        json_t *h = json_object_get(j, "header");
        if (json_is_object(h) && !json_object_get(h, "version"))
            json_object_set_new(h, "version", json_integer(OMTP_VERSION));
        if (json_is_object(h) && !json_object_get(h, "packId")) {
            char id[37];
            omtp_uuid(id);
            json_object_set_new(h, "packId", json_string(id));
        }
    }
    if (rc == OMTP_OK)
        rc = omtp_json_to_struct(d, j, v, &jo, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "out of memory");
    json_decref(j);
    if (rc) {
        fprintf(stderr, "omtp codec encode: line %u: %s\n", lineno, why);
        if (o->desc && o->hex)
            print_error_line(why);
        free(v);
        return 1;
    }
    tars_buf b;
    tars_buf_init(&b);
    if (!o->desc) {
        static const uint8_t hole[4];
        tars_buf_put(&b, hole, 4);
    }
    rc = tars_encode(&b, d, v, true, 0);
    tars_free(d, v);
    free(v);
    int status = 0;
    if (rc || !tars_buf_ok(&b)) {
        fprintf(stderr, "omtp codec encode: line %u: out of memory\n", lineno);
        status = 1;
    } else if (!o->desc && b.len > o->max_frame) {
        fprintf(stderr, "omtp codec encode: line %u: frame of %zu bytes exceeds --max-frame %u\n",
                lineno, b.len, o->max_frame);
        status = 1;
    } else {
        if (!o->desc) {
            b.data[0] = (uint8_t)(b.len >> 24);
            b.data[1] = (uint8_t)(b.len >> 16);
            b.data[2] = (uint8_t)(b.len >> 8);
            b.data[3] = (uint8_t)b.len;
        }
        write_out(b.data, b.len, o);
    }
    tars_buf_free(&b);
    return status;
}

/* ------------------------------------------------------------------- main */

int omtp_cmd_codec(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        codec_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    bool decode = !strcmp(argv[1], "decode");
    if (!decode && strcmp(argv[1], "encode")) {
        fprintf(stderr, "omtp codec: unknown subcommand '%s' (decode or encode)\n", argv[1]);
        return 2;
    }
    struct codec_opts o;
    int rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    char *in;
    size_t len;
    if (omtp_cli_read_all(stdin, &in, &len)) {
        fprintf(stderr, "omtp codec: reading stdin: %s\n", strerror(errno));
        return 1;
    }
    if (decode)
        rc = cmd_decode(&o, in, len);
    else
        rc = for_each_line(in, len, encode_line, &o);
    free(in);
    if (fflush(stdout)) {
        fprintf(stderr, "omtp codec: writing stdout: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}
