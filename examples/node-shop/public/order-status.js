// SPDX-License-Identifier: MIT
// Polls the order's status until it is final, then reloads: the page the
// server renders for a final stage is the one that names the order (or
// says why there is none). Gives up after a while rather than poll forever.
'use strict';

(() => {
  const root = document.getElementById('order-status');
  if (!root) return;
  const pollMs = Number(root.dataset.pollMs);
  const giveUpAt = Date.now() + Number(root.dataset.giveUpMs);

  function show(stage) {
    document.getElementById('stage').textContent = stage;
    for (const p of root.querySelectorAll('[data-stage]')) p.hidden = p.dataset.stage !== stage;
  }

  async function poll() {
    try {
      const res = await fetch(root.dataset.statusUrl, { cache: 'no-store' });
      if (res.ok) {
        const status = await res.json();
        if (status.final) {
          window.location.reload();
          return;
        }
        show(status.stage);
      }
    } catch {
      // The shop was unreachable for a moment: the next poll asks again.
    }
    if (Date.now() >= giveUpAt) {
      document.getElementById('slow').hidden = false;
      return;
    }
    setTimeout(poll, pollMs);
  }

  setTimeout(poll, pollMs);
})();
