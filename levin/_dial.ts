/**
 * TCP dialling with a deadline and an abort signal (internal).
 *
 * @module
 */

import { LevinError } from "./errors.ts";

/** Options for {@linkcode dialTcp}. */
export interface DialOptions {
  /** Deadline in milliseconds. */
  timeout: number;
  /** Aborts the attempt. */
  signal?: AbortSignal | undefined;
}

/**
 * Opens a TCP connection.
 *
 * @param address Host and port.
 * @param options Deadline and abort signal.
 * @returns The connection.
 * @throws {LevinError} `timeout` or `aborted`; other connect errors unchanged.
 */
export async function dialTcp(
  address: { hostname: string; port: number },
  options: DialOptions,
): Promise<Deno.TcpConn> {
  const controller = new AbortController();
  const outer = options.signal;
  const onAbort = () => controller.abort();
  outer?.addEventListener("abort", onAbort, { once: true });
  if (outer?.aborted) controller.abort();
  const timer = setTimeout(() => controller.abort(), options.timeout);
  try {
    return await Deno.connect({
      hostname: address.hostname,
      port: address.port,
      transport: "tcp",
      signal: controller.signal,
    });
  } catch (e) {
    if (controller.signal.aborted) {
      throw outer?.aborted
        ? new LevinError("aborted", "Cannot connect: aborted", { cause: e })
        : new LevinError(
          "timeout",
          `Cannot connect: no connection within ${options.timeout} ms`,
          { cause: e },
        );
    }
    throw e;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
  }
}
