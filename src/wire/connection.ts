// One connection of the wire protocol over a transport (TCP or in-process).
//
//   handshake ──(both hellos, both proofs verified)──▶ open ──▶ closed
//       └──────────(bad frame, wrong key, timeout, transport end)──────┘
//
// In the handshake only wire.hello, wire.proof and wire.close are accepted;
// any other frame closes the connection as UNAUTHENTICATED, undelivered.
//
// A connection of a remote shell holds no site key: with `handshake: "hello"`
// both ends exchange hellos only (the version check) and the shell proves who
// it is by logging in instead. Its acceptor starts with `admitOnly` (the login
// requests): until admitAll() lifts it, any other application frame closes
// the connection as UNAUTHENTICATED, undelivered. Once
// open, each end sends wire.ping every heartbeat interval, and any byte from
// the peer re-arms its heartbeat timeout, so a silent peer fails the
// connection within that timeout. Every frame is decoded and validated in full
// (envelope, then body against its type's schema) before a handler sees it;
// the first bad one closes the connection with a cause naming what was wrong
// and delivers nothing of it. A connection closes once, with one cause, which
// the "close" event and the `closed` promise carry and every pending request
// is rejected with.
import { EventEmitter } from "node:events";
import { FrameDecoder, FrameEncoder, FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX_DEFAULT, rawLength, type DecodedFrame } from "./codec.js";
import { WireError, type WireErrorCode } from "./errors.js";
import { assertSiteKey, newNonce, proofMatches, proofOf, PROTOCOL_VERSION, type Side } from "./handshake.js";
import {
  checkEnvelope, protocolMessages, MessageRegistry, CODE_LENGTH_MAX, REASON_LENGTH_MAX, NODE_ID_LENGTH_MAX, ROLE_LENGTH_MAX,
  type Envelope, type HelloBody, type MessageSpecs, type ReasonBody, type BodyOf, type RequestTypes, type ReplyBodyOf,
} from "./messages.js";
import type { Transport } from "./transport.js";

export interface ConnectionOptions<S extends MessageSpecs = MessageSpecs> {
  siteKey?: Uint8Array; // at least 16 bytes, the same on every node of the site; required but for handshake "hello"
  handshake?: "site-key" | "hello"; // default "site-key"; "hello": version and hellos only (remote shells, which log in)
  admitOnly?: readonly string[]; // application types admitted until admitAll(); any other closes as UNAUTHENTICATED
  nodeId: string; // this node, as the peer will see it
  role: string; // what this end is for: "node", "server", "backup", "link"
  messages: MessageRegistry<S>; // the application's message types; the peer must hold the same
  frameBytesMax?: number; // largest frame payload accepted or sent (default 16 MiB + 64 KiB)
  handshakeTimeoutMs?: number; // default 5000
  heartbeatIntervalMs?: number; // default 1000
  heartbeatTimeoutMs?: number; // default 5000; must exceed the interval
  requestTimeoutMs?: number; // default for request(); default 10000
  pendingRequestsMax?: number; // requests in flight each way; default 1024
  lingerMs?: number; // after a close, how long the transport may take to flush before it is destroyed; default 1000
  protocolVersion?: number; // only for tests of the version check
}

export interface PeerInfo {
  nodeId: string;
  role: string;
  version: number;
}

export type RequestHandler = (body: any, context: { type: string; connection: Connection<any> }) => unknown;

interface PendingRequest {
  type: string;
  reply: string;
  resolve(body: unknown): void;
  reject(error: WireError): void;
  timer: NodeJS.Timeout;
}

type State = "handshake" | "open" | "closed";

function positive(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < 1) throw new WireError("BAD_ARGUMENT", `${name} ${chosen} is not a whole number ≥ 1`);
  return chosen;
}

function text(name: string, value: unknown, lengthMax: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > lengthMax) throw new WireError("BAD_ARGUMENT", `${name} must be a string of 1 to ${lengthMax} characters`);
  return value;
}

export class Connection<S extends MessageSpecs = MessageSpecs> extends EventEmitter {
  readonly nodeId: string;
  readonly role: string;
  readonly opened: Promise<PeerInfo>; // rejects with the close cause if it closes first
  readonly closed: Promise<WireError>; // the cause, whatever it was; never rejects
  peer: PeerInfo | null = null;
  private state: State = "handshake";
  private cause: WireError | null = null;
  private readonly siteKey: Uint8Array | null; // null: a "hello" handshake, without proofs
  private admitted: ReadonlySet<string> | null; // null: every type of the registry
  private readonly messages: MessageRegistry<S>;
  private readonly encoder: FrameEncoder;
  private readonly decoder: FrameDecoder;
  private readonly limits: { handshakeMs: number; heartbeatMs: number; silenceMs: number; requestMs: number; pendingMax: number; lingerMs: number };
  private readonly version: number;
  private readonly ownHello: { body: HelloBody; payload: Uint8Array };
  private peerHelloPayload: Uint8Array | null = null;
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId = 1;
  private incomingInFlight = 0;
  private writableNow = true;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private settleOpened!: { resolve(peer: PeerInfo): void; reject(error: WireError): void };
  private settleClosed!: (cause: WireError) => void;

  constructor(private readonly transport: Transport, readonly side: Side, options: ConnectionOptions<S>) {
    super();
    const handshake = options.handshake ?? "site-key";
    if (handshake !== "site-key" && handshake !== "hello") throw new WireError("BAD_ARGUMENT", `handshake must be "site-key" or "hello", not ${String(handshake)}`);
    if (handshake === "site-key") assertSiteKey(options.siteKey);
    this.siteKey = handshake === "site-key" ? options.siteKey! : null;
    this.admitted = options.admitOnly === undefined ? null : new Set(options.admitOnly);
    this.nodeId = text("nodeId", options.nodeId, NODE_ID_LENGTH_MAX);
    this.role = text("role", options.role, ROLE_LENGTH_MAX);
    if (!(options.messages instanceof MessageRegistry)) throw new WireError("BAD_ARGUMENT", "messages must be a MessageRegistry (defineMessages)");
    this.messages = options.messages;
    this.limits = Connection.limitsOf(options);
    this.version = options.protocolVersion ?? PROTOCOL_VERSION;
    const frameBytesMax = options.frameBytesMax ?? FRAME_PAYLOAD_BYTES_MAX_DEFAULT;
    this.encoder = new FrameEncoder(frameBytesMax);
    this.decoder = new FrameDecoder(frameBytesMax);
    this.opened = new Promise((resolve, reject) => { this.settleOpened = { resolve, reject }; });
    this.opened.catch(() => {}); // the cause is also on `closed` and "close": not an unhandled rejection
    this.closed = new Promise((resolve) => { this.settleClosed = resolve; });
    const helloBody: HelloBody = { version: this.version, node_id: this.nodeId, role: this.role, nonce: newNonce() };
    const [header, payload] = this.encoder.encode({ type: "wire.hello", body: helloBody });
    this.ownHello = { body: helloBody, payload };
    transport.attach({ data: (chunk) => this.receive(chunk), drain: () => this.drained(), ended: (error) => this.transportEnded(error) });
    this.handshakeTimer = setTimeout(() => this.fail("HANDSHAKE_TIMEOUT", `the handshake did not complete within ${this.limits.handshakeMs} ms`), this.limits.handshakeMs);
    this.writableNow = transport.write([header, payload]);
  }

  private static limitsOf(options: ConnectionOptions<any>) {
    const limits = {
      handshakeMs: positive("handshakeTimeoutMs", options.handshakeTimeoutMs, 5000),
      heartbeatMs: positive("heartbeatIntervalMs", options.heartbeatIntervalMs, 1000),
      silenceMs: positive("heartbeatTimeoutMs", options.heartbeatTimeoutMs, 5000),
      requestMs: positive("requestTimeoutMs", options.requestTimeoutMs, 10_000),
      pendingMax: positive("pendingRequestsMax", options.pendingRequestsMax, 1024),
      lingerMs: positive("lingerMs", options.lingerMs, 1000),
    };
    if (limits.silenceMs <= limits.heartbeatMs) {
      throw new WireError("BAD_ARGUMENT", `heartbeatTimeoutMs ${limits.silenceMs} must exceed heartbeatIntervalMs ${limits.heartbeatMs}, or a live peer would time out`);
    }
    return limits;
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  // False while the transport holds more than its high-water mark: wait for "drain" (or writable()).
  get isWritable(): boolean {
    return this.writableNow && this.state === "open";
  }

  get closeCause(): WireError | null {
    return this.cause;
  }

  get description(): string {
    return this.transport.description;
  }

  get pendingRequestCount(): number {
    return this.pending.size;
  }

  // Resolves once the transport can take more, at once if it can; rejects when the connection closes.
  writable(): Promise<void> {
    if (this.state === "closed") return Promise.reject(this.cause!);
    if (this.writableNow) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => { this.off("close", onClose); resolve(); };
      const onClose = (cause: WireError) => { this.off("drain", onDrain); reject(cause); };
      this.once("drain", onDrain);
      this.once("close", onClose);
    });
  }

  // Lifts admitOnly: from now on every type of the registry is delivered (a shell has logged in).
  admitAll(): void {
    this.admitted = null;
  }

  // Serves requests of `type`: the handler's result (or its promise's) is the reply body.
  handle<K extends RequestTypes<S>>(type: K, handler: (body: BodyOf<S, K>, context: { type: string; connection: Connection<S> }) => ReplyBodyOf<S, K> | Promise<ReplyBodyOf<S, K>>): this {
    if (this.messages.replyOf(type) === undefined) throw new WireError("BAD_ARGUMENT", `message type "${type}" is not a request type of the registry`, { messageType: type });
    this.handlers.set(type, handler as RequestHandler);
    return this;
  }

  // Sends a one-way message. Returns false when the transport is above its
  // high-water mark (the message is still sent): wait for writable() before more.
  // `raw`: the raw bytes of a type that takes them (messages.ts), written
  // behind the body as they are, not copied: they must not change until the
  // peer has them (an acknowledgement says so). A connection that closes may
  // still flush them, so bytes whose acknowledgement never came must not be
  // reused either.
  send<K extends keyof S & string>(type: K, body: BodyOf<S, K>, raw?: readonly Uint8Array[]): boolean {
    this.assertOpen(type);
    if (this.messages.replyOf(type) !== undefined) throw new WireError("BAD_ARGUMENT", `message type "${type}" is a request: use request()`, { messageType: type });
    this.assertValid(type, body);
    const badRaw = this.messages.validateRaw(type, raw === undefined ? null : rawLength(raw), "BAD_ARGUMENT");
    if (badRaw) throw badRaw;
    return this.write({ type, body }, raw);
  }

  // Sends a request and resolves with the body of its reply. Rejects with
  // TOO_MANY_REQUESTS at once when pendingRequestsMax are in flight, with
  // REQUEST_TIMEOUT after the timeout, with REMOTE_ERROR when the peer's
  // handler failed, and with the close cause if the connection closes first.
  request<K extends RequestTypes<S>>(type: K, body: BodyOf<S, K>, options: { timeoutMs?: number } = {}): Promise<ReplyBodyOf<S, K>> {
    try {
      this.assertOpen(type);
      const reply = this.messages.replyOf(type);
      if (reply === undefined) throw new WireError("BAD_ARGUMENT", `message type "${type}" is one-way: use send()`, { messageType: type });
      this.assertValid(type, body);
      if (this.pending.size >= this.limits.pendingMax) throw new WireError("TOO_MANY_REQUESTS", `${this.pending.size} requests are in flight on ${this.description}, the bound`, { messageType: type });
      const timeoutMs = positive("timeoutMs", options.timeoutMs, this.limits.requestMs);
      const id = this.nextRequestId++;
      return new Promise<ReplyBodyOf<S, K>>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new WireError("REQUEST_TIMEOUT", `request ${id} (${type}) had no reply within ${timeoutMs} ms`, { messageType: type }));
        }, timeoutMs);
        this.pending.set(id, { type, reply, resolve: resolve as (body: unknown) => void, reject, timer });
        this.write({ type, id, body });
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // Closes cleanly: tells the peer why, rejects pending requests with CLOSED.
  close(message = "closed by this end"): Promise<WireError> {
    this.shutDown(new WireError("CLOSED", message), { code: "CLOSED", message });
    return this.closed;
  }

  // From now on the transport reads into one arena, region after region,
  // rather than into a new buffer per read (no allocation, no garbage and no
  // stream machinery per read): the arena keeps the bytes of the frame being
  // read (FrameDecoder holds no more than one frame across reads), but a
  // delivered frame's bytes are overwritten once more than a frame has been
  // read after them. So only a connection none of whose handlers keeps a view
  // of a delivered frame (its raw bytes, a bin value) past its return may
  // read into an arena: one whose handlers copy what they keep. Asked after
  // the handshake, whose hellos are kept. False where the transport cannot
  // (nothing changes then).
  readIntoArena(): boolean {
    if (this.state !== "open" || this.transport.readIntoArena === undefined) return false;
    return this.transport.readIntoArena(FRAME_HEADER_BYTES + this.decoder.payloadBytesMax);
  }

  // Closes at once and drops whatever the transport has not written yet,
  // also after a close (which lets the transport flush): for a sender whose
  // raw bytes in flight are views of memory it gives up when the connection
  // is lost, so that no later write can put that memory's new contents on
  // the wire. The peer sees the stream end without a close frame.
  abort(message = "aborted by this end"): void {
    this.shutDown(new WireError("CLOSED", message), null);
    this.transport.destroy();
  }

  private assertOpen(type: string): void {
    if (this.state === "open") return;
    const why = this.state === "closed" ? `it closed: ${this.cause!.message}` : "its handshake has not completed";
    throw new WireError("NOT_OPEN", `cannot send "${type}" on ${this.description}: ${why}`, { messageType: type, cause: this.cause ?? undefined });
  }

  private assertValid(type: string, body: unknown): void {
    const invalid = this.messages.validate(type, body, "BAD_ARGUMENT");
    if (invalid) throw invalid;
  }

  private write(envelope: Envelope, raw?: readonly Uint8Array[]): boolean {
    this.writableNow = this.transport.write(this.encoder.encode(envelope, raw));
    return this.writableNow;
  }

  private drained(): void {
    this.writableNow = true;
    if (this.state === "open") this.emit("drain");
  }

  private receive(chunk: Uint8Array): void {
    if (this.state === "closed") return;
    this.silenceTimer?.refresh();
    try {
      this.decoder.push(chunk, (frame) => {
        this.dispatch(frame);
        return this.state !== "closed";
      });
    } catch (error) {
      if (error instanceof WireError) this.fail(error.code, error.message, error);
      else this.fail("PROTOCOL_VIOLATION", `a frame could not be handled: ${(error as Error).message}`, error);
    }
  }

  // Validates a frame in full, then hands it to the handshake or the application.
  private dispatch(frame: DecodedFrame): void {
    const badEnvelope = checkEnvelope(frame.value);
    if (badEnvelope) throw badEnvelope;
    const envelope = frame.value as Envelope;
    const registry = envelope.type.startsWith("wire.") ? protocolMessages : this.messages;
    const badBody = registry.validate(envelope.type, envelope.body);
    if (badBody) throw badBody;
    const badRaw = registry.validateRaw(envelope.type, frame.raw === null ? null : rawLength(frame.raw));
    if (badRaw) throw badRaw;
    if (registry === protocolMessages) this.protocolFrame(envelope, frame.payload);
    else if (this.state !== "open") throw new WireError("UNAUTHENTICATED", `peer sent "${envelope.type}" before proving it holds the site key`, { messageType: envelope.type });
    else this.applicationFrame(envelope, frame.raw);
  }

  private protocolFrame(envelope: Envelope, payload: Uint8Array): void {
    if (envelope.type !== "wire.error" && (envelope.id !== undefined || envelope.reply_to !== undefined)) {
      throw new WireError("PROTOCOL_VIOLATION", `peer sent "${envelope.type}" as a request or a reply`, { messageType: envelope.type });
    }
    if (envelope.type === "wire.close") {
      const reason = envelope.body as ReasonBody;
      this.shutDown(new WireError("PEER_CLOSED", `peer closed the connection: ${reason.code}: ${reason.message}`, { remoteCode: reason.code }), null);
    } else if (envelope.type === "wire.error") {
      this.reply(envelope, envelope.body);
    } else if (envelope.type === "wire.ping") {
      if (this.state !== "open") throw new WireError("UNAUTHENTICATED", "peer sent a heartbeat before proving it holds the site key");
    } else if (envelope.type === "wire.hello") {
      this.peerHello(envelope.body as HelloBody, payload);
    } else {
      this.peerProof(envelope.body as { mac: Uint8Array });
    }
  }

  private peerHello(hello: HelloBody, payload: Uint8Array): void {
    if (this.peerHelloPayload !== null) throw new WireError("PROTOCOL_VIOLATION", "peer sent a second hello");
    if (hello.version !== this.version) {
      throw new WireError("BAD_VERSION", `peer ${hello.node_id} speaks wire protocol version ${hello.version}; this node speaks version ${this.version}`);
    }
    this.peerHelloPayload = payload;
    this.peer = { nodeId: hello.node_id, role: hello.role, version: hello.version };
    if (this.siteKey === null) return this.becomeOpen();
    const [dialerHello, acceptorHello] = this.hellosInOrder();
    this.write({ type: "wire.proof", body: { mac: proofOf(this.siteKey, this.side, dialerHello, acceptorHello) } });
  }

  private peerProof(proof: { mac: Uint8Array }): void {
    if (this.siteKey === null) throw new WireError("PROTOCOL_VIOLATION", "peer sent a site key proof on a connection whose handshake takes none");
    if (this.peerHelloPayload === null) throw new WireError("PROTOCOL_VIOLATION", "peer sent its proof before its hello");
    if (this.state === "open") throw new WireError("PROTOCOL_VIOLATION", "peer sent a second proof");
    const [dialerHello, acceptorHello] = this.hellosInOrder();
    const expected = proofOf(this.siteKey, this.side === "dialer" ? "acceptor" : "dialer", dialerHello, acceptorHello);
    if (!proofMatches(expected, proof.mac)) throw new WireError("AUTH_FAILED", `peer ${this.peer!.nodeId} (${this.peer!.role}) failed the site key challenge: it holds another key`);
    this.becomeOpen();
  }

  private hellosInOrder(): [Uint8Array, Uint8Array] {
    const peerHello = this.peerHelloPayload!;
    return this.side === "dialer" ? [this.ownHello.payload, peerHello] : [peerHello, this.ownHello.payload];
  }

  private becomeOpen(): void {
    this.state = "open";
    clearTimeout(this.handshakeTimer!);
    this.handshakeTimer = null;
    this.heartbeatTimer = setInterval(() => this.write({ type: "wire.ping", body: {} }), this.limits.heartbeatMs);
    this.silenceTimer = setTimeout(() => {
      this.fail("HEARTBEAT_TIMEOUT", `nothing heard from peer ${this.peer!.nodeId} for ${this.limits.silenceMs} ms`);
    }, this.limits.silenceMs);
    this.settleOpened.resolve(this.peer!);
    this.emit("open", this.peer);
  }

  // A one-way message's raw bytes (pieces, views of the received chunks, or
  // null) follow its body in the "message" event. The body's bin values are
  // valid only while the listeners run (codec.ts: the decoder reuses its
  // buffer for the next raw frame's head): a listener that keeps one copies it.
  private applicationFrame(envelope: Envelope, raw: readonly Uint8Array[] | null): void {
    if (this.admitted !== null && !this.admitted.has(envelope.type)) {
      throw new WireError("UNAUTHENTICATED", `peer sent "${envelope.type}" before logging in; only ${[...this.admitted].join(", ")} may come first`, { messageType: envelope.type });
    }
    if (envelope.reply_to !== undefined) this.reply(envelope, envelope.body);
    else if (envelope.id !== undefined) this.incomingRequest(envelope);
    else if (this.messages.replyOf(envelope.type) !== undefined) throw new WireError("PROTOCOL_VIOLATION", `peer sent request type "${envelope.type}" without a request id`, { messageType: envelope.type });
    else this.emit("message", envelope.type, envelope.body, raw);
  }

  private reply(envelope: Envelope, body: unknown): void {
    const id = envelope.reply_to;
    if (id === undefined) throw new WireError("PROTOCOL_VIOLATION", `peer sent "${envelope.type}" without reply_to`, { messageType: envelope.type });
    if (id >= this.nextRequestId) throw new WireError("PROTOCOL_VIOLATION", `peer replied to request ${id}, which was never sent`, { messageType: envelope.type });
    const request = this.pending.get(id);
    if (request === undefined) return; // it timed out; the late reply is dropped
    if (envelope.type !== request.reply && envelope.type !== "wire.error") {
      throw new WireError("PROTOCOL_VIOLATION", `peer answered request ${id} (${request.type}) with "${envelope.type}", not "${request.reply}"`, { messageType: envelope.type });
    }
    this.pending.delete(id);
    clearTimeout(request.timer);
    if (envelope.type === "wire.error") {
      const reason = body as ReasonBody;
      request.reject(new WireError("REMOTE_ERROR", `request ${id} (${request.type}) failed at peer: ${reason.code}: ${reason.message}`, { messageType: request.type, remoteCode: reason.code }));
    } else request.resolve(body);
  }

  private incomingRequest(envelope: Envelope): void {
    const id = envelope.id!;
    const type = envelope.type;
    const reply = this.messages.replyOf(type);
    if (reply === undefined) throw new WireError("PROTOCOL_VIOLATION", `peer sent one-way type "${type}" as a request`, { messageType: type });
    const handler = this.handlers.get(type);
    if (handler === undefined) return this.replyError(id, "NO_HANDLER", `this node serves no "${type}" requests`);
    if (this.incomingInFlight >= this.limits.pendingMax) return this.replyError(id, "TOO_MANY_REQUESTS", `${this.incomingInFlight} requests are in flight, the bound`);
    this.incomingInFlight++;
    Promise.resolve()
      .then(() => handler(envelope.body, { type, connection: this }))
      .then((result) => {
        const invalid = this.messages.validate(reply, result, "BAD_ARGUMENT");
        if (invalid) throw new WireError("BAD_REPLY", `the handler of "${type}" gave an invalid reply: ${invalid.message}`);
        if (this.state === "open") this.write({ type: reply, reply_to: id, body: result });
      })
      .catch((error: unknown) => {
        const code = typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : "HANDLER_FAILED";
        this.emit("handlerError", error, type);
        this.replyError(id, code, (error as Error)?.message ?? String(error));
      })
      .finally(() => { this.incomingInFlight--; });
  }

  private replyError(id: number, code: string, message: string): void {
    if (this.state !== "open") return;
    this.write({ type: "wire.error", reply_to: id, body: { code: code.slice(0, CODE_LENGTH_MAX), message: message.slice(0, REASON_LENGTH_MAX) } });
  }

  private transportEnded(error: Error | null): void {
    if (this.state === "closed") return;
    const during = this.state === "handshake" ? " during the handshake" : "";
    const how = error ? `: ${(error as NodeJS.ErrnoException).code ?? error.message}` : " without a close frame";
    const code: WireErrorCode = this.state === "handshake" && this.peerHelloPayload !== null ? "UNAUTHENTICATED" : "CONNECTION_LOST";
    this.shutDown(new WireError(code, `${this.description} ended${during}${how}`, { cause: error ?? undefined }), null);
  }

  // Closes because of something the peer did or did not do, telling it why.
  private fail(code: WireErrorCode, message: string, cause?: unknown): void {
    const error = cause instanceof WireError ? cause : new WireError(code, message, { cause });
    this.shutDown(error, { code, message: message.slice(0, REASON_LENGTH_MAX) });
  }

  // The one way to close: stops the timers, tells the peer (when `tell`),
  // ends the transport and settles everything with `cause`.
  private shutDown(cause: WireError, tell: ReasonBody | null): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.cause = cause;
    for (const timer of [this.handshakeTimer, this.silenceTimer]) if (timer) clearTimeout(timer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (tell) this.transport.write(this.encoder.encode({ type: "wire.close", body: tell }));
    this.transport.end(this.limits.lingerMs);
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(cause);
    }
    this.pending.clear();
    this.settleOpened.reject(cause);
    this.settleClosed(cause);
    this.emit("close", cause);
  }
}

