/*
 * fuzz_tui_keys.c - libFuzzer target for what `omtp chat` decodes from the
 * terminal: arbitrary bytes go through the key decoder (escape sequences,
 * SGR mouse reports) and the line editor (UTF-8 cursor moves, deletions,
 * recall), and the line is wrapped at a width taken from the input. Must
 * never crash, overflow the line buffer or leave the cursor off a UTF-8
 * boundary.
 */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void tui_load_older(chat *t, conv *v)
{
    (void)t;
    (void)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        setlocale(LC_CTYPE, "C.UTF-8");
        once = 1;
    }
    tui_input in;
    memset(&in, 0, sizeof(in));
    in.rpos = -1;
    int width = size ? 1 + data[0] % 120 : 40;
    for (size_t i = 0; i < size; i++) {
        int k = tui_key_feed(&in, data[i]);
        if (k == K_NONE)
            continue;
        if (k == K_ENTER) {
            char out[TUI_INPUTMAX];
            tui_input_take(&in, out, sizeof(out), true);
        } else {
            tui_edit(&in, k, data[i]);
        }
        if (in.len >= sizeof(in.buf) || in.cur > in.len || in.buf[in.len] != 0)
            abort();
    }
    if (tui_key_flush(&in) == K_ESC)
        tui_edit(&in, K_ESC, 0);
    char *rows[64];
    int n = tui_wrap_text(in.buf, width, width > 8 ? 6 : 0, rows, 64);
    for (int i = 0; i < n && i < 64; i++)
        free(rows[i]);
    tui_input_free(&in);
    return 0;
}
