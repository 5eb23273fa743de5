/*
 * outcome.c - omtp_dom_refuse (domain/caller.h): how every area of the
 * domain fills the outcome of an operation it refuses.
 */
#include <stdarg.h>
#include <stdio.h>

#include "domain/caller.h"

void omtp_dom_refuse(omtp_dom_outcome *res, int code, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->desc, sizeof(res->desc), fmt, ap);
    va_end(ap);
    res->code = code;
    res->reason = reason;
}
