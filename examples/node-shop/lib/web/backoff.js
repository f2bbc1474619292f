// SPDX-License-Identifier: MIT
// Failed attempts per client address, and how long each client must wait
// before its next try: the first `free` failures cost nothing, each one
// after them doubles the wait from baseMs up to maxMs. Guessing a secret
// through a form then takes years instead of minutes.
'use strict';

class Backoff {
  #clients = new Map(); // client -> { failures, until }, least recently failed first
  #free;
  #baseMs;
  #maxMs;
  #maxClients;
  #now;

  /** maxClients bounds the memory whoever fails; now() is the clock (ms). */
  constructor({ free, baseMs, maxMs, maxClients = 10000, now = Date.now }) {
    this.#free = free;
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
    this.#maxClients = maxClients;
    this.#now = now;
  }

  /** Milliseconds `client` must still wait before trying again; 0: it may try now. */
  waitMs(client) {
    const entry = this.#entry(client);
    return entry ? Math.max(0, entry.until - this.#now()) : 0;
  }

  /** Counts a failure; returns the wait it earned (0 while failures are free). */
  failed(client) {
    const entry = this.#entry(client) ?? { failures: 0, until: 0 };
    entry.failures += 1;
    const over = entry.failures - this.#free;
    const wait = over > 0 ? Math.min(this.#maxMs, this.#baseMs * 2 ** (over - 1)) : 0;
    entry.until = this.#now() + wait;
    this.#clients.delete(client);
    this.#clients.set(client, entry);
    if (this.#clients.size > this.#maxClients) this.#clients.delete(this.#clients.keys().next().value);
    return wait;
  }

  succeeded(client) {
    this.#clients.delete(client);
  }

  // A client quiet for a whole longest wait after its last one starts afresh.
  #entry(client) {
    const entry = this.#clients.get(client);
    if (entry && this.#now() - entry.until > this.#maxMs) {
      this.#clients.delete(client);
      return null;
    }
    return entry ?? null;
  }
}

module.exports = { Backoff };
