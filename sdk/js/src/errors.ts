/**
 * errors.ts - the one error type of the SDK.
 *
 * `code` is either a protocol error code (a number, docs/protocol.md 8.1:
 * 21 wrong password, 28 history denied, 43 forbidden, ...) or a client-side
 * condition (a string): 'ETIMEDOUT' (no reply within the request timeout),
 * 'ECLOSED' (not online, or the connection dropped / the client was
 * closed), 'EDECODE' (the reply did not decode), 'EKICKOUT'.
 */
export class OmtpError extends Error {
    constructor(
        public code: number | 'ETIMEDOUT' | 'ECLOSED' | 'EDECODE' | 'EKICKOUT',
        message: string,
    ) {
        super(message);
        this.name = 'OmtpError';
    }
}

/** Protocol error codes (OMTP_EC_*). */
export const EC = {
    SUCCESS: 0,
    PROTOCOL: 1,
    PARAM: 2,
    UNKNOWN: 3,
    DB_ERROR: 5,
    SERVICE_UNAVAILABLE: 6,
    SERVER_REFUSED: 7,
    SERVER_EXCEPTION: 8,
    CONN_INDICATE: 20,
    CONN_USERNAME_OR_PASSWORD: 21,
    CONN_KICKOUT: 22,
    CONN_ACCESS_DENIED: 23,
    HISTORYMSG_DENY: 28,
    GROUP_USER_NOTEXIST: 30,
    GROUP_ID_EMPTY: 31,
    GROUP_NO_PRIVILEGE: 33,
    GROUP_MEMBER_LIMIT: 34,
    GROUP_NOT_EXIST: 35,
    MSG_TOO_SHORT: 40,
    MSG_TOO_LONG: 41,
    MSG_INVALID_FORMAT: 42,
    MSG_FORBIDDEN: 43,
    MSG_NOT_EXIST: 44,
    MSG_REPEATED: 46,
    MSG_OP_CMD: 47,
    USER_RELATION_INVALID: 50,
    ATTR_FIELD_EMPTY: 60,
} as const;
