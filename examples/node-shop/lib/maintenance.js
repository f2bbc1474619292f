// SPDX-License-Identifier: MIT
// The pipeline's housekeeping on a timer: expire unpaid intents (releasing
// their stock), rescue jobs of crashed workers, ask the gateway about
// payments whose shopper never came back. Safe in every shop process at
// once: on PostgreSQL one of them runs each pass.
'use strict';

function start(p, everyMs, log) {
  // A pass that outlasts the interval is not overtaken by the next one.
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const r = await p.maintenanceRun();
      if (r.intents_expired || r.jobs_rescued || r.reconcile_scheduled) {
        log(`maintenance: intents expired ${r.intents_expired}, jobs rescued ${r.jobs_rescued}, ` +
          `payments to reconcile ${r.reconcile_scheduled}`);
      }
    } catch (err) {
      log(`maintenance failed: ${err.code ?? err.name}: ${err.message}`);
    } finally {
      running = false;
    }
  }, everyMs);
  return () => clearInterval(timer);
}

module.exports = { start };
