// SPDX-License-Identifier: MIT
// The background worker that turns paid intents into orders, and the pause
// an operator needs for maintenance windows: paused, payments are still
// verified and queued, and orders are created once it resumes.
'use strict';

class WorkerControl {
  #p;
  #threads;
  #worker = null;
  #changing = Promise.resolve();

  constructor(p, threads) {
    this.#p = p;
    this.#threads = threads;
  }

  get running() {
    return this.#worker !== null;
  }

  get threads() {
    return this.#threads;
  }

  // Pause and resume take turns, so two clicks cannot start two workers;
  // one that failed does not block the next.
  #change(fn) {
    this.#changing = this.#changing.then(fn, fn);
    return this.#changing;
  }

  resume() {
    return this.#change(() => {
      if (!this.#worker) this.#worker = this.#p.workerStart({ threads: this.#threads, name: 'shop' });
    });
  }

  /** Resolves once the jobs the worker holds are finished. */
  pause() {
    return this.#change(async () => {
      const w = this.#worker;
      this.#worker = null;
      if (w) await w.stop();
    });
  }
}

module.exports = { WorkerControl };
