/**
 * @omtp/client - the OMTP client for browsers and Node.
 *
 * This entry is browser-safe (WebSocket only, no Node module, no zlib/AES:
 * those are in '@omtp/client/transforms'). In Node, the package's "node"
 * export (node.ts) adds TCP/TLS and a WebSocket implementation.
 */
export { OmtpClient } from './client.js';
export type {
    ClientEvents,
    ClientState,
    ControlNotice,
    HotSession,
    Message,
    OmtpClientOptions,
    PayloadTransforms,
    PendingMessage,
    SendOptions,
    SendResult,
    StateEvent,
} from './client.js';
export { PT_EXT, innerDecode } from './client.js';
export type { ExtStruct } from './client.js';
export { EC, OmtpError } from './errors.js';
export { CONTENT_TYPE, FileError, filesBaseOf, fileTokenOf, kindOf, mediaContent, parseMedia } from './files.js';
export type { MediaContent, MediaKind, UploadOptions, UploadedFile } from './files.js';
export { CTRL, DEFAULT_MAX_FRAME, DEVICE, FLAG, FrameReader, PT, SYNC, VERSION, decodePack, decodePayload, encodeFrame, payloadDesc, registerPayload } from './packet.js';
export { bizSessionId, isGroupId, peerOf, singleSessionId } from './session.js';
export { TarsError, decode, encode, make } from './tars.js';
export type { FieldDesc, FieldKind, StructDesc } from './tars.js';
export { webSocketConnector } from './transport.js';
export type { Conn, ConnHandlers, Connector, Target, WebSocketCtor, WebSocketLike } from './transport.js';
export * as schema from './gen/schema.js';
export type * from './gen/schema.js';
