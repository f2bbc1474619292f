// SPDX-License-Identifier: MIT
// Refreshes the metrics, the health badge and its findings on the jobs
// page, so an operator watching it sees the queue move without reloading.
'use strict';

(() => {
  const root = document.getElementById('live');
  if (!root) return;
  const EVERY_MS = 5000;

  const lookup = (obj, path) => path.split('.').reduce((o, k) => (o == null ? o : o[k]), obj);

  function render(data) {
    const m = data.metrics;
    for (const el of root.querySelectorAll('[data-metric]')) {
      const key = el.dataset.metric;
      el.textContent = key === 'finalize' ? `${m.finalize_p50_ms} / ${m.finalize_p95_ms}` : String(lookup(m, key));
    }
    const badge = document.getElementById('health');
    badge.textContent = data.health.level.toUpperCase();
    badge.dataset.level = data.health.level;
    badge.className = `badge badge-${data.health.level}`;
    const findings = document.getElementById('findings');
    findings.replaceChildren(...data.health.findings.map((f) => {
      const li = document.createElement('li');
      li.className = `finding-${f.level}`;
      li.textContent = f.message;
      return li;
    }));
    document.getElementById('worker-state').textContent = data.worker.running ? 'running' : 'paused';
  }

  async function refresh() {
    try {
      const res = await fetch(root.dataset.url, { cache: 'no-store', credentials: 'same-origin' });
      if (res.ok) render(await res.json());
    } catch {
      // Unreachable for a moment: the next refresh tries again.
    }
    setTimeout(refresh, EVERY_MS);
  }

  setTimeout(refresh, EVERY_MS);
})();
