/**
 * The quota of inbound connections that have not proven their key yet
 * ("unproven"): TCP connections reading their HTTP request head, upgraded
 * sockets waiting for the handshake frame, and provisional connections
 * waiting for their first good frame.
 *
 * The quota is global (`maxUnproven`) and per source address
 * (`maxUnprovenPerAddress`), both well below `maxConns`, so unproven
 * connections can never fill the table. When a new connection would exceed
 * either cap, the one that has made the least progress (head before
 * handshake before provisional), and among those the one that entered its
 * phase first, is displaced: its TCP connection is dropped. A newcomer is
 * never refused for want of room, so an attacker holding slots cannot keep
 * a legitimate peer out; a peer that completes its handshake quickly moves
 * ahead of stalled connections and is displaced last.
 *
 * Source addresses are grouped as an attacker controls them: an IPv4
 * address alone, an IPv6 address by its /64 prefix.
 *
 * @module
 */

/** How far an unproven connection got: 0 head, 1 handshake, 2 provisional. */
export type AdmissionPhase = 0 | 1 | 2;

/** The request head is being read (own listener only). */
export const PHASE_HEAD: AdmissionPhase = 0;
/** Upgraded; waiting for the handshake frame. */
export const PHASE_HANDSHAKE: AdmissionPhase = 1;
/** Handshake answered; waiting for the first good frame. */
export const PHASE_PROVISIONAL: AdmissionPhase = 2;

type Timer = ReturnType<typeof setTimeout>;

/** Options of {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Most unproven connections at once. */
  maxUnproven: number;
  /** Most unproven connections at once from one source address group. */
  maxPerAddress: number;
  /** Called once per displaced connection (for the counters). */
  onEvict?: (ticket: AdmissionTicket) => void;
}

interface AddressEntry {
  count: number;
  phases: [Set<AdmissionTicket>, Set<AdmissionTicket>, Set<AdmissionTicket>];
}

function phaseSets(): AddressEntry["phases"] {
  return [new Set(), new Set(), new Set()];
}

/**
 * The source address group used for the per-address cap: the address
 * itself for IPv4 (an IPv4-mapped IPv6 address counts as IPv4), the first
 * four groups (/64) for IPv6.
 *
 * @param hostname The remote address as Deno reports it.
 * @returns The group key.
 */
export function addressGroup(hostname: string): string {
  let h = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  const zone = h.indexOf("%");
  if (zone >= 0) h = h.slice(0, zone);
  if (!h.includes(":")) return h;
  h = h.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped !== null) return mapped[1]!;
  const halves = h.split("::");
  const left = halves[0] === "" ? [] : halves[0]!.split(":");
  let groups = left;
  if (halves.length > 1) {
    const right = halves[1] === "" ? [] : halves[1]!.split(":");
    const zeros = Math.max(0, 8 - left.length - right.length);
    groups = [...left, ...new Array<string>(zeros).fill("0"), ...right];
  }
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":") +
    "::/64";
}

/** One unproven connection's place in the quota. */
export class AdmissionTicket {
  /** The source address group. */
  readonly address: string;
  #owner: Admission | undefined;
  #phase: AdmissionPhase;
  #evict: () => void;
  #timer: Timer | undefined;

  /** @internal Created by {@linkcode Admission.admit}. */
  constructor(
    owner: Admission,
    address: string,
    phase: AdmissionPhase,
    evict: () => void,
  ) {
    this.#owner = owner;
    this.address = address;
    this.#phase = phase;
    this.#evict = evict;
  }

  /** The current phase. */
  get phase(): AdmissionPhase {
    return this.#phase;
  }

  /** Whether the ticket still holds a place. */
  get held(): boolean {
    return this.#owner !== undefined;
  }

  /**
   * Replaces what displacing this connection does (e.g. once the TCP
   * connection has become a WebSocket).
   *
   * @param evict Drops the connection.
   */
  onEvict(evict: () => void): void {
    this.#evict = evict;
  }

  /**
   * Moves to a later phase (re-queued as the newest of that phase).
   *
   * @param phase The new phase.
   */
  advance(phase: AdmissionPhase): void {
    if (this.#owner === undefined || phase <= this.#phase) return;
    this.#owner._move(this, this.#phase, phase);
    this.#phase = phase;
  }

  /**
   * Arms a deadline for this phase: `onTimeout` runs unless the ticket is
   * released first.
   *
   * @param ms Milliseconds.
   * @param onTimeout What to do when it passes.
   */
  deadline(ms: number, onTimeout: () => void): void {
    clearTimeout(this.#timer);
    if (this.#owner === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#owner !== undefined) onTimeout();
    }, ms);
  }

  /** Gives the place back (the connection was proven or closed). Idempotent. */
  release(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const owner = this.#owner;
    if (owner === undefined) return;
    this.#owner = undefined;
    owner._remove(this, this.#phase);
  }

  /** @internal Displaces the connection. */
  _evict(): void {
    this.release();
    try {
      this.#evict();
    } catch {
      // already gone
    }
  }
}

/**
 * The unproven-connection quota (see the module docs).
 */
export class Admission {
  readonly #max: number;
  readonly #perAddress: number;
  readonly #onEvict: ((t: AdmissionTicket) => void) | undefined;
  readonly #phases = phaseSets();
  readonly #byAddress = new Map<string, AddressEntry>();
  #size = 0;

  /**
   * Creates an empty quota.
   *
   * @param options The caps and the eviction callback.
   */
  constructor(options: AdmissionOptions) {
    this.#max = options.maxUnproven;
    this.#perAddress = options.maxPerAddress;
    this.#onEvict = options.onEvict;
  }

  /** Unproven connections held now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Counts held tickets in a phase.
   *
   * @param phase The phase.
   * @returns The count.
   */
  count(phase: AdmissionPhase): number {
    return this.#phases[phase].size;
  }

  /**
   * Counts held tickets of an address group.
   *
   * @param address The group (see {@linkcode addressGroup}).
   * @returns The count.
   */
  countAddress(address: string): number {
    return this.#byAddress.get(address)?.count ?? 0;
  }

  /**
   * Takes a place for a new connection, displacing others when a cap is
   * exceeded (never the newcomer).
   *
   * @param hostname The remote address.
   * @param evict Drops the connection when it is displaced.
   * @param phase The phase it starts in.
   * @returns Its ticket.
   */
  admit(
    hostname: string,
    evict: () => void,
    phase: AdmissionPhase = PHASE_HEAD,
  ): AdmissionTicket {
    const address = addressGroup(hostname);
    const t = new AdmissionTicket(this, address, phase, evict);
    let entry = this.#byAddress.get(address);
    if (entry === undefined) {
      entry = { count: 0, phases: phaseSets() };
      this.#byAddress.set(address, entry);
    }
    entry.count++;
    entry.phases[phase].add(t);
    this.#phases[phase].add(t);
    this.#size++;
    while (entry.count > this.#perAddress) {
      if (!this.#displace(entry.phases, t)) break;
    }
    while (this.#size > this.#max) {
      if (!this.#displace(this.#phases, t)) break;
    }
    return t;
  }

  /**
   * Displaces one unproven connection (least advanced, oldest), e.g. to
   * free a descriptor when accepting fails for want of one.
   *
   * @returns Whether one was displaced.
   */
  shed(): boolean {
    return this.#displace(this.#phases, undefined);
  }

  #displace(
    phases: AddressEntry["phases"],
    keep: AdmissionTicket | undefined,
  ): boolean {
    for (const set of phases) {
      for (const victim of set) {
        if (victim === keep) continue;
        victim._evict();
        this.#onEvict?.(victim);
        return true;
      }
    }
    return false;
  }

  /** @internal */
  _move(t: AdmissionTicket, from: AdmissionPhase, to: AdmissionPhase): void {
    this.#phases[from].delete(t);
    this.#phases[to].add(t);
    const e = this.#byAddress.get(t.address);
    if (e !== undefined) {
      e.phases[from].delete(t);
      e.phases[to].add(t);
    }
  }

  /** @internal */
  _remove(t: AdmissionTicket, phase: AdmissionPhase): void {
    this.#phases[phase].delete(t);
    this.#size--;
    const e = this.#byAddress.get(t.address);
    if (e !== undefined) {
      e.phases[phase].delete(t);
      if (--e.count === 0) this.#byAddress.delete(t.address);
    }
  }
}
