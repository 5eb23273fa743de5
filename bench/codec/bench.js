#!/usr/bin/env node
// The codec benchmark's workloads through @tars/stream (same frames as
// bench/codec/codec_bench.c): a MsgReq frame and a 200-message
// HistoryMsgPullResp, encode and decode, ops/s and MB/s. Structs are
// written the way @tars/stream's code generator emits them.
// usage: node bench.js [seconds] [--json]
'use strict';
const path = require('path');
const Tars = require(path.join(__dirname, '../../tests/interop/node_modules/@tars/stream'));

const SECS = parseFloat(process.argv.find((a, i) => i > 1 && /^[\d.]+$/.test(a)) || '1');
const JSON_OUT = process.argv.includes('--json');

function OTIMHeader() { this.type = 0; this.version = 0; this.flags = 0; this.packId = ''; }
OTIMHeader._readFrom = function (is) {
    const t = new OTIMHeader();
    t.type = is.readInt16(0, true, 0); t.version = is.readInt16(1, true, 0);
    t.flags = is.readInt64(2, true, 0); t.packId = is.readString(3, true, '');
    return t;
};
OTIMHeader.prototype._writeTo = function (os) {
    os.writeInt16(0, this.type); os.writeInt16(1, this.version);
    os.writeInt64(2, this.flags); os.writeString(3, this.packId);
};
OTIMHeader._write = (os, tag, v) => os.writeStruct(tag, v);
OTIMHeader._read = (is, tag) => is.readStruct(tag, true, OTIMHeader);

function OTIMPack() { this.header = new OTIMHeader(); this.payload = new Tars.BinBuffer(); }
OTIMPack._readFrom = function (is) {
    const t = new OTIMPack();
    t.header = is.readStruct(0, true, OTIMHeader); t.payload = is.readBytes(1, true, Tars.BinBuffer);
    return t;
};
OTIMPack.prototype._writeTo = function (os) { os.writeStruct(0, this.header); os.writeBytes(1, this.payload); };
OTIMPack._write = (os, tag, v) => os.writeStruct(tag, v);
OTIMPack._read = (is, tag) => is.readStruct(tag, true, OTIMPack);
OTIMPack.new = () => new OTIMPack();
OTIMPack._classname = 'omtp.OTIMPack';

function MsgReq() {
    this.sessionId = ''; this.seqId = 0; this.timestamp = 0; this.from = ''; this.to = '';
    this.pushInfo = ''; this.contentType = 0; this.content = ''; this.status = 0;
}
MsgReq._readFrom = function (is) {
    const t = new MsgReq();
    t.sessionId = is.readString(0, true, ''); t.seqId = is.readInt64(1, false, 0);
    t.timestamp = is.readInt64(2, false, 0); t.from = is.readString(3, true, '');
    t.to = is.readString(4, true, ''); t.pushInfo = is.readString(5, false, '');
    t.contentType = is.readInt32(6, false, 0); t.content = is.readString(7, false, '');
    t.status = is.readInt32(8, false, 0);
    return t;
};
MsgReq.prototype._writeTo = function (os) {
    os.writeString(0, this.sessionId); os.writeInt64(1, this.seqId); os.writeInt64(2, this.timestamp);
    os.writeString(3, this.from); os.writeString(4, this.to); os.writeString(5, this.pushInfo);
    os.writeInt32(6, this.contentType); os.writeString(7, this.content); os.writeInt32(8, this.status);
};

function CommonErrorCode() { this.code = 0; this.desc = ''; }
CommonErrorCode._readFrom = function (is) {
    const t = new CommonErrorCode();
    t.code = is.readInt32(0, true, 0); t.desc = is.readString(1, true, '');
    return t;
};
CommonErrorCode.prototype._writeTo = function (os) { os.writeInt32(0, this.code); os.writeString(1, this.desc); };

function HistoryMsgPullResp() {
    this.errorCode = new CommonErrorCode(); this.sessionId = ''; this.msgs = Tars.List(OTIMPack);
}
HistoryMsgPullResp._readFrom = function (is) {
    const t = new HistoryMsgPullResp();
    t.errorCode = is.readStruct(0, true, CommonErrorCode); t.sessionId = is.readString(1, true, '');
    t.msgs = is.readList(2, true, Tars.List(OTIMPack));
    return t;
};
HistoryMsgPullResp.prototype._writeTo = function (os) {
    os.writeStruct(0, this.errorCode); os.writeString(1, this.sessionId); os.writeList(2, this.msgs);
};

const PACK_ID = '6f1c0b7e-2d4a-4c5e-9b1f-3a2b1c0d9e8f';
function makeMsg(i) {
    const m = new MsgReq();
    m.sessionId = 'SC_alice_bob'; m.seqId = 1000 + i; m.timestamp = 1700000000000 + i;
    m.from = 'alice'; m.to = 'bob'; m.contentType = 1;
    let c = '';
    for (let k = 0; k < 100; k++) c += String.fromCharCode(97 + (k + i) % 26);
    m.content = c;
    return m;
}
function toBin(os) { return os.getBinBuffer(); }

// frame = 4-byte length + OTIMPack{header, payload}
function encodeFrame(type, flags, body) {
    const pos = new Tars.TarsOutputStream();
    body._writeTo(pos);
    const pack = new OTIMPack();
    pack.header.type = type; pack.header.version = 1; pack.header.flags = flags; pack.header.packId = PACK_ID;
    pack.payload = toBin(pos);
    const os = new Tars.TarsOutputStream();
    os.setHeaderLength(0);
    pack._writeTo(os);
    const bin = os.getBinBuffer();
    os.setHeaderLength(bin.length);
    return bin.toNodeBuffer();
}
function decodeFrame(buf, Body) {
    const pack = OTIMPack._readFrom(new Tars.TarsInputStream(new Tars.BinBuffer(buf.subarray(4))));
    return { header: pack.header, body: Body._readFrom(new Tars.TarsInputStream(pack.payload)) };
}

function run(fn) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let t;
    do {
        for (let i = 0; i < 64; i++) fn();
        n += 64;
        t = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (t < SECS);
    return n / t;
}

const results = [];
let sink = 0;
{
    const m = makeMsg(0);
    const frame = encodeFrame(14, 0, m);
    const enc = run(() => { sink += encodeFrame(14, 0, m).length; });
    const dec = run(() => { sink += decodeFrame(frame, MsgReq).body.seqId; });
    results.push({ name: 'MsgReq frame encode', bytes: frame.length, ops: enc });
    results.push({ name: 'MsgReq frame decode', bytes: frame.length, ops: dec });
}
{
    const msgs = [];
    for (let i = 0; i < 200; i++) msgs.push(makeMsg(i));
    const encodeHistory = () => {
        const h = new HistoryMsgPullResp();
        h.sessionId = 'SC_alice_bob';
        for (const m of msgs) {
            const os = new Tars.TarsOutputStream();
            m._writeTo(os);
            const p = new OTIMPack();
            p.header.type = 14; p.header.version = 1; p.header.flags = 0; p.header.packId = PACK_ID;
            p.payload = os.getBinBuffer();
            h.msgs.push(p);
        }
        return encodeFrame(21, 1, h);
    };
    const frame = encodeHistory();
    const enc = run(() => { sink += encodeHistory().length; });
    const dec = run(() => {
        const h = decodeFrame(frame, HistoryMsgPullResp).body;
        for (const p of h.msgs.value) sink += MsgReq._readFrom(new Tars.TarsInputStream(p.payload)).seqId;
    });
    results.push({ name: 'HistoryMsgPullResp(200) encode', bytes: frame.length, ops: enc });
    results.push({ name: 'HistoryMsgPullResp(200) decode', bytes: frame.length, ops: dec });
}
for (const r of results) r.mbs = r.ops * r.bytes / 1e6;
if (JSON_OUT) {
    console.log(JSON.stringify({ node: process.version, cases: results }));
} else {
    for (const r of results)
        console.log(`${r.name.padEnd(34)} ${String(r.bytes).padStart(8)} ${r.ops.toFixed(0).padStart(12)} ${r.mbs.toFixed(1).padStart(9)}`);
}
if (sink === 42) console.log('');
