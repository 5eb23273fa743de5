/*
 * auth.h - PT_LOGIN and friends (auth.c). Passwords, tokens and the token
 * secret are domain/credentials.h, included here for the existing callers.
 *
 * Threading: loop thread.
 */
#ifndef OMTP_AUTH_H
#define OMTP_AUTH_H

#include "domain/credentials.h"

#endif
