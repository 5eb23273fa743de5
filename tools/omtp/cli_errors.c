/*
 * cli_errors.c - how the `omtp` command line words a server's refusal: one
 * table of (request kind, error code) -> what went wrong + what to do,
 * looked up by cli_refused_req (cli.h). A code means different things to
 * different requests (GROUP_USER_NOTEXIST is "carol is not a user" for
 * `group create` and "you are not a member" for `group members`), so the
 * kind comes first; rows with CLI_REQ_ANY are the fallback of a code. The
 * server's own `desc` is always printed as well: it names the field, the
 * user or the policy that refused.
 *
 * Single-threaded (the CLI's main thread); the table is constant.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct refusal_row {
    int kind; /* enum cli_req, CLI_REQ_ANY = any request */
    int code; /* OMTP_EC_* */
    /* what went wrong; "%s" (at most one) is the request's target */
    const char *what;
    const char *hint; /* what to do, or NULL */
} refusal_row;

#define HINT_NOT_MEMBER                                                                            \
    "ask a member to add you: `omtp group join GROUP YOUR_ID`; your groups: `omtp group list`"
#define HINT_NO_USER                                                                               \
    "check the id (`omtp user get ID` shows a user); an administrator adds users with "            \
    "`omtpd user add ID`"
#define HINT_POLICY                                                                                \
    "the server's content policy refused it (its reason is above): change the text; nothing was "  \
    "stored or delivered"

static const refusal_row rows[] = {
    /* login */
    {CLI_REQ_LOGIN, OMTP_EC_CONN_USERNAME_OR_PASSWORD, "login as %s refused",
     "check --user/--password (or --password-file, OMTP_PASSWORD, the prompt); an "
     "administrator creates users with `omtpd user add USER` and resets a password with "
     "`omtpd user passwd USER`"},
    {CLI_REQ_LOGIN, OMTP_EC_CONN_INDICATE, "login as %s refused: the user or the password is empty",
     "give --user USER and a password"},
    {CLI_REQ_LOGIN, OMTP_EC_CONN_ACCESS_DENIED, "%s may not log in", "ask the administrator"},
    {CLI_REQ_LOGIN, OMTP_EC_SERVER_REFUSED, "login as %s delayed by the server",
     "too many failed logins for this account or address: wait a little and retry; a token login "
     "(`omtpd token issue`) is never delayed"},
    /* one-to-one send */
    {CLI_REQ_SEND, OMTP_EC_PARAM, "cannot send to %s", HINT_NO_USER},
    {CLI_REQ_SEND, OMTP_EC_MSG_FORBIDDEN, "you may not send to %s",
     "this server only lets friends talk: `omtp friends add USER`"},
    {CLI_REQ_SEND, OMTP_EC_USER_RELATION_INVALID, "you may not send to %s",
     "this server only lets friends talk: `omtp friends add USER`"},
    {CLI_REQ_SEND, OMTP_EC_SENSI_MATCH, "the message to %s was refused", HINT_POLICY},
    {CLI_REQ_SEND, OMTP_EC_SERVICE_UNAVAILABLE, "the message to %s was not sent",
     "try again (the same text); if it persists, tell the administrator"},
    /* group send */
    {CLI_REQ_GROUP_SEND, OMTP_EC_GROUP_NOT_EXIST, "no group %s (or it was dismissed)",
     "list yours with `omtp group list`"},
    {CLI_REQ_GROUP_SEND, OMTP_EC_GROUP_NO_PRIVILEGE, "you are not a member of %s", HINT_NOT_MEMBER},
    {CLI_REQ_GROUP_SEND, OMTP_EC_GROUP_USER_NOTEXIST, "you are not a member of %s",
     HINT_NOT_MEMBER},
    {CLI_REQ_GROUP_SEND, OMTP_EC_MSG_FORBIDDEN, "you may not send to %s", HINT_NOT_MEMBER},
    {CLI_REQ_GROUP_SEND, OMTP_EC_SENSI_MATCH, "the message to %s was refused", HINT_POLICY},
    {CLI_REQ_GROUP_SEND, OMTP_EC_PARAM, "cannot send to %s",
     "a group id looks like GC_...; list yours with `omtp group list`"},
    /* history, read cursor */
    {CLI_REQ_HISTORY, OMTP_EC_HISTORYMSG_DENY, "cannot read %s",
     "you can only read sessions you belong to; list them with `omtp sessions`"},
    {CLI_REQ_HISTORY, OMTP_EC_GROUP_NOT_EXIST, "no group %s", "list yours with `omtp group list`"},
    {CLI_REQ_READ, OMTP_EC_HISTORYMSG_DENY, "cannot mark %s read",
     "you can only mark conversations you belong to; list them with `omtp sessions`"},
    /* revoke / edit / delete */
    {CLI_REQ_CTRL, OMTP_EC_MSG_NOT_EXIST, "no such message in %s",
     "list the messages with `omtp history SESSION`"},
    {CLI_REQ_CTRL, OMTP_EC_MSG_FORBIDDEN, "you may not change that message in %s",
     "only the sender (or the group's creator) may, and revoke/edit only within the server's "
     "time limit"},
    {CLI_REQ_CTRL, OMTP_EC_MSG_OP_CMD, "you may not change that message in %s",
     "only the sender (or the group's creator) may, and revoke/edit only within the server's "
     "time limit"},
    {CLI_REQ_CTRL, OMTP_EC_HISTORYMSG_DENY, "you are not part of %s",
     "list your conversations with `omtp sessions`"},
    {CLI_REQ_CTRL, OMTP_EC_SENSI_MATCH, "the new text for %s was refused", HINT_POLICY},
    /* friends */
    {CLI_REQ_FRIEND_ADD, OMTP_EC_USER_RELATION_INVALID, "cannot add %s as a friend", HINT_NO_USER},
    {CLI_REQ_FRIEND_ADD, OMTP_EC_PARAM, "cannot add %s as a friend", HINT_NO_USER},
    {CLI_REQ_FRIEND_DEL, OMTP_EC_USER_RELATION_INVALID, "cannot remove %s",
     "list your friends with `omtp friends list`"},
    {CLI_REQ_FRIEND_DEL, OMTP_EC_PARAM, "cannot remove %s",
     "list your friends with `omtp friends list`"},
    /* groups */
    {CLI_REQ_GROUP_CREATE, OMTP_EC_GROUP_USER_NOTEXIST,
     "cannot create group %s: a member is not a user",
     "check the ids (`omtp user get ID`); an administrator adds users with `omtpd user add ID`"},
    {CLI_REQ_GROUP_CREATE, OMTP_EC_PARAM, "cannot create group %s", HINT_NO_USER},
    {CLI_REQ_GROUP_CREATE, OMTP_EC_GROUP_MEMBER_LIMIT, "group %s would be too big",
     "name fewer members (the server's limit is above)"},
    {CLI_REQ_GROUP_JOIN, OMTP_EC_GROUP_USER_NOTEXIST,
     "cannot add to %s: a user named is not a user",
     "check the ids (`omtp user get ID`); an administrator adds users with `omtpd user add ID`"},
    {CLI_REQ_GROUP_JOIN, OMTP_EC_GROUP_NO_PRIVILEGE, "you may not add members to %s",
     "only members add members: ask one of them to run `omtp group join GROUP YOUR_ID`"},
    {CLI_REQ_GROUP_JOIN, OMTP_EC_GROUP_NOT_EXIST, "no group %s (or it was dismissed)",
     "list yours with `omtp group list`"},
    {CLI_REQ_GROUP_JOIN, OMTP_EC_GROUP_MEMBER_LIMIT, "group %s is full", NULL},
    {CLI_REQ_GROUP_QUIT, OMTP_EC_GROUP_NO_PRIVILEGE, "you may not remove others from %s",
     "only the group's creator removes other members; anyone may leave: `omtp group quit GROUP`"},
    {CLI_REQ_GROUP_QUIT, OMTP_EC_GROUP_USER_NOTEXIST, "not a member of %s",
     "see `omtp group members GROUP`"},
    {CLI_REQ_GROUP_QUIT, OMTP_EC_GROUP_NOT_EXIST, "no group %s (or it was dismissed)",
     "list yours with `omtp group list`"},
    {CLI_REQ_GROUP_MEMBERS, OMTP_EC_GROUP_USER_NOTEXIST, "you are not a member of %s",
     HINT_NOT_MEMBER},
    {CLI_REQ_GROUP_MEMBERS, OMTP_EC_GROUP_NO_PRIVILEGE, "you are not a member of %s",
     HINT_NOT_MEMBER},
    {CLI_REQ_GROUP_MEMBERS, OMTP_EC_GROUP_NOT_EXIST, "no group %s (or it was dismissed)",
     "list yours with `omtp group list`"},
    {CLI_REQ_GROUP_DISMISS, OMTP_EC_GROUP_NO_PRIVILEGE, "you may not dismiss %s",
     "only the group's creator may dismiss it; you can leave: `omtp group quit GROUP`"},
    {CLI_REQ_GROUP_DISMISS, OMTP_EC_GROUP_NOT_EXIST, "no group %s (or it was dismissed)",
     "list yours with `omtp group list`"},
    /* user info */
    {CLI_REQ_USER, OMTP_EC_PARAM, "user info of %s refused",
     "see `omtp user --help` for the fields"},

    /* any request: the code's general meaning */
    {CLI_REQ_ANY, OMTP_EC_CONN_KICKOUT, "%s: replaced by a login on the same device type",
     "see `omtp --help` on --device: one login per device type"},
    {CLI_REQ_ANY, OMTP_EC_SENSI_MATCH, "%s: refused by the content policy", HINT_POLICY},
    {CLI_REQ_ANY, OMTP_EC_MSG_TOO_SHORT, "%s: the message is empty", "give a text"},
    {CLI_REQ_ANY, OMTP_EC_MSG_TOO_LONG, "%s: the message is too long", "split it"},
    {CLI_REQ_ANY, OMTP_EC_GROUP_ID_EMPTY, "%s: no group id", "give a group id (GC_...)"},
    {CLI_REQ_ANY, OMTP_EC_GROUP_NOT_EXIST, "%s: no such group",
     "list yours with `omtp group list`"},
    {CLI_REQ_ANY, OMTP_EC_GROUP_NO_PRIVILEGE, "%s: not allowed in this group",
     "only the group's creator (or its members, for some requests) may do this"},
    {CLI_REQ_ANY, OMTP_EC_GROUP_USER_NOTEXIST, "%s: not a member",
     "see `omtp group members GROUP`"},
    {CLI_REQ_ANY, OMTP_EC_GROUP_MEMBER_LIMIT, "%s: the group is full", NULL},
    {CLI_REQ_ANY, OMTP_EC_HISTORYMSG_DENY, "%s: not one of your conversations",
     "list them with `omtp sessions`"},
    {CLI_REQ_ANY, OMTP_EC_MSG_FORBIDDEN, "%s: not allowed",
     "not a member, or not friends where this server requires friendship"},
    {CLI_REQ_ANY, OMTP_EC_MSG_NOT_EXIST, "%s: no such message", "see `omtp history SESSION`"},
    {CLI_REQ_ANY, OMTP_EC_USER_RELATION_INVALID, "%s: not friends",
     "`omtp friends add USER`; list them with `omtp friends list`"},
    {CLI_REQ_ANY, OMTP_EC_SERVER_REFUSED, "%s: the server is slowing you down",
     "too many requests on one connection, or too many failed logins for this account: wait a "
     "little and retry"},
    {CLI_REQ_ANY, OMTP_EC_SERVICE_UNAVAILABLE, "%s: the server could not do it now",
     "try again; tell the administrator if it persists"},
    {CLI_REQ_ANY, OMTP_EC_DB_ERROR, "%s: the server's storage failed",
     "try again; tell the administrator if it persists (the disk may be full)"},
    {CLI_REQ_ANY, OMTP_EC_SERVER_EXCEPTION, "%s: the server failed",
     "try again; tell the administrator if it persists"},
    {CLI_REQ_ANY, OMTP_EC_PARAM, "%s: the server refused a value",
     "the server's words above say which; see `omtp COMMAND --help`"},
    {CLI_REQ_ANY, OMTP_EC_PROTOCOL, "%s: the server could not read the request",
     "this omtp and the server may be of different versions (`omtp --version`)"},
};

static const refusal_row *find_row(int kind, int code)
{
    const refusal_row *any = NULL;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].code != code)
            continue;
        if (rows[i].kind == kind)
            return &rows[i];
        if (rows[i].kind == CLI_REQ_ANY && !any)
            any = &rows[i];
    }
    return any;
}

int cli_refused_req(const char *cmd, int kind, const char *target, int code, const char *desc)
{
    const refusal_row *r = find_row(kind, code);
    char what[1024];
    if (r)
        snprintf(what, sizeof(what), r->what, target && *target ? target : "the request");
    else
        snprintf(what, sizeof(what), "%s refused", target && *target ? target : "the request");
    bool has_desc = desc && *desc;
    fprintf(stderr, "omtp%s%s: %s%s%s [%s (%d)]\n", cmd && *cmd ? " " : "", cmd ? cmd : "", what,
            has_desc ? ": " : "", has_desc ? desc : "", omtp_error_code_name(code), code);
    if (r && r->hint)
        fprintf(stderr, "hint: %s\n", r->hint);
    return CLI_EREFUSED;
}
