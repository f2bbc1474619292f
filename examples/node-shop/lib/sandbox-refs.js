// SPDX-License-Identifier: MIT
// The sandbox's pay page is addressed by the gateway's reference (?ref=…),
// as a real gateway's is. The library has no lookup from a reference to its
// intent, so the shop remembers the pairs of the intents it created; like
// the sandbox's own record of payments, they live as long as the process.
'use strict';

const MAX = 10000;

class SandboxRefs {
  #intents = new Map(); // gateway_ref -> intent id, oldest first

  remember(intent) {
    this.#intents.set(intent.gateway_ref, intent.id);
    if (this.#intents.size > MAX) this.#intents.delete(this.#intents.keys().next().value);
  }

  intentId(ref) {
    return this.#intents.get(ref) ?? null;
  }
}

module.exports = { SandboxRefs };
