/* domain/files.c - the rules of uploaded files (domain/files.h). */
#include <stdio.h>
#include <string.h>

#include "domain/files.h"

bool omtp_file_id_valid(const char *s)
{
    size_t i = 0;
    for (; s && s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s && i == OMTP_FILE_ID_LEN;
}

int omtp_files_content_check(int contentType, const char *content, size_t len, char *desc,
                             size_t desclen)
{
    (void)contentType, (void)content, (void)len, (void)desc, (void)desclen;
    return 0;
}

int omtp_files_send_check(omtp_db *db, const char *sender, int contentType, const char *content,
                          size_t len, int *code, char *desc, size_t desclen)
{
    (void)db, (void)sender, (void)contentType, (void)content, (void)len, (void)desc, (void)desclen;
    *code = 0;
    return 0;
}

int omtp_files_refs_record(omtp_db *db, const char *sid, int64_t seq, int contentType,
                           const char *content, size_t len)
{
    (void)db, (void)sid, (void)seq, (void)contentType, (void)content, (void)len;
    return 0;
}
