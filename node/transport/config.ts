/**
 * Transport configuration with Go's defaults (node.md §4.1) and the limits
 * this implementation adds. Zero or missing values take the default;
 * nonsense is a `RangeError`.
 *
 * @module
 */

/** Transport configuration. Times are in milliseconds. */
export interface TransportConfig {
  /** `host:port` to listen on; `":9091"` listens on every interface; port 0 picks one. */
  listenAddr: string;
  /** HTTP path of the WebSocket endpoint, also used when dialling. */
  wsPath: string;
  /** PEM certificate file; TLS is on when both paths are set. */
  tlsCertPath: string;
  /** PEM private key file. */
  tlsKeyPath: string;
  /** Extra PEM root certificates trusted when dialling `wss://` (e.g. self-signed peers). */
  tlsCaCerts: readonly string[];
  /** Inbound admission limit: established + provisional + pending handshakes (503 beyond). */
  maxConns: number;
  /**
   * Largest WebSocket message in bytes (the whole SMSG frame), both ways.
   * Default 16 MiB (Go: 1 MiB), enough for a deploy of a ~11 MiB bundle.
   * Our listener and dialler check it at each frame header, before
   * buffering; until the handshake succeeds the limit is 64 KiB. (On the
   * `handleRequest` path Deno's server buffers a whole message, up to its
   * own 64 MiB cap, before this check runs.)
   */
  maxMessageSize: number;
  /**
   * Tell peers our `maxMessageSize` in the WebSocket upgrade (an
   * `X-Lthn-Max-Message-Size` header on the request and the 101 response;
   * Go ignores it). Off makes the upgrade byte-identical to Go's.
   */
  advertiseMaxMessageSize: boolean;
  /**
   * Frame limit assumed for peers that advertise none (Go nodes, older
   * nodes): Go's default of 1 MiB. Frames to such peers above it are
   * refused before sending. Raise it only for Go peers configured with a
   * larger `MaxMessageSize`.
   */
  unadvertisedPeerMaxMessageSize: number;
  /**
   * Keepalive period (Go: 30 s): a connection on which nothing was sent for
   * this long (or `heartbeatInterval`, if shorter) gets an encrypted ping.
   */
  pingInterval: number;
  /** Added to `pingInterval`: a peer silent (no good frame) for longer is dropped. */
  pongTimeout: number;
  /**
   * Heartbeat: an encrypted ping goes out on a connection on which nothing
   * was sent for this long (default 2 s), so a live peer is never silent
   * much longer, even while its handlers are busy; Go workers answer each
   * with a pong. Well within Go's limits (a data frame every 40 s at the
   * least, 50 messages a second at the most).
   */
  heartbeatInterval: number;
  /**
   * A connection with no good frame for this long is unhealthy (default
   * 5 s): still open (it is dropped after `pingInterval + pongTimeout`), but
   * fleet operations stop waiting for it.
   */
  unhealthyAfter: number;
  /** Requests in a row that time out before a connection is unhealthy (default 3). */
  unhealthyAfterMisses: number;
  /** Budget for the whole handshake, on both sides. */
  handshakeTimeout: number;
  /** Budget for TCP connect + TLS + HTTP upgrade when dialling. */
  dialTimeout: number;
  /** Budget for one send to drain below the high-water mark. */
  writeTimeout: number;
  /** How long a message ID is remembered (and the accepted `ts` skew either way). */
  dedupTtl: number;
  /** Most remembered message IDs per transport. */
  dedupMaxEntries: number;
  /** Interval of the dedup sweep. */
  dedupSweepInterval: number;
  /** Reject messages whose `ts` is further than `dedupTtl` from now (replay fix). */
  checkTimestamps: boolean;
  /** Token-bucket burst per connection (Go: 100). */
  rateLimitBurst: number;
  /** Tokens added per whole elapsed second (Go: 50). */
  rateLimitPerSecond: number;
  /** Turn the per-connection rate limiter off (benchmarks between our own nodes). */
  rateLimitDisabled: boolean;
  /** Most messages waiting for handlers per connection; more are dropped. */
  handlerQueueSize: number;
  /**
   * Most frame bytes waiting for handlers per connection; more are dropped
   * (one message is always admitted to an empty queue).
   */
  handlerQueueBytes: number;
  /** Most requests awaiting a reply per transport. */
  maxPendingRequests: number;
  /** Default timeout of {@linkcode Transport.request}. */
  requestTimeout: number;
  /** Outgoing bytes queued per connection before `send` waits for drain. */
  sendHighWaterMark: number;
  /** Reconnect to peers with an address after their connection drops. */
  reconnect: boolean;
  /** First reconnection delay; doubled per failed attempt. */
  reconnectInitialDelay: number;
  /** Largest reconnection delay. */
  reconnectMaxDelay: number;
  /** Give up after this many failed attempts (0: never). */
  reconnectMaxAttempts: number;
  /** Grace for in-flight disconnect messages and the HTTP server in `stop()`. */
  shutdownGrace: number;
  /**
   * Budget from accepting a TCP connection to answering its upgrade: the
   * TLS handshake and the whole HTTP request head (own listener only; Go
   * allows 10 s for the head).
   */
  upgradeTimeout: number;
  /** Largest HTTP request head in bytes; bigger ones get 431 (own listener only). */
  maxHeadBytes: number;
  /**
   * Most inbound connections at once that have not proven their key (in
   * their request head, waiting for the handshake, or provisional). Kept
   * below `maxConns`; beyond it the least advanced one is displaced.
   * Default: 32, or half of `maxConns` when that is smaller.
   */
  maxUnproven: number;
  /**
   * The same cap per source address (IPv4 address, IPv6 /64). Default: 8,
   * or `maxUnproven` when that is smaller.
   */
  maxUnprovenPerAddress: number;
  /**
   * How long a provisional inbound connection may go without a good frame
   * before it is dropped. Default: `pingInterval + pongTimeout`, the most a
   * Go peer's keepalive leaves between frames.
   */
  provisionalTimeout: number;
  /** Wait for the peer's answer to our close frame before dropping TCP. */
  closeTimeout: number;
  /**
   * Failed frames in a row (decrypt, parse, format, timestamp, replay, rate)
   * after which an established peer is disconnected; a provisional one is
   * disconnected at its first. A good frame starts the count again.
   */
  maxFailedFrames: number;
}

/** Go's defaults (except `maxMessageSize`: 16 MiB, Go 1 MiB) plus the defaults of the added limits. */
export const DEFAULT_TRANSPORT_CONFIG: Readonly<TransportConfig> = Object
  .freeze({
    listenAddr: ":9091",
    wsPath: "/ws",
    tlsCertPath: "",
    tlsKeyPath: "",
    tlsCaCerts: Object.freeze([]) as readonly string[],
    maxConns: 100,
    maxMessageSize: 16 * 1024 * 1024,
    advertiseMaxMessageSize: true,
    unadvertisedPeerMaxMessageSize: 1_048_576,
    pingInterval: 30_000,
    pongTimeout: 10_000,
    heartbeatInterval: 2_000,
    unhealthyAfter: 5_000,
    unhealthyAfterMisses: 3,
    handshakeTimeout: 10_000,
    dialTimeout: 10_000,
    writeTimeout: 10_000,
    dedupTtl: 300_000,
    dedupMaxEntries: 100_000,
    dedupSweepInterval: 60_000,
    checkTimestamps: true,
    rateLimitBurst: 100,
    rateLimitPerSecond: 50,
    rateLimitDisabled: false,
    handlerQueueSize: 1024,
    handlerQueueBytes: 32 * 1024 * 1024,
    maxPendingRequests: 10_000,
    requestTimeout: 30_000,
    sendHighWaterMark: 4 * 1024 * 1024,
    reconnect: true,
    reconnectInitialDelay: 1_000,
    reconnectMaxDelay: 60_000,
    reconnectMaxAttempts: 0,
    shutdownGrace: 5_000,
    upgradeTimeout: 5_000,
    maxHeadBytes: 8 * 1024,
    maxUnproven: 32,
    maxUnprovenPerAddress: 8,
    provisionalTimeout: 40_000,
    closeTimeout: 1_000,
    maxFailedFrames: 100,
  });

const NUMBER_LIMITS: { [K in keyof TransportConfig]?: [number, number] } = {
  maxConns: [1, 1_000_000],
  maxMessageSize: [1024, 64 * 1024 * 1024],
  unadvertisedPeerMaxMessageSize: [1024, 64 * 1024 * 1024],
  pingInterval: [1, 86_400_000],
  pongTimeout: [1, 86_400_000],
  heartbeatInterval: [1, 86_400_000],
  unhealthyAfter: [1, 86_400_000],
  unhealthyAfterMisses: [1, 1_000_000],
  handshakeTimeout: [1, 3_600_000],
  dialTimeout: [1, 3_600_000],
  writeTimeout: [1, 3_600_000],
  dedupTtl: [1, 86_400_000],
  dedupMaxEntries: [1, 100_000_000],
  dedupSweepInterval: [1, 86_400_000],
  rateLimitBurst: [1, 1_000_000_000],
  rateLimitPerSecond: [1, 1_000_000_000],
  handlerQueueSize: [1, 10_000_000],
  handlerQueueBytes: [1024, 64 * 1024 * 1024 * 1024],
  maxPendingRequests: [1, 100_000_000],
  requestTimeout: [1, 86_400_000],
  sendHighWaterMark: [1024, 1024 * 1024 * 1024],
  reconnectInitialDelay: [1, 86_400_000],
  reconnectMaxDelay: [1, 86_400_000],
  reconnectMaxAttempts: [0, 1_000_000_000],
  shutdownGrace: [0, 3_600_000],
  upgradeTimeout: [1, 3_600_000],
  maxHeadBytes: [1024, 1024 * 1024],
  maxUnproven: [1, 1_000_000],
  maxUnprovenPerAddress: [1, 1_000_000],
  provisionalTimeout: [1, 86_400_000],
  closeTimeout: [1, 3_600_000],
  maxFailedFrames: [1, 1_000_000_000],
};

/**
 * Fills in defaults and validates a partial configuration. A zero, empty or
 * missing value takes the default (unlike Go, where zero values crash or
 * reject everything, node.md §13 item 20).
 *
 * @param config The caller's settings.
 * @returns The complete configuration.
 * @throws {RangeError} For negative, fractional, non-finite or out-of-range
 * numbers, a `wsPath` not starting with `/`, only one of the TLS paths, a
 * malformed `listenAddr`, `maxUnproven` above `maxConns` or
 * `maxUnprovenPerAddress` above `maxUnproven`.
 * @throws {TypeError} For values of the wrong type.
 *
 * @example Defaults and validation
 * ```ts
 * import { resolveTransportConfig } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const c = resolveTransportConfig({ listenAddr: "127.0.0.1:0", maxMessageSize: 0 });
 * assert.equal(c.maxMessageSize, 16 * 1024 * 1024);
 * assert.equal(c.wsPath, "/ws");
 * assert.throws(() => resolveTransportConfig({ maxConns: -1 }), RangeError);
 * ```
 */
export function resolveTransportConfig(
  config: Partial<TransportConfig> = {},
): TransportConfig {
  const out = { ...DEFAULT_TRANSPORT_CONFIG } as TransportConfig;
  for (const [key, value] of Object.entries(config)) {
    if (!(key in DEFAULT_TRANSPORT_CONFIG)) {
      throw new TypeError(`Invalid transport config: unknown field "${key}"`);
    }
    if (value === undefined) continue;
    const k = key as keyof TransportConfig;
    const def = DEFAULT_TRANSPORT_CONFIG[k];
    if (typeof def === "number") {
      if (typeof value !== "number") {
        throw new TypeError(
          `Invalid transport config: ${key} must be a number, got ${typeof value}`,
        );
      }
      if (value === 0) continue;
      const [min, max] = NUMBER_LIMITS[k] ?? [0, Number.MAX_SAFE_INTEGER];
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new RangeError(
          `Invalid transport config: ${key} must be an integer in [${min}, ${max}], got ${value}`,
        );
      }
      (out as unknown as Record<string, unknown>)[k] = value;
    } else if (typeof def === "string") {
      if (typeof value !== "string") {
        throw new TypeError(
          `Invalid transport config: ${key} must be a string, got ${typeof value}`,
        );
      }
      if (value === "") continue;
      (out as unknown as Record<string, unknown>)[k] = value;
    } else if (typeof def === "boolean") {
      if (typeof value !== "boolean") {
        throw new TypeError(
          `Invalid transport config: ${key} must be a boolean, got ${typeof value}`,
        );
      }
      (out as unknown as Record<string, unknown>)[k] = value;
    } else {
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        throw new TypeError(
          `Invalid transport config: ${key} must be an array of strings`,
        );
      }
      (out as unknown as Record<string, unknown>)[k] = Object.freeze([
        ...value,
      ]);
    }
  }
  if (!out.wsPath.startsWith("/")) {
    throw new RangeError(
      `Invalid transport config: wsPath must start with "/", got "${out.wsPath}"`,
    );
  }
  if ((out.tlsCertPath === "") !== (out.tlsKeyPath === "")) {
    throw new RangeError(
      "Invalid transport config: set both tlsCertPath and tlsKeyPath, or neither",
    );
  }
  parseListenAddr(out.listenAddr);
  const given = (k: keyof TransportConfig) =>
    config[k] !== undefined && config[k] !== 0;
  if (!given("maxUnproven")) {
    out.maxUnproven = Math.min(
      DEFAULT_TRANSPORT_CONFIG.maxUnproven,
      Math.max(1, Math.floor(out.maxConns / 2)),
    );
  } else if (out.maxUnproven > out.maxConns) {
    throw new RangeError(
      `Invalid transport config: maxUnproven (${out.maxUnproven}) must not exceed maxConns (${out.maxConns})`,
    );
  }
  if (!given("maxUnprovenPerAddress")) {
    out.maxUnprovenPerAddress = Math.min(
      DEFAULT_TRANSPORT_CONFIG.maxUnprovenPerAddress,
      out.maxUnproven,
    );
  } else if (out.maxUnprovenPerAddress > out.maxUnproven) {
    throw new RangeError(
      `Invalid transport config: maxUnprovenPerAddress (${out.maxUnprovenPerAddress}) must not exceed maxUnproven (${out.maxUnproven})`,
    );
  }
  if (!given("provisionalTimeout")) {
    out.provisionalTimeout = out.pingInterval + out.pongTimeout;
  }
  if (out.reconnectMaxDelay < out.reconnectInitialDelay) {
    out.reconnectMaxDelay = out.reconnectInitialDelay;
  }
  return out;
}

/** A parsed `host:port`. */
export interface HostPort {
  /** Host name or IP (IPv6 without brackets); `""` for every interface. */
  hostname: string;
  /** Port, 0 to let the OS pick. */
  port: number;
}

/**
 * Parses `host:port` (IPv6 in brackets, empty host for every interface).
 *
 * @param addr The address text.
 * @returns Host and port.
 * @throws {RangeError} When the text is not `host:port` with a valid port.
 *
 * @example Parsing addresses
 * ```ts
 * import { parseListenAddr } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseListenAddr(":9091"), { hostname: "", port: 9091 });
 * assert.deepEqual(parseListenAddr("[::1]:0"), { hostname: "::1", port: 0 });
 * ```
 */
export function parseListenAddr(addr: string): HostPort {
  const m = /^(?:\[([0-9A-Fa-f:.%a-zA-Z]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(
    addr,
  );
  if (m === null) {
    throw new RangeError(`Invalid address: expected host:port, got "${addr}"`);
  }
  const port = Number(m[3]);
  if (port > 65535) {
    throw new RangeError(`Invalid address: port out of range in "${addr}"`);
  }
  return { hostname: m[1] ?? m[2] ?? "", port };
}
