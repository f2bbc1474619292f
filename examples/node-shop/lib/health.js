// SPDX-License-Identifier: MIT
// The health thresholds, stated once: the library judges the metrics with
// them, and the admin page and /healthz show them next to the verdict.
'use strict';

// The old system's audit: more than 5 stuck jobs is critical, more than 10
// failed in an hour or order creation slower than 10 s a warning.
const THRESHOLDS = { stuckCritical: 5, failedHourWarning: 10, finalizeP95WarningMs: 10000 };

const DESCRIPTIONS = [
  `critical: more than ${THRESHOLDS.stuckCritical} jobs stuck past their lease, or any order without items`,
  `warning: more than ${THRESHOLDS.failedHourWarning} jobs failed in the last hour, ` +
    `order creation p95 over ${THRESHOLDS.finalizeP95WarningMs} ms, or a payment to refund`,
  'info: a job was rescued from a lapsed lease in the last hour',
];

function check(p) {
  return p.health(THRESHOLDS);
}

module.exports = { THRESHOLDS, DESCRIPTIONS, check };
